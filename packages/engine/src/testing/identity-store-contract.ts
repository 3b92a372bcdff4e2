import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentCertRecord, IdentityStore, JoinTokenRecord } from '../identity-ports';

const T0 = 1_800_000_000_000;

const token = (id: string, over: Partial<JoinTokenRecord> = {}): JoinTokenRecord => ({
  id,
  secretHash: `hash-${id}`,
  cluster: null,
  serverId: null,
  createdBy: 'alice',
  createdFrom: '127.0.0.1',
  createdAt: T0,
  expiresAt: T0 + 3600_000,
  usedAt: null,
  usedBy: null,
  ...over,
});

const cert = (serial: string, serverId: string, over: Partial<AgentCertRecord> = {}): AgentCertRecord => ({
  serial,
  serverId,
  cluster: null,
  role: null,
  issuedAt: T0,
  notAfter: T0 + 86_400_000,
  via: 'enrol',
  revokedAt: null,
  revokedBy: null,
  ...over,
});

/** The behaviour every IdentityStore must have (memory in the engine's tests, PostgreSQL in @rollgate/db). */
export function describeIdentityStoreContract(
  name: string,
  make: () => Promise<{ store: IdentityStore; cleanup: () => Promise<void> }>,
): void {
  describe(`IdentityStore contract: ${name}`, () => {
    let store: IdentityStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('keeps a join token and consumes it once, before its expiry only', async () => {
      await store.createJoinToken(token('aaaaaaaaaaaaaaaa', { cluster: 'demo' }));
      await store.createJoinToken(token('bbbbbbbbbbbbbbbb'));
      expect(await store.getJoinToken('aaaaaaaaaaaaaaaa')).toEqual(
        token('aaaaaaaaaaaaaaaa', { cluster: 'demo' }),
      );
      expect(await store.consumeJoinToken('cccccccccccccccc', T0, 'web-1')).toEqual({
        ok: false,
        reason: 'unknown',
      });
      const first = await store.consumeJoinToken('aaaaaaaaaaaaaaaa', T0 + 1, 'web-1');
      expect(first).toEqual({
        ok: true,
        token: token('aaaaaaaaaaaaaaaa', { cluster: 'demo', usedAt: T0 + 1, usedBy: 'web-1' }),
      });
      expect(await store.consumeJoinToken('aaaaaaaaaaaaaaaa', T0 + 2, 'web-2')).toEqual({
        ok: false,
        reason: 'used',
      });
      expect(await store.consumeJoinToken('bbbbbbbbbbbbbbbb', T0 + 3600_000, 'web-1')).toEqual({
        ok: false,
        reason: 'expired',
      });
      expect((await store.getJoinToken('bbbbbbbbbbbbbbbb'))?.usedAt).toBeNull();
    });

    it('issue 17 item 3: records an enrolment only while the server has no live certificate', async () => {
      expect(await store.recordEnrolment(cert('e1', 'web-9', { cluster: 'demo' }), T0)).toBeNull();
      // Live (not revoked, not expired): a second enrolment of the id is refused, twice at once too.
      const both = await Promise.all([
        store.recordEnrolment(cert('e2', 'web-9', { cluster: 'demo' }), T0 + 1),
        store.recordEnrolment(cert('e3', 'web-9', { cluster: 'demo' }), T0 + 1),
      ]);
      expect(both.map((b) => b?.serial)).toEqual(['e1', 'e1']);
      expect(await store.getCertificate('e2')).toBeNull();
      // Expired: enrolling again is allowed; so is it after a revocation.
      expect(await store.recordEnrolment(cert('e4', 'web-9', { notAfter: T0 + 2e8 }), T0 + 1e8)).toBeNull();
      await store.revokeServer('web-9', T0 + 1e8, 'alice');
      expect(await store.recordEnrolment(cert('e5', 'web-9'), T0 + 1e8)).toBeNull();
    });

    it("issue 17 item 3: pins a certificate's cluster and role once", async () => {
      await store.recordCertificate(cert('p1', 'web-8', { cluster: 'demo' }));
      expect(await store.pinIdentity('p1', 'other', 'web')).toMatchObject({ cluster: 'demo', role: 'web' });
      expect(await store.pinIdentity('p1', 'other', 'db')).toMatchObject({ cluster: 'demo', role: 'web' });
      expect(await store.pinIdentity('nope', 'demo', 'web')).toBeNull();
    });

    it('lets exactly one of two concurrent uses of a token win', async () => {
      await store.createJoinToken(token('dddddddddddddddd'));
      const results = await Promise.all([
        store.consumeJoinToken('dddddddddddddddd', T0, 'a-1'),
        store.consumeJoinToken('dddddddddddddddd', T0, 'a-2'),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
    });

    it('records certificates, revokes all of a server at once, lists newest first', async () => {
      await store.recordCertificate(cert('01', 'web-1'));
      await store.recordCertificate(
        cert('02', 'web-1', { issuedAt: T0 + 10, via: 'renew', cluster: 'demo' }),
      );
      await store.recordCertificate(cert('03', 'web-2'));
      expect(await store.getCertificate('02')).toEqual(
        cert('02', 'web-1', { issuedAt: T0 + 10, via: 'renew', cluster: 'demo' }),
      );
      expect(await store.getCertificate('99')).toBeNull();
      expect(await store.revokeServer('web-1', T0 + 20, 'alice')).toBe(2);
      expect(await store.revokeServer('web-1', T0 + 30, 'alice')).toBe(0);
      expect(
        (await store.listCertificates('web-1')).map((c) => [c.serial, c.revokedAt, c.revokedBy]),
      ).toEqual([
        ['02', T0 + 20, 'alice'],
        ['01', T0 + 20, 'alice'],
      ]);
      expect((await store.getCertificate('03'))?.revokedAt).toBeNull();
      // A certificate issued after the revocation (a new enrolment) is valid.
      await store.recordCertificate(cert('04', 'web-1', { issuedAt: T0 + 40 }));
      expect((await store.getCertificate('04'))?.revokedAt).toBeNull();
    });

    it('keeps the last transport of each server, read for the servers asked about', async () => {
      expect(await store.listTransports(['web-1'])).toEqual({});
      await store.setTransport('web-1', 'insecure', T0);
      await store.setTransport('web-2', 'mtls', T0);
      await store.setTransport('web-1', 'mtls', T0 + 1);
      expect(await store.listTransports(['web-1', 'web-2', 'web-3'])).toEqual({
        'web-1': 'mtls',
        'web-2': 'mtls',
      });
      expect(await store.listTransports(['web-2'])).toEqual({ 'web-2': 'mtls' });
      expect(await store.listTransports([])).toEqual({});
    });
  });
}
