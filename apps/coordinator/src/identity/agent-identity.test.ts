import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolmentProofPayload, parseJoinToken } from '@rollgate/domain';
import { createMemoryIdentityStore, type AuditEvent } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentCa, type AgentCa } from './agent-ca';
import { createAgentIdentity, IdentityError } from './agent-identity';

const HOUR = 3600_000;

function keyAndProof(serverId: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const nonce = randomBytes(16).toString('base64url');
  const signature = sign(
    'sha256',
    Buffer.from(enrolmentProofPayload({ serverId, publicKeyPem, nonce })),
    privateKey,
  ).toString('base64');
  return { publicKeyPem, nonce, signature };
}

describe('agent identity service', () => {
  let dir: string;
  let ca: AgentCa;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-identity-'));
    ca = await loadAgentCa({ dir: join(dir, 'ca') });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function make() {
    // The CA signs with the real clock: the service's clock starts there too.
    let t = Date.now();
    const audit: AuditEvent[] = [];
    const revoked: string[] = [];
    const store = createMemoryIdentityStore();
    const identity = createAgentIdentity({
      store,
      ca,
      audit: async (e) => void audit.push(e),
      log: createLogger({ name: 'test', level: 'silent' }),
      now: () => t,
      certLifetimeMs: HOUR,
      onRevoked: (id) => revoked.push(id),
    });
    return { identity, store, audit, revoked, advance: (ms: number) => (t += ms), now: () => t };
  }

  it('a join token enrols once: stored hashed, carries the CA pin, audited with who and from where', async () => {
    const { identity, store, audit } = make();
    const created = await identity.createJoinToken({ ttlMs: HOUR, cluster: 'demo' }, 'alice', '10.0.0.9');
    const token = parseJoinToken(created.token)!;
    expect(token.caFingerprint).toBe(ca.fingerprint);
    const stored = await store.getJoinToken(token.id);
    expect(JSON.stringify(stored)).not.toContain(token.secret);
    expect(audit.at(-1)).toMatchObject({
      actor: 'alice',
      action: 'agents.token-create',
      details: { from: '10.0.0.9' },
    });
    expect(JSON.stringify(audit)).not.toContain(token.secret);

    const answer = await identity.enrol(
      { serverId: 'web-1', tokenId: token.id, secret: token.secret, ...keyAndProof('web-1') },
      '10.0.0.5',
    );
    expect(new X509Certificate(answer.certPem).subject).toBe('CN=web-1');
    expect(audit.at(-1)).toMatchObject({
      action: 'agents.enrol',
      target: 'web-1',
      details: { from: '10.0.0.5', tokenCreatedBy: 'alice' },
    });

    const again = identity.enrol(
      { serverId: 'web-2', tokenId: token.id, secret: token.secret, ...keyAndProof('web-2') },
      '10.0.0.6',
    );
    await expect(again).rejects.toThrow(/already used/);
    expect(audit.at(-1)).toMatchObject({ action: 'agents.enrol-refused', details: { why: 'token used' } });
  });

  it('refuses an expired token, a wrong secret and a proof made with another key', async () => {
    const { identity, advance } = make();
    const t1 = parseJoinToken(
      (await identity.createJoinToken({ ttlMs: 1000, cluster: 'demo' }, 'alice', 'x')).token,
    )!;
    const t2 = parseJoinToken(
      (await identity.createJoinToken({ ttlMs: HOUR, cluster: 'demo' }, 'alice', 'x')).token,
    )!;
    advance(1000);
    await expect(
      identity.enrol({ serverId: 'a-1', tokenId: t1.id, secret: t1.secret, ...keyAndProof('a-1') }, 'x'),
    ).rejects.toThrow(/expired/);
    await expect(
      identity.enrol({ serverId: 'a-1', tokenId: t2.id, secret: t1.secret, ...keyAndProof('a-1') }, 'x'),
    ).rejects.toThrow(/not valid/);
    const wrongProof = { ...keyAndProof('a-1'), publicKeyPem: keyAndProof('a-1').publicKeyPem };
    await expect(
      identity.enrol({ serverId: 'a-1', tokenId: t2.id, secret: t2.secret, ...wrongProof }, 'x'),
    ).rejects.toThrow(/proof of possession/);
    // A proof made for another server id does not verify either.
    await expect(
      identity.enrol({ serverId: 'a-1', tokenId: t2.id, secret: t2.secret, ...keyAndProof('a-2') }, 'x'),
    ).rejects.toThrow(/proof/);
    await expect(
      identity.createJoinToken({ ttlMs: 8 * 24 * HOUR, cluster: 'demo' }, 'alice', 'x'),
    ).rejects.toBeInstanceOf(IdentityError);
  });

  it('issue 17 item 3: a token names its cluster; a live server id is not enrolled again until revoked', async () => {
    const { identity, audit } = make();
    await expect(identity.createJoinToken({ ttlMs: HOUR }, 'alice', 'x')).rejects.toThrow(/--cluster/);
    const tok = async (serverId?: string) =>
      parseJoinToken(
        (
          await identity.createJoinToken(
            { ttlMs: HOUR, cluster: 'demo', ...(serverId ? { serverId } : {}) },
            'alice',
            'x',
          )
        ).token,
      )!;
    const enrol = async (serverId: string, t: { id: string; secret: string }) =>
      identity.enrol({ serverId, tokenId: t.id, secret: t.secret, ...keyAndProof(serverId) }, 'x');
    await enrol('web-1', await tok());
    const spare = await tok();
    await expect(enrol('web-1', spare)).rejects.toThrow(/rollgate agents revoke web-1/);
    expect(audit.at(-1)).toMatchObject({
      action: 'agents.enrol-refused',
      details: { why: 'server id enrolled and live' },
    });
    // The refusal did not spend the token: after the revocation it enrols the replacement.
    await identity.revoke('web-1', 'alice', 'x');
    expect((await enrol('web-1', spare)).serial).toBeTruthy();
    // A token naming a server id enrols that id only.
    await expect(enrol('web-3', await tok('web-2'))).rejects.toThrow(/for server "web-2" only/);
  });

  it('checks Hello against the certificate; renews; revocation refuses Hello and renewal', async () => {
    const { identity, audit, revoked } = make();
    const tok = parseJoinToken(
      (await identity.createJoinToken({ ttlMs: HOUR, cluster: 'demo' }, 'alice', 'x')).token,
    )!;
    const answer = await identity.enrol(
      { serverId: 'web-1', tokenId: tok.id, secret: tok.secret, ...keyAndProof('web-1') },
      'x',
    );
    const peer = { commonName: 'web-1', serial: answer.serial.toUpperCase(), validTo: answer.notAfter };
    expect(await identity.checkPeer(peer, { agentId: 'web-1', cluster: 'demo', role: 'web' })).toBeNull();
    expect(await identity.checkPeer(peer, { agentId: 'web-2', cluster: 'demo', role: 'web' })).toMatch(
      /names server "web-1" but Hello says "web-2"/,
    );
    expect(await identity.checkPeer(peer, { agentId: 'web-1', cluster: 'other', role: 'web' })).toMatch(
      /pinned to cluster "demo"/,
    );
    expect(await identity.checkPeer(peer, { agentId: 'web-1', cluster: 'demo', role: 'db' })).toMatch(
      /pinned to role "web"/,
    );
    expect(await identity.checkPeer(null, { agentId: 'web-1', cluster: 'demo', role: 'web' })).toMatch(
      /mTLS only/,
    );

    const renewed = await identity.renew(peer, keyAndProof('web-1'), 'x');
    expect(renewed.serial).not.toBe(answer.serial);
    expect(audit.at(-1)).toMatchObject({ action: 'agents.renew', details: { previous: answer.serial } });

    expect(await identity.revoke('web-1', 'bob', '10.1.1.1')).toEqual({
      serverId: 'web-1',
      revokedCertificates: 2,
    });
    expect(revoked).toEqual(['web-1']);
    expect(audit.at(-1)).toMatchObject({
      actor: 'bob',
      action: 'agents.revoke',
      target: 'web-1',
      details: { from: '10.1.1.1' },
    });
    expect(await identity.checkPeer(peer, { agentId: 'web-1', cluster: 'demo', role: 'web' })).toMatch(
      /revoked/,
    );
    await expect(identity.renew(peer, keyAndProof('web-1'), 'x')).rejects.toThrow(/revoked/);
    expect(await identity.stillValid(renewed.serial)).toBe(false);
  });
});
