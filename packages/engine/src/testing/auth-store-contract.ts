import type { PortalTokenRecord, SessionRecord, UserRecord } from '@rollgate/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuthStore } from '../auth-ports';
import { StoreConflictError } from '../ports';

const T0 = 1_800_000_000_000;

const user = (id: string, username: string, over: Partial<UserRecord> = {}): UserRecord => ({
  id,
  username,
  role: 'operator',
  passwordHash: `scrypt$32768$8$1$salt-${id}$hash-${id}`,
  createdAt: T0,
  createdBy: 'bootstrap',
  disabledAt: null,
  ...over,
});

/** The behaviour every AuthStore must have (memory in the engine's tests, PostgreSQL in @rollgate/db). */
export function describeAuthStoreContract(
  name: string,
  make: () => Promise<{ store: AuthStore; cleanup: () => Promise<void> }>,
): void {
  describe(`AuthStore contract: ${name}`, () => {
    let store: AuthStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('keeps users by id and name, refuses a taken name, lists by name, updates role and disabling', async () => {
      expect(await store.countUsers()).toBe(0);
      await store.createUser(user('u2', 'zoe', { role: 'admin' }));
      await store.createUser(user('u1', 'alice'));
      await expect(store.createUser(user('u3', 'alice'))).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.countUsers()).toBe(2);
      expect(await store.getUserByName('alice')).toEqual(user('u1', 'alice'));
      expect(await store.getUser('u2')).toEqual(user('u2', 'zoe', { role: 'admin' }));
      expect(await store.getUserByName('bob')).toBeNull();
      expect((await store.listUsers()).map((u) => u.username)).toEqual(['alice', 'zoe']);
      await store.updateUser('u1', { role: 'viewer', disabledAt: T0 + 5 });
      expect(await store.getUser('u1')).toMatchObject({
        role: 'viewer',
        disabledAt: T0 + 5,
        username: 'alice',
      });
    });

    it('keeps sessions by token hash, deletes them one by one, per user, and when expired', async () => {
      await store.createUser(user('u1', 'alice'));
      const s = (h: string, expiresAt: number): SessionRecord => ({
        tokenHash: h,
        userId: 'u1',
        createdAt: T0,
        expiresAt,
        from: '10.0.0.1',
      });
      await store.createSession(s('h1', T0 + 10));
      await store.createSession(s('h2', T0 + 1000));
      await store.createSession(s('h3', T0 + 1000));
      expect(await store.getSession('h1')).toEqual(s('h1', T0 + 10));
      expect(await store.pruneSessions(T0 + 10)).toBe(1);
      expect(await store.getSession('h1')).toBeNull();
      await store.deleteSession('h2');
      expect(await store.getSession('h2')).toBeNull();
      await store.deleteSessionsOfUser('u1');
      expect(await store.getSession('h3')).toBeNull();
    });

    it('keeps portal tokens per run, newest first, and revokes them once', async () => {
      const t = (h: string, at: number): PortalTokenRecord => ({
        tokenHash: h,
        runId: 'r1',
        recipient: 'Ann Lee',
        createdBy: 'alice',
        createdAt: at,
        expiresAt: at + 3600_000,
        revokedAt: null,
      });
      await store.createPortalToken(t('p1', T0));
      await store.createPortalToken(t('p2', T0 + 1));
      expect((await store.listPortalTokens('r1')).map((x) => x.tokenHash)).toEqual(['p2', 'p1']);
      await store.revokePortalToken('p1', T0 + 5);
      await store.revokePortalToken('p1', T0 + 9);
      expect((await store.getPortalToken('p1'))?.revokedAt).toBe(T0 + 5);
      expect(await store.getPortalToken('nope')).toBeNull();
    });
  });
}
