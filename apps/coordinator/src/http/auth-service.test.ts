import { describe, expect, it } from 'vitest';
import { createMemoryAuthStore } from '@rollgate/engine';
import { createAuthService, hashPassword, tokenHash, verifyPassword } from './auth-service';

const SECRET = 's'.repeat(43);

function setup() {
  let now = 1_800_000_000_000;
  const store = createMemoryAuthStore();
  let consumed = false;
  const auth = createAuthService({
    store,
    clock: { now: () => now },
    sessionTtlMs: 3600_000,
    loginLimit: 3,
    loginWindowMs: 60_000,
    bootstrapSecret: {
      path: '/data/bootstrap-secret',
      matches: async (c) => !consumed && c === SECRET,
      consume: async () => {
        consumed = true;
      },
    },
  });
  return { store, auth, advance: (ms: number) => (now += ms), consumed: () => consumed };
}

const PW = 'correct horse battery';

describe('passwords', () => {
  it('are hashed with scrypt and a salt; the hash verifies only the right password', async () => {
    const a = await hashPassword(PW);
    const b = await hashPassword(PW);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(PW);
    expect(await verifyPassword(PW, a)).toBe(true);
    expect(await verifyPassword('correct horse battery!', a)).toBe(false);
    expect(await verifyPassword(PW, 'md5$abc')).toBe(false);
  });
});

describe('auth service', () => {
  it('bootstraps the first administrator once, from loopback only', async () => {
    const { auth, store } = setup();
    await expect(auth.bootstrap('root', PW, '10.0.0.5', SECRET)).rejects.toThrow(/loopback/);
    await expect(auth.bootstrap('root', PW, '127.0.0.1')).rejects.toThrow(
      /needs the one-time bootstrap secret in \/data\/bootstrap-secret/,
    );
    await expect(auth.bootstrap('root', PW, '127.0.0.1', 'x'.repeat(43))).rejects.toThrow(/bootstrap secret/);
    const admin = await auth.bootstrap('Admin', PW, '127.0.0.1', SECRET);
    expect(admin).toMatchObject({ username: 'admin', role: 'admin' });
    expect(admin).not.toHaveProperty('passwordHash');
    await expect(auth.bootstrap('other', PW, '::1')).rejects.toThrow(/already exists/);
    expect(await store.countUsers()).toBe(1);
  });

  it('signs in with a bearer token stored as its hash, which expires and ends at logout', async () => {
    const { auth, store, advance } = setup();
    await auth.bootstrap('admin', PW, '127.0.0.1', SECRET);
    const { token, user, expiresAt } = await auth.login('admin', PW, '10.0.0.9');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await store.getSession(token)).toBeNull();
    expect(await store.getSession(tokenHash(token))).toMatchObject({
      userId: user.id,
      from: '10.0.0.9',
      expiresAt,
    });
    expect((await auth.authenticate(token))?.user.username).toBe('admin');
    advance(3600_001);
    expect(await auth.authenticate(token)).toBeNull();
    const again = await auth.login('admin', PW, '10.0.0.9');
    await auth.logout(again.token);
    expect(await auth.authenticate(again.token)).toBeNull();
  });

  it('says the same for a wrong name and a wrong password, and rate-limits failures per name and address', async () => {
    const { auth, advance } = setup();
    await auth.bootstrap('admin', PW, '127.0.0.1', SECRET);
    await expect(auth.login('nobody', PW, '10.0.0.1')).rejects.toThrow('Wrong user name or password.');
    await expect(auth.login('admin', 'wrong password!!', '10.0.0.1')).rejects.toThrow(
      'Wrong user name or password.',
    );
    await expect(auth.login('admin', 'wrong password!!', '10.0.0.1')).rejects.toThrow(
      'Wrong user name or password.',
    );
    await expect(auth.login('admin', 'wrong password!!', '10.0.0.1')).rejects.toThrow(
      /Too many failed sign-ins for "admin" from 10.0.0.1; try again in 60 s/,
    );
    // Locked: even the right password waits, from that address.
    await expect(auth.login('admin', PW, '10.0.0.1')).rejects.toThrow(/Too many failed sign-ins/);
    // Another address is not locked out by this one.
    expect((await auth.login('admin', PW, '10.0.0.2')).user.username).toBe('admin');
    advance(60_001);
    expect((await auth.login('admin', PW, '10.0.0.1')).user.username).toBe('admin');
  });

  it('only an administrator creates users; names and passwords are checked; disabling ends sessions', async () => {
    const { auth } = setup();
    const admin = await auth.bootstrap('admin', PW, '127.0.0.1', SECRET);
    const viewer = await auth.createUser(admin, 'vera', 'viewer', 'a long secret phrase 7');
    await expect(auth.createUser(viewer, 'x', 'admin', PW)).rejects.toThrow(/Only an administrator/);
    await expect(auth.createUser(admin, 'bad name', 'viewer', PW)).rejects.toThrow(/User name "bad name"/);
    await expect(auth.createUser(admin, 'olga', 'operator', 'short')).rejects.toThrow(
      /at least 12 characters/,
    );
    await expect(auth.createUser(admin, 'olga', 'operator', 'olga olga olga olga')).rejects.toThrow(
      /must not contain the user name/,
    );
    await expect(auth.createUser(admin, 'vera', 'viewer', PW)).rejects.toThrow(/already exists/);
    const { token } = await auth.login('vera', 'a long secret phrase 7', '10.0.0.3');
    await auth.disable(admin, 'vera');
    expect(await auth.authenticate(token)).toBeNull();
    await expect(auth.login('vera', 'a long secret phrase 7', '10.0.0.3')).rejects.toThrow(/disabled/);
    await expect(auth.setRole(admin, 'admin', 'viewer')).rejects.toThrow(/own administrator role/);
  });

  it('portal tokens open one run until they expire', async () => {
    const { auth, advance } = setup();
    const { token } = await auth.createPortalToken('r-1', 'Ann Lee', 3600_000, 'admin');
    expect(await auth.resolvePortal(token)).toEqual({ runId: 'r-1', recipient: 'Ann Lee' });
    expect(await auth.resolvePortal('nope')).toBeNull();
    advance(3600_000);
    expect(await auth.resolvePortal(token)).toBeNull();
  });
});

describe('issue 17 item 7: sign-in attempts are counted before the hash', () => {
  it(
    '30 concurrent wrong passwords: at most the budget is hashed, the rest are refused at once',
    { timeout: 60_000 },
    async () => {
      const { auth } = setup();
      await auth.bootstrap('admin', PW, '127.0.0.1', SECRET);
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, () => auth.login('admin', 'wrong password!!', '10.0.0.7')),
      );
      const messages = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'));
      // limit 3: two plain refusals, the third says the budget is spent; the other 27 never hashed.
      expect(messages.filter((m) => m === 'Wrong user name or password.')).toHaveLength(2);
      expect(messages.filter((m) => /Too many failed sign-ins/.test(m))).toHaveLength(28);
    },
  );

  it(
    'a successful sign-in gives its address count back, so many sign-ins from one address still work',
    { timeout: 60_000 },
    async () => {
      const { auth } = setup();
      await auth.bootstrap('admin', PW, '127.0.0.1', SECRET);
      // The address budget is 4 × 3 = 12 attempts: 14 successes pass it only if each gives its count back.
      for (let i = 0; i < 14; i++)
        expect((await auth.login('admin', PW, '10.0.0.8')).user.username).toBe('admin');
    },
  );
});
