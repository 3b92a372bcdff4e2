import { and, asc, count, eq, gt, isNull } from 'drizzle-orm';
import type { Role } from '@rollgate/domain';
import type { Db } from './create-db';
import { serviceTokens } from './service-tokens-schema';

/** A service token as stored: never the token, only its sha256 (docs/adr/0031). */
export interface ServiceTokenRecord {
  id: string;
  name: string;
  role: Role;
  /** The one cluster it may act on; null: every cluster. */
  cluster: string | null;
  tokenHash: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokedBy: string | null;
  lastUsedAt: number | null;
  lastUsedFrom: string | null;
}

/** Thrown by `create` when a live (unrevoked) token already has the name. */
export class ServiceTokenNameTaken extends Error {
  constructor(name: string) {
    super(`A service token named "${name}" exists.`);
    this.name = 'ServiceTokenNameTaken';
  }
}

/** Where service tokens are kept; the coordinator's service-tokens.ts has the in-memory twin. */
export interface ServiceTokenStore {
  /** Throws ServiceTokenNameTaken when a live token has the name. */
  create(token: ServiceTokenRecord): Promise<void>;
  getByHash(tokenHash: string): Promise<ServiceTokenRecord | null>;
  /** The unrevoked token of that name, if any. */
  getLive(name: string): Promise<ServiceTokenRecord | null>;
  /** Every token, revoked ones too, by name then creation. */
  list(): Promise<ServiceTokenRecord[]>;
  /** Unrevoked and unexpired tokens, for the bound on how many may exist. */
  countLive(now: number): Promise<number>;
  /** Revokes the token with this id unless it is revoked already; false then. */
  revoke(id: string, at: number, by: string): Promise<boolean>;
  touch(id: string, at: number, from: string): Promise<void>;
}

function pgCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = e.code ?? e.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

export function createPgServiceTokenStore(db: Db): ServiceTokenStore {
  return {
    async create(token) {
      try {
        await db.insert(serviceTokens).values(token);
      } catch (err) {
        if (pgCode(err) === '23505') throw new ServiceTokenNameTaken(token.name);
        throw err;
      }
    },
    async getByHash(tokenHash) {
      const [row] = await db.select().from(serviceTokens).where(eq(serviceTokens.tokenHash, tokenHash));
      return row ?? null;
    },
    async getLive(name) {
      const [row] = await db
        .select()
        .from(serviceTokens)
        .where(and(eq(serviceTokens.name, name), isNull(serviceTokens.revokedAt)));
      return row ?? null;
    },
    async list() {
      return db.select().from(serviceTokens).orderBy(asc(serviceTokens.name), asc(serviceTokens.createdAt));
    },
    async countLive(now) {
      const [row] = await db
        .select({ n: count() })
        .from(serviceTokens)
        .where(and(isNull(serviceTokens.revokedAt), gt(serviceTokens.expiresAt, now)));
      return Number(row?.n ?? 0);
    },
    async revoke(id, at, by) {
      const done = await db
        .update(serviceTokens)
        .set({ revokedAt: at, revokedBy: by })
        .where(and(eq(serviceTokens.id, id), isNull(serviceTokens.revokedAt)))
        .returning({ id: serviceTokens.id });
      return done.length > 0;
    },
    async touch(id, at, from) {
      await db
        .update(serviceTokens)
        .set({ lastUsedAt: at, lastUsedFrom: from })
        .where(eq(serviceTokens.id, id));
    },
  };
}
