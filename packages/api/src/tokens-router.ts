// Service tokens for CI (issue 16 item 5, docs/adr/0031): their inputs, what the API answers, the
// cluster scope every call of a scoped token is held to, and the audit row of every use.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { roleSchema, safeName, type Role } from '@rollgate/domain';
import type { ApiContext } from './api-services';

/** Tokens carry this prefix, so a leaked one is recognisable (secret scanners, logs). */
export const SERVICE_TOKEN_PREFIX = 'rgt_';

/** Default lifetime of a token when the creator names none: 30 days. */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 86_400;
/** The longest a token may live: 365 days (a forgotten token dies on its own). */
export const MAX_TOKEN_TTL_SECONDS = 365 * 86_400;
/** The shortest: 10 s (tests use it to see a token expire). */
export const MIN_TOKEN_TTL_SECONDS = 10;
/** How many unrevoked, unexpired tokens may exist at once. */
export const MAX_LIVE_TOKENS = 200;

export const tokenCreateInput = z.object({
  name: safeName('token name'),
  role: roleSchema,
  /** The only cluster the token may act on; absent: every cluster. */
  cluster: safeName('cluster name').optional(),
  expiresInSeconds: z
    .number()
    .int()
    .min(MIN_TOKEN_TTL_SECONDS, `a token lives at least ${MIN_TOKEN_TTL_SECONDS} s`)
    .max(MAX_TOKEN_TTL_SECONDS, 'a token lives at most 365 days: create a new one when it expires')
    .default(DEFAULT_TOKEN_TTL_SECONDS),
});
export type TokenCreateInput = z.infer<typeof tokenCreateInput>;
export const tokenRef = z.object({ name: safeName('token name') });

/** What a service token is scoped to, on the principal it authenticates. */
export interface ServiceTokenScope {
  id: string;
  name: string;
  /** null: every cluster. */
  cluster: string | null;
}

/** A token as administrators see it: never the token itself. */
export interface ServiceTokenView {
  name: string;
  role: Role;
  cluster: string | null;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
  lastUsedFrom: string | null;
  state: 'active' | 'expired' | 'revoked';
}

/** The coordinator's service-tokens.ts, as the router needs it. */
export interface ServiceTokenServices {
  /** The token's text is in this answer only: it is stored as its sha256. */
  create(input: TokenCreateInput, actor: string): Promise<{ token: string; view: ServiceTokenView }>;
  list(): Promise<ServiceTokenView[]>;
  /** `changed` is false when it was revoked already. */
  revoke(name: string, actor: string): Promise<{ view: ServiceTokenView; changed: boolean }>;
  /** Why a token authenticates nothing, written for the person running CI. */
  refusal(token: string): Promise<string>;
  /**
   * Stamps the token's last use (when and from where) and writes the audit row of the call,
   * allowed (`refusal` null) or refused.
   */
  recordUse(
    scope: ServiceTokenScope,
    use: { actor: string; from: string; procedure: string; refusal: string | null },
  ): Promise<void>;
}

/** What a call's input names that belongs to a cluster: the cluster itself, a run, a server. */
export interface ClusterReferences {
  cluster?: string;
  runId?: string;
  serverId?: string;
  /** Other ids (a portal link's, a subscription's, an action's): no cluster can be checked for them. */
  unchecked: string[];
}

/**
 * Ids a scoped token's call may carry: resolved to a cluster, a log cursor, or a portal link
 * (only ever looked up within the run the call names).
 */
const CHECKED_IDS = new Set(['runId', 'serverId', 'afterId', 'linkId']);

/**
 * Reads the raw (not yet validated) input of a call for everything in it that belongs to a
 * cluster. All of them count: inputs are not strict, so a key the procedure ignores must not
 * vouch for one it acts on (e.g. a scoped cluster beside another cluster's run).
 */
export function clusterReferences(raw: unknown): ClusterReferences {
  if (typeof raw !== 'object' || raw === null) return { unchecked: [] };
  const r = raw as Record<string, unknown>;
  return {
    ...(typeof r.cluster === 'string' ? { cluster: r.cluster } : {}),
    ...(typeof r.runId === 'string' ? { runId: r.runId } : {}),
    ...(typeof r.serverId === 'string' ? { serverId: r.serverId } : {}),
    unchecked: Object.keys(r).filter((k) => /^ids?$|Ids?$/.test(k) && !CHECKED_IDS.has(k)),
  };
}

