import { StoreConflictError, type AuthStore } from '@rollgate/engine';
import { and, asc, count, desc, eq, isNull, lte } from 'drizzle-orm';
import type { Db } from './create-db';
import { portalTokens, sessions, users } from './schema';

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
