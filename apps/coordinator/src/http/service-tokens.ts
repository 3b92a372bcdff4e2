// Service tokens for CI (issue 16 item 5, docs/adr/0031): a name, a role, an optional cluster,
// an expiry; `rgt_` and 256 random bits, stored as their sha256 only and shown once. Every use
// stamps the token's last use; auditedTokens writes the audit row of each call the API reports
// (packages/api tokens-router.ts).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  ApiError,
  MAX_LIVE_TOKENS,
  type ApiServices,
  SERVICE_TOKEN_PREFIX,
  type ServiceTokenScope,
  type ServiceTokenServices,
  type ServiceTokenView,
  type TokenCreateInput,
} from '@rollgate/api';
import type { UserView } from '@rollgate/domain';
import type { ServiceTokenRecord, ServiceTokenStore } from '@rollgate/db';
import type { AuditEvent, Clock } from '@rollgate/engine';

/** `rgt_` + 43 base64url characters (32 random bytes). */
const TOKEN_SHAPE = /^rgt_[A-Za-z0-9_-]{43}$/;

export const isServiceToken = (token: string) => token.startsWith(SERVICE_TOKEN_PREFIX);

export const newServiceToken = () => `${SERVICE_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

export function tokenState(t: ServiceTokenRecord, now: number): ServiceTokenView['state'] {
  if (t.revokedAt !== null) return 'revoked';
  return t.expiresAt <= now ? 'expired' : 'active';
}

export function toTokenView(t: ServiceTokenRecord, now: number): ServiceTokenView {
  return {
    name: t.name,
    role: t.role,
    cluster: t.cluster,
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
    lastUsedFrom: t.lastUsedFrom,
    state: tokenState(t, now),
  };
}

/** The account-shaped principal a token acts as; its user name is what the audit log shows. */
export function tokenPrincipal(t: ServiceTokenRecord): {
  kind: 'user';
  user: UserView;
  token: ServiceTokenScope;
} {
  return {
    kind: 'user',
    user: {
      id: `token:${t.id}`,
      username: `token:${t.name}`,
      role: t.role,
      createdAt: t.createdAt,
      createdBy: t.createdBy,
      disabledAt: null,
    },
    token: { id: t.id, name: t.name, cluster: t.cluster },
  };
}

/** Tokens in this process only, for unit tests; the coordinator keeps them in PostgreSQL. */
export function createMemoryServiceTokenStore(): ServiceTokenStore {
  const rows = new Map<string, ServiceTokenRecord>();
  return {
    async create(token) {
      if ([...rows.values()].some((r) => r.name === token.name && r.revokedAt === null)) {
        const err = new Error(`A service token named "${token.name}" exists.`);
        err.name = 'ServiceTokenNameTaken';
        throw err;
      }
      rows.set(token.id, { ...token });
    },
    async getByHash(h) {
      const r = [...rows.values()].find((x) => x.tokenHash === h);
      return r ? { ...r } : null;
    },
    async getLive(name) {
      const r = [...rows.values()].find((x) => x.name === name && x.revokedAt === null);
      return r ? { ...r } : null;
    },
    async list() {
      return [...rows.values()]
        .sort((a, b) => a.name.localeCompare(b.name) || a.createdAt - b.createdAt)
        .map((r) => ({ ...r }));
    },
    async countLive(now) {
      return [...rows.values()].filter((r) => r.revokedAt === null && r.expiresAt > now).length;
    },
    async revoke(id, at, by) {
      const r = rows.get(id);
      if (!r || r.revokedAt !== null) return false;
      rows.set(id, { ...r, revokedAt: at, revokedBy: by });
      return true;
    },
    async touch(id, at, from) {
      const r = rows.get(id);
      if (r) rows.set(id, { ...r, lastUsedAt: at, lastUsedFrom: from });
    },
  };
}

export interface ServiceTokensOptions {
  store: ServiceTokenStore;
  clock: Clock;
  /** How many unrevoked, unexpired tokens may exist; default MAX_LIVE_TOKENS (200). */
  maxLive?: number;
}

export function createServiceTokens(opts: ServiceTokensOptions) {
  const { store, clock } = opts;
  const maxLive = opts.maxLive ?? MAX_LIVE_TOKENS;

  const services: Omit<ServiceTokenServices, 'recordUse'> & {
    authenticate(token: string): Promise<ReturnType<typeof tokenPrincipal> | null>;
    /** Stamps the token's last use (when and from where). */
    touch(id: string, from: string): Promise<void>;
  } = {
    async create(input: TokenCreateInput, actor: string) {
      const now = clock.now();
      const existing = await store.getLive(input.name);
      if (existing) {
        throw new ApiError(
          'CONFLICT',
          `A service token named "${input.name}" exists (${tokenState(existing, now)}, expires ${new Date(existing.expiresAt).toISOString()}). Revoke it first (\`rollgate token revoke ${input.name}\`) or choose another name.`,
        );
      }
      if ((await store.countLive(now)) >= maxLive) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `There are ${maxLive} live service tokens, the most this coordinator keeps; revoke unused ones (\`rollgate token list\`, \`rollgate token revoke <name>\`).`,
        );
      }
      const token = newServiceToken();
      const record: ServiceTokenRecord = {
        id: randomUUID(),
        name: input.name,
        role: input.role,
        cluster: input.cluster ?? null,
        tokenHash: sha256(token),
        createdBy: actor,
        createdAt: now,
        expiresAt: now + input.expiresInSeconds * 1000,
        revokedAt: null,
        revokedBy: null,
        lastUsedAt: null,
        lastUsedFrom: null,
      };
      try {
        await store.create(record);
      } catch (err) {
        // Two administrators creating the same name at once: one wins.
        if (err instanceof Error && err.name === 'ServiceTokenNameTaken') {
          throw new ApiError(
            'CONFLICT',
            `A service token named "${input.name}" exists; choose another name.`,
          );
        }
        throw err;
      }
      return { token, view: toTokenView(record, now) };
    },

    async list() {
      const now = clock.now();
      return (await store.list()).map((t) => toTokenView(t, now));
    },

    async revoke(name: string, actor: string) {
      const live = await store.getLive(name);
      const now = clock.now();
      if (!live) {
        const revoked = (await store.list()).filter((t) => t.name === name).at(-1);
        if (revoked) return { view: toTokenView(revoked, now), changed: false };
        throw new ApiError(
          'NOT_FOUND',
          `No service token named "${name}"; list them with \`rollgate token list\`.`,
        );
      }
      const changed = await store.revoke(live.id, now, actor);
      return { view: toTokenView({ ...live, revokedAt: live.revokedAt ?? now }, now), changed };
    },

    async refusal(token: string) {
      const t = TOKEN_SHAPE.test(token) ? await store.getByHash(sha256(token)) : null;
      if (!t) {
        return 'This service token (ROLLGATE_TOKEN or --token) is not known to this coordinator: check that it was copied whole and is for this coordinator, or ask an administrator for one (`rollgate token create`).';
      }
      const state = tokenState(t, clock.now());
      if (state === 'revoked') {
        return `Service token "${t.name}" was revoked at ${new Date(t.revokedAt!).toISOString()}; ask an administrator for a new one (\`rollgate token create --name ${t.name} --role ${t.role}\`) and update the CI secret.`;
      }
      return `Service token "${t.name}" expired at ${new Date(t.expiresAt).toISOString()}; an administrator revokes it and creates a new one (\`rollgate token revoke ${t.name}\`, then \`rollgate token create --name ${t.name} --role ${t.role}\`), and the CI secret is updated.`;
    },

    /** The principal of a live token; null when unknown, revoked or expired. */
    async authenticate(token: string) {
      if (!TOKEN_SHAPE.test(token)) return null;
      const t = await store.getByHash(sha256(token));
      if (!t || tokenState(t, clock.now()) !== 'active') return null;
      return tokenPrincipal(t);
    },

    async touch(id: string, from: string) {
      await store.touch(id, clock.now(), from);
    },
  };
  return services;
}