/**
 * Procedures a cluster-scoped token may call without naming a cluster: they act on no cluster
 * (an edition is uploaded for an application, not a cluster) or only on the caller itself.
 */
export const CLUSTER_FREE_PROCEDURES: ReadonlySet<string> = new Set([
  'health',
  'auth.whoami',
  'editions.list',
  'editions.upload',
  'editions.uploadCheck',
  'editions.addFromUrl',
]);

/**
 * Holds a cluster-scoped token to its cluster and writes the audit row of every call a token
 * makes (allowed or refused). A call that names another cluster, or none where one is needed,
 * is refused with what to do.
 */
export async function enforceTokenScope(
  ctx: ApiContext,
  scope: ServiceTokenScope,
  path: string,
  raw: unknown,
): Promise<void> {
  const refusal = scope.cluster === null ? null : await scopeRefusal(ctx, scope, path, raw);
  await ctx.services.tokens?.recordUse(scope, { actor: ctx.actor, from: ctx.from, procedure: path, refusal });
  if (refusal) throw new TRPCError({ code: 'FORBIDDEN', message: refusal });
}

async function scopeRefusal(
  ctx: ApiContext,
  scope: ServiceTokenScope,
  path: string,
  raw: unknown,
): Promise<string | null> {
  const refs = clusterReferences(raw);
  if (refs.unchecked.length > 0)
    return `Service token "${scope.name}" may act on cluster "${scope.cluster}" only, and "${path}" names ${refs.unchecked.join(', ')}, which cannot be held to a cluster. Use a token without a cluster scope (or sign in) for it.`;
  // Every cluster the input names, directly or through a run or a server; an unknown run or
  // server names none (the procedure itself answers NOT_FOUND).
  const named: string[] = [];
  if (refs.cluster !== undefined) named.push(refs.cluster);
  if (refs.runId !== undefined) {
    const run = await ctx.services.queries.run(refs.runId);
    if (run) named.push(run.plan.cluster);
  }
  if (refs.serverId !== undefined) {
    const server = await ctx.services.queries.server(refs.serverId);
    if (server) named.push(server.cluster);
  }
  if (refs.cluster === undefined && refs.runId === undefined && refs.serverId === undefined) {
    if (CLUSTER_FREE_PROCEDURES.has(path)) return null;
    return `Service token "${scope.name}" may act on cluster "${scope.cluster}" only, and "${path}" names no cluster (it would read or act across clusters). Name the cluster or the run (e.g. --cluster ${scope.cluster}), or use a token without a cluster scope.`;
  }
  const other = named.find((c) => c !== scope.cluster);
  if (other === undefined) return null;
  return `Service token "${scope.name}" may act on cluster "${scope.cluster}" only; "${path}" acts on cluster "${other}". Use a token scoped to "${other}" (an administrator creates one: \`rollgate token create --name <name> --role <role> --cluster ${other}\`).`;
}

/** Token management is for a signed-in administrator: a token never mints or revokes tokens. */
function requireHumanAdmin(ctx: ApiContext): void {
  if (ctx.principal.kind === 'user' && ctx.principal.token) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message:
        'A service token cannot create, list or revoke service tokens; an administrator signs in (`rollgate login`) to do it.',
    });
  }
}

function tokenServices(ctx: ApiContext): ServiceTokenServices {
  if (!ctx.services.tokens) {
    throw new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: 'This coordinator was built without service tokens.',
    });
  }
  return ctx.services.tokens;
}

/** `tokens.create`: the answer carries the token once; the service's audit row names it, never its text. */
export async function createServiceToken(ctx: ApiContext, input: TokenCreateInput) {
  requireHumanAdmin(ctx);
  return tokenServices(ctx).create(input, ctx.actor);
}

export async function listServiceTokens(ctx: ApiContext): Promise<ServiceTokenView[]> {
  requireHumanAdmin(ctx);
  return tokenServices(ctx).list();
}

export async function revokeServiceToken(ctx: ApiContext, name: string): Promise<ServiceTokenView> {
  requireHumanAdmin(ctx);
  return (await tokenServices(ctx).revoke(name, ctx.actor)).view;
}
