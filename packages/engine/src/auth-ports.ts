import type { PortalTokenRecord, SessionRecord, UserRecord } from '@rollgate/domain';
import { StoreConflictError } from './ports';

/**
 * Accounts, sessions and portal links. Implemented by @rollgate/db for PostgreSQL and by
 * createMemoryAuthStore() for unit tests. Tokens are stored as their sha256 only.
 */
export interface AuthStore {
  countUsers(): Promise<number>;
  /** Throws StoreConflictError when the user name is taken. */
  createUser(user: UserRecord): Promise<void>;
  getUserByName(username: string): Promise<UserRecord | null>;
  getUser(id: string): Promise<UserRecord | null>;
  /** Sorted by user name. */
  listUsers(): Promise<UserRecord[]>;
  updateUser(
    id: string,
    patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabledAt'>>,
  ): Promise<void>;

  createSession(session: SessionRecord): Promise<void>;
  getSession(tokenHash: string): Promise<SessionRecord | null>;
  deleteSession(tokenHash: string): Promise<void>;
  deleteSessionsOfUser(userId: string): Promise<void>;
  /** Removes expired sessions; returns how many. */
  pruneSessions(now: number): Promise<number>;

  createPortalToken(token: PortalTokenRecord): Promise<void>;
  getPortalToken(tokenHash: string): Promise<PortalTokenRecord | null>;
  /** Newest first. */
  listPortalTokens(runId: string): Promise<PortalTokenRecord[]>;
  revokePortalToken(tokenHash: string, at: number): Promise<void>;
}

const clone = <T>(v: T): T => structuredClone(v);

/** An in-memory AuthStore for unit tests; the PostgreSQL one passes the same tests. */
export function createMemoryAuthStore(): AuthStore {
  const users = new Map<string, UserRecord>();
  const sessions = new Map<string, SessionRecord>();
  const portal = new Map<string, PortalTokenRecord>();
  return {
    async countUsers() {
      return users.size;
    },
    async createUser(user) {
      if ([...users.values()].some((u) => u.username === user.username)) {
        throw new StoreConflictError(`User "${user.username}" already exists.`);
      }
      users.set(user.id, clone(user));
    },
    async getUserByName(username) {
      const u = [...users.values()].find((x) => x.username === username);
      return u ? clone(u) : null;
    },
    async getUser(id) {
      const u = users.get(id);
      return u ? clone(u) : null;
    },
    async listUsers() {
      return clone([...users.values()].sort((a, b) => a.username.localeCompare(b.username)));
    },
    async updateUser(id, patch) {
      const u = users.get(id);
      if (u) users.set(id, { ...u, ...clone(patch) });
    },
    async createSession(s) {
      sessions.set(s.tokenHash, clone(s));
    },
    async getSession(h) {
      const s = sessions.get(h);
      return s ? clone(s) : null;
    },
    async deleteSession(h) {
      sessions.delete(h);
    },
    async deleteSessionsOfUser(userId) {
      for (const [h, s] of sessions) if (s.userId === userId) sessions.delete(h);
    },
    async pruneSessions(now) {
      let n = 0;
      for (const [h, s] of sessions)
        if (s.expiresAt <= now) {
          sessions.delete(h);
          n++;
        }
      return n;
    },
    async createPortalToken(t) {
      portal.set(t.tokenHash, clone(t));
    },
    async getPortalToken(h) {
      const t = portal.get(h);
      return t ? clone(t) : null;
    },
    async listPortalTokens(runId) {
      return clone(
        [...portal.values()].filter((t) => t.runId === runId).sort((a, b) => b.createdAt - a.createdAt),
      );
    },
    async revokePortalToken(h, at) {
      const t = portal.get(h);
      if (t && t.revokedAt === null) portal.set(h, { ...t, revokedAt: at });
    },
  };
}