export type ServiceTokens = ReturnType<typeof createServiceTokens>;

/**
 * Service tokens with their audit rows (create, revoke, every use), stamped by the coordinator's
 * clock: the router writes nothing itself.
 */
export function auditedTokens(
  tokens: ServiceTokens,
  audit: (event: Omit<AuditEvent, 'at'>) => Promise<void>,
): NonNullable<ApiServices['tokens']> {
  return {
    async create(input, actor) {
      const created = await tokens.create(input, actor);
      await audit({
        actor,
        action: 'token.create',
        target: input.name,
        details: {
          role: input.role,
          cluster: input.cluster ?? null,
          expiresAt: new Date(created.view.expiresAt).toISOString(),
        },
      });
      return created;
    },
    list: () => tokens.list(),
    async revoke(name, actor) {
      const revoked = await tokens.revoke(name, actor);
      if (revoked.changed) {
        await audit({
          actor,
          action: 'token.revoke',
          target: name,
          details: { role: revoked.view.role, cluster: revoked.view.cluster },
        });
      }
      return revoked;
    },
    refusal: (token) => tokens.refusal(token),
    async recordUse(scope, use) {
      await tokens.touch(scope.id, use.from);
      await audit({
        actor: use.actor,
        action: use.refusal ? 'token.refused' : 'token.use',
        target: scope.name,
        details: {
          procedure: use.procedure,
          from: use.from,
          ...(scope.cluster ? { scope: scope.cluster } : {}),
          ...(use.refusal ? { reason: use.refusal } : {}),
        },
      });
    },
  };
}
