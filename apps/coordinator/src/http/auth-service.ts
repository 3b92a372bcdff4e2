// Accounts, sessions and the customers' portal links. Passwords are hashed with scrypt from Node's
// crypto (memory-hard, maintained with Node itself; see docs/adr/0008); tokens are 256 random bits,
// stored as their sha256 only; failed sign-ins are rate limited per user name and address.
import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import {
  passwordSchema,
  roleAllows,
  usernameSchema,
  type PortalTokenRecord,
  type Role,
  type UserRecord,
  type UserView,
} from '@rollgate/domain';
import type { PortalLinkView } from '@rollgate/api';
import { ApiError } from '@rollgate/api';
import { StoreConflictError, type AuthStore, type Clock } from '@rollgate/engine';
import { createMemoryAttemptCounter, type AttemptCounter } from './rate-limit';

/**
 * A refusal with a message for the person signing in; an ApiError, so the router's one table
 * (packages/api/src/errors.ts) maps its code onto the tRPC/HTTP status.
 */
export class AuthError extends ApiError {
  constructor(
    override readonly code:
      'UNAUTHORIZED' | 'FORBIDDEN' | 'TOO_MANY_REQUESTS' | 'BAD_REQUEST' | 'CONFLICT' | 'NOT_FOUND',
    message: string,
  ) {
    super(code, message);
    this.name = 'AuthError';
  }
}

// OWASP's scrypt minimum (N=2^17 is better still, at 128 MiB a sign-in: too much for 2-core boxes
// under a login burst). r=8, p=1; 16-byte salt; 32-byte key.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 };

function scryptAsync(
  password: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
  keylen: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keylen, { N, r, p, maxmem: SCRYPT.maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keylen);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltB64, keyB64] = stored.split('$');
  if (scheme !== 'scrypt' || !saltB64 || !keyB64) return false;
  const expected = Buffer.from(keyB64, 'base64');
  const key = await scryptAsync(
    password,
    Buffer.from(saltB64, 'base64'),
    Number(n),
    Number(r),
    Number(p),
    expected.length,
  );
  return timingSafeEqual(key, expected);
}

/** A hash to compare against when the user does not exist, so timing does not tell names apart. */
let dummyHash: Promise<string> | undefined;

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');
/** A portal link's id: the start of its token's sha256, enough to tell a run's links apart. */
const portalLinkId = (hash: string) => hash.slice(0, 12);

function portalLinkView(t: PortalTokenRecord, now: number): PortalLinkView {
  return {
    id: portalLinkId(t.tokenHash),
    runId: t.runId,
    recipient: t.recipient,
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    state: t.revokedAt !== null ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active',
  };
}
const newToken = () => randomBytes(32).toString('base64url');

export function toView({ passwordHash: _drop, ...u }: UserRecord): UserView {
  return u;
}

const isLoopback = (addr: string) => addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';

export interface AuthServiceOptions {
  store: AuthStore;
  clock: Clock;
  /** How long a session lasts, ms; default 12 h (an upgrade window and then some). */
  sessionTtlMs?: number;
  /** Failed sign-ins allowed per user name and address in `loginWindowMs`; default 5. */
  loginLimit?: number;
  /** Default 300000 (5 min). */
  loginWindowMs?: number;
  /**
   * Where sign-in attempts are counted; default in this process only. The coordinator passes the
   * PostgreSQL counters, shared by every coordinator on the database.
   */
  attempts?: AttemptCounter;
  /**
   * The one-time secret `admin init` must present (a 0600 file in the data directory). Without it,
   * no first administrator can be created at all.
   */
  bootstrapSecret?: BootstrapSecretCheck;
}

/** What the auth service needs of the bootstrap secret (bootstrap-secret.ts). */
export interface BootstrapSecretCheck {
  /** Where the secret is, for the message that asks for it. */
  readonly path: string;
  matches(candidate: string): Promise<boolean>;
  /** Removes it: the first administrator exists. */
  consume(): Promise<void>;
}

export interface Principal {
  kind: 'user';
  user: UserView;
}

