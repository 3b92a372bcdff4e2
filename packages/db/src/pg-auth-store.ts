import { StoreConflictError, type AuthStore } from '@rollgate/engine';
import { and, asc, count, desc, eq, isNull, lte, sql } from 'drizzle-orm';
import type { Db } from './create-db';
import { loginAttempts, portalTokens, sessions, users } from './schema';

function pgCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = e.code ?? e.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Accounts, sessions and portal links on PostgreSQL (the same contract as createMemoryAuthStore). */
export function createPgAuthStore(db: Db): AuthStore {
  return {
    async countUsers() {
      const [row] = await db.select({ n: count() }).from(users);
      return Number(row?.n ?? 0);
    },
    async createUser(user) {
      try {
        await db.insert(users).values(user);
      } catch (err) {
        if (pgCode(err) === '23505') throw new StoreConflictError(`User "${user.username}" already exists.`);
        throw err;
      }
    },
    async getUserByName(username) {
      const [row] = await db.select().from(users).where(eq(users.username, username));
      return row ?? null;
    },
    async getUser(id) {
      const [row] = await db.select().from(users).where(eq(users.id, id));
      return row ?? null;
    },
    async listUsers() {
      return db.select().from(users).orderBy(asc(users.username));
    },
    async updateUser(id, patch) {
      if (Object.keys(patch).length === 0) return;
      await db.update(users).set(patch).where(eq(users.id, id));
    },
    async createSession(s) {
      await db.insert(sessions).values(s);
    },
    async getSession(tokenHash) {
      const [row] = await db.select().from(sessions).where(eq(sessions.tokenHash, tokenHash));
      return row ?? null;
    },
    async deleteSession(tokenHash) {
      await db.delete(sessions).where(eq(sessions.tokenHash, tokenHash));
    },
    async deleteSessionsOfUser(userId) {
      await db.delete(sessions).where(eq(sessions.userId, userId));
    },
    async pruneSessions(now) {
      const gone = await db
        .delete(sessions)
        .where(lte(sessions.expiresAt, now))
        .returning({ h: sessions.tokenHash });
      return gone.length;
    },
    async createPortalToken(t) {
      await db.insert(portalTokens).values(t);
    },
    async getPortalToken(tokenHash) {
      const [row] = await db.select().from(portalTokens).where(eq(portalTokens.tokenHash, tokenHash));
      return row ?? null;
    },
    async listPortalTokens(runId) {
      return db
        .select()
        .from(portalTokens)
        .where(eq(portalTokens.runId, runId))
        .orderBy(desc(portalTokens.createdAt));
    },
    async revokePortalToken(tokenHash, at) {
      await db
        .update(portalTokens)
        .set({ revokedAt: at })
        .where(and(eq(portalTokens.tokenHash, tokenHash), isNull(portalTokens.revokedAt)));
    },
  };
}

/**
 * Sign-in attempt counters on PostgreSQL: one row per key, a fixed window each. Every coordinator
 * on the database counts into the same rows, so N coordinators allow the budget of one. `hit` is
 * one atomic upsert: concurrent attempts each get their own count.
 */
export function createPgLoginAttempts(db: Db) {
  return {
    /** Counts one attempt for `key`; returns its count in the window and when the window ends. */
    async hit(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }> {
      const { rows } = await db.execute<{ window_start: string; count: number }>(sql`
        INSERT INTO login_attempts (key, window_start, count) VALUES (${key}, ${now}, 1)
        ON CONFLICT (key) DO UPDATE SET
          window_start = CASE WHEN login_attempts.window_start + ${windowMs} <= ${now}
            THEN ${now} ELSE login_attempts.window_start END,
          count = CASE WHEN login_attempts.window_start + ${windowMs} <= ${now}
            THEN 1 ELSE login_attempts.count + 1 END
        RETURNING window_start, count`);
      const row = rows[0]!;
      return { count: Number(row.count), resetAt: Number(row.window_start) + windowMs };
    },
    /** Takes one attempt back (a success is not a guess). */
    async refund(key: string): Promise<void> {
      await db
        .update(loginAttempts)
        .set({ count: sql`GREATEST(${loginAttempts.count} - 1, 0)` })
        .where(eq(loginAttempts.key, key));
    },
    async reset(key: string): Promise<void> {
      await db.delete(loginAttempts).where(eq(loginAttempts.key, key));
    },
    /** Removes windows that ended; returns how many. Bounds the table under a spray of names. */
    async prune(windowMs: number, now: number): Promise<number> {
      const gone = await db
        .delete(loginAttempts)
        .where(lte(loginAttempts.windowStart, now - windowMs))
        .returning({ k: loginAttempts.key });
      return gone.length;
    },
  };
}

export type PgLoginAttempts = ReturnType<typeof createPgLoginAttempts>;