export function createAuthService(opts: AuthServiceOptions) {
  const { store, clock } = opts;
  const sessionTtlMs = opts.sessionTtlMs ?? 12 * 3600_000;
  const attempts = opts.attempts ?? createMemoryAttemptCounter();
  const limit = opts.loginLimit ?? 5;
  // Spraying many names from one address is limited too, more loosely.
  const addressLimit = limit * 4;
  const windowMs = opts.loginWindowMs ?? 300_000;
  let lastPrune = 0;
  let bootstrapping = false;

  function tooMany(ms: number, who: string): never {
    throw new AuthError(
      'TOO_MANY_REQUESTS',
      `Too many failed sign-ins for ${who}; try again in ${Math.ceil(ms / 1000)} s.`,
    );
  }

  async function newUser(
    username: string,
    role: Role,
    password: string,
    createdBy: string,
  ): Promise<UserView> {
    const name = usernameSchema.safeParse(username);
    if (!name.success)
      throw new AuthError('BAD_REQUEST', `User name "${username}": ${name.error.issues[0]?.message}.`);
    const pw = passwordSchema.safeParse(password);
    if (!pw.success) throw new AuthError('BAD_REQUEST', `Password: ${pw.error.issues[0]?.message}.`);
    if (password.toLowerCase().includes(name.data)) {
      throw new AuthError('BAD_REQUEST', 'Password: it must not contain the user name.');
    }
    const user: UserRecord = {
      id: randomUUID(),
      username: name.data,
      role,
      passwordHash: await hashPassword(password),
      createdAt: clock.now(),
      createdBy,
      disabledAt: null,
    };
    try {
      await store.createUser(user);
    } catch (err) {
      if (err instanceof StoreConflictError)
        throw new AuthError('CONFLICT', `User "${name.data}" already exists.`);
      throw err;
    }
    return toView(user);
  }

  return {
    /** The first administrator, only while there is no user at all, and only from this machine. */
    async bootstrap(username: string, password: string, from: string, secret?: string): Promise<UserView> {
      if (!isLoopback(from)) {
        throw new AuthError(
          'FORBIDDEN',
          "The first administrator can only be created from the coordinator's own machine (loopback).",
        );
      }
      if ((await store.countUsers()) > 0) {
        throw new AuthError(
          'CONFLICT',
          'An administrator already exists. Sign in (`rollgate login`) and create users with `rollgate users create`.',
        );
      }
      const check = opts.bootstrapSecret;
      if (!check || !secret || !(await check.matches(secret))) {
        throw new AuthError(
          'FORBIDDEN',
          check
            ? `The first administrator needs the one-time bootstrap secret in ${check.path} on the coordinator's machine: run \`rollgate admin init\` there (it reads the file), or pass --bootstrap-secret-file.`
            : 'This coordinator has no bootstrap secret; the first administrator cannot be created.',
        );
      }
      // One first administrator even when two calls hold the secret at once.
      if (bootstrapping) throw new AuthError('CONFLICT', 'The first administrator is being created.');
      bootstrapping = true;
      try {
        if ((await store.countUsers()) > 0) {
          throw new AuthError('CONFLICT', 'An administrator already exists.');
        }
        const user = await newUser(username, 'admin', password, `bootstrap from ${from}`);
        await check.consume();
        return user;
      } finally {
        bootstrapping = false;
      }
    },

    async login(
      username: string,
      password: string,
      from: string,
    ): Promise<{ token: string; user: UserView; expiresAt: number }> {
      const name = usernameSchema.safeParse(username);
      const key = `login:${name.success ? name.data : username.slice(0, 64)}|${from}`;
      const addressKey = `login-from:${from}`;
      const who = `"${username.slice(0, 64)}" from ${from}`;
      const now = clock.now();
      if (now - lastPrune > windowMs) {
        lastPrune = now;
        void attempts.prune(windowMs, now).catch(() => undefined);
      }
      // Counted before the hash: concurrent guesses each take one count, and none past the budget
      // costs a hash. The address is counted first; a locked address does not count its names.
      const byAddress = await attempts.hit(addressKey, windowMs, now);
      if (byAddress.count > addressLimit) tooMany(byAddress.resetAt - now, who);
      const byName = await attempts.hit(key, windowMs, now);
      if (byName.count > limit) tooMany(byName.resetAt - now, who);
      const user = name.success ? await store.getUserByName(name.data) : null;
      const ok = user
        ? await verifyPassword(password, user.passwordHash)
        : // Spend the same time as a real check so a wrong name and a wrong password look alike.
          (await verifyPassword(
            password,
            await (dummyHash ??= hashPassword(randomBytes(16).toString('hex'))),
          ),
          false);
      if (!user || !ok || user.disabledAt !== null) {
        // The last attempt of the budget says so at once, rather than one more 401 first.
        if (byName.count >= limit) tooMany(byName.resetAt - now, who);
        if (byAddress.count >= addressLimit) tooMany(byAddress.resetAt - now, who);
        throw new AuthError(
          'UNAUTHORIZED',
          user?.disabledAt
            ? 'This account is disabled; ask an administrator.'
            : 'Wrong user name or password.',
        );
      }
      // A success is not a guess: the name's count starts afresh and the address gets its count back.
      await attempts.reset(key);
      await attempts.refund(addressKey);
      const token = newToken();
      const expiresAt = now + sessionTtlMs;
      await store.createSession({
        tokenHash: tokenHash(token),
        userId: user.id,
        createdAt: now,
        expiresAt,
        from,
      });
      return { token, user: toView(user), expiresAt };
    },

    /** The signed-in user of a bearer token, or null (unknown, expired, disabled). */
    async authenticate(token: string): Promise<Principal | null> {
      if (!token || token.length > 200) return null;
      const s = await store.getSession(tokenHash(token));
      if (!s || s.expiresAt <= clock.now()) return null;
      const user = await store.getUser(s.userId);
      if (!user || user.disabledAt !== null) return null;
      return { kind: 'user', user: toView(user) };
    },

    async logout(token: string): Promise<void> {
      await store.deleteSession(tokenHash(token));
    },

    async createUser(actor: UserView, username: string, role: Role, password: string): Promise<UserView> {
      if (!roleAllows(actor.role, 'admin'))
        throw new AuthError('FORBIDDEN', 'Only an administrator can create users.');
      return newUser(username, role, password, actor.username);
    },

    async listUsers(): Promise<UserView[]> {
      return (await store.listUsers()).map(toView);
    },

    async setRole(actor: UserView, username: string, role: Role): Promise<UserView> {
      const u = await store.getUserByName(username);
      if (!u) throw new AuthError('NOT_FOUND', `No user "${username}".`);
      if (u.id === actor.id && role !== 'admin') {
        throw new AuthError(
          'BAD_REQUEST',
          'You cannot remove your own administrator role; ask another administrator.',
        );
      }
      await store.updateUser(u.id, { role });
      return toView({ ...u, role });
    },

    async disable(actor: UserView, username: string): Promise<UserView> {
      const u = await store.getUserByName(username);
      if (!u) throw new AuthError('NOT_FOUND', `No user "${username}".`);
      if (u.id === actor.id) throw new AuthError('BAD_REQUEST', 'You cannot disable your own account.');
      const at = clock.now();
      await store.updateUser(u.id, { disabledAt: at });
      await store.deleteSessionsOfUser(u.id);
      return toView({ ...u, disabledAt: at });
    },

    /** A link token for one run's customer portal; valid until `ttlMs` from now. */
    async createPortalToken(
      runId: string,
      recipient: string,
      ttlMs: number,
      actor: string,
    ): Promise<{ token: string; expiresAt: number; id: string }> {
      const token = newToken();
      const now = clock.now();
      const expiresAt = now + ttlMs;
      await store.createPortalToken({
        tokenHash: tokenHash(token),
        runId,
        recipient,
        createdBy: actor,
        createdAt: now,
        expiresAt,
        revokedAt: null,
      });
      return { token, expiresAt, id: portalLinkId(tokenHash(token)) };
    },

    /** The run a portal token opens, or null (unknown, expired, revoked). */
    async resolvePortal(token: string): Promise<{ runId: string; recipient: string } | null> {
      if (!token || token.length > 200) return null;
      const t = await store.getPortalToken(tokenHash(token));
      if (!t || t.revokedAt !== null || t.expiresAt <= clock.now()) return null;
      return { runId: t.runId, recipient: t.recipient };
    },

    /** Why a token opens nothing (for the customer's message), or null when it is unknown. */
    async portalRefusal(token: string): Promise<'revoked' | 'expired' | null> {
      if (!token || token.length > 200) return null;
      const t = await store.getPortalToken(tokenHash(token));
      if (!t) return null;
      if (t.revokedAt !== null) return 'revoked';
      return t.expiresAt <= clock.now() ? 'expired' : null;
    },

    /** A run's portal links, newest first, by id: the token itself is never kept. */
    async listPortalLinks(runId: string): Promise<PortalLinkView[]> {
      const now = clock.now();
      return (await store.listPortalTokens(runId)).map((t) => portalLinkView(t, now));
    },

    /** Revokes a run's link by id; `changed` is false when it was revoked already. */
    async revokePortalLink(
      runId: string,
      linkId: string,
    ): Promise<{ link: PortalLinkView; changed: boolean }> {
      const found = (await store.listPortalTokens(runId)).find((t) => portalLinkId(t.tokenHash) === linkId);
      if (!found) {
        throw new AuthError(
          'NOT_FOUND',
          `Run ${runId} has no portal link ${linkId}; list them with \`rollgate upgrade portal-link list ${runId}\`.`,
        );
      }
      const now = clock.now();
      if (found.revokedAt !== null) return { link: portalLinkView(found, now), changed: false };
      await store.revokePortalToken(found.tokenHash, now);
      const after = (await store.getPortalToken(found.tokenHash)) ?? { ...found, revokedAt: now };
      return { link: portalLinkView(after, now), changed: true };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
