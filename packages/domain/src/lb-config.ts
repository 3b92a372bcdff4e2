import { z } from 'zod';
import { SAFE_NAME } from './fleet';

/** HAProxy names backends and servers with this alphabet. */
const HAPROXY_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

/** Where one HAProxy's runtime API listens: a unix socket path, or host and port. */
export const lbRuntimeSchema = z
  .strictObject({
    socketPath: z.string().min(1).max(512).optional(),
    host: z.string().min(1).max(255).optional(),
    port: z.number().int().min(1).max(65535).optional(),
  })
  .refine((r) => r.socketPath !== undefined || (r.host !== undefined && r.port !== undefined), {
    message: 'give the runtime API as socketPath, or as host and port',
  });

export type LbRuntime = z.infer<typeof lbRuntimeSchema>;

/** One load balancer in front of the cluster (an HA pair has two). */
export const lbBalancerSchema = z.strictObject({
  /** How messages and the ledger name it (lb1, lb2...). */
  name: z.string().regex(SAFE_NAME, 'a balancer name is letters, digits, . _ - (at most 64)'),
  runtime: lbRuntimeSchema,
});

export type LbBalancer = z.infer<typeof lbBalancerSchema>;

/** A pool: one HAProxy backend, of the same name on every balancer. */
export const lbPoolSchema = z.strictObject({
  name: z.string().regex(HAPROXY_NAME, 'a pool name is an HAProxy name (letters, digits, . _ : -)'),
  backend: z.string().regex(HAPROXY_NAME, 'backend must be an HAProxy name (letters, digits, . _ : -)'),
  /** The roles whose agents it holds; absent: every role. */
  roles: z.array(z.string().regex(SAFE_NAME, 'roles are role names')).min(1).max(64).optional(),
  /** Only this managed service of those agents; absent: all of their services. */
  service: z.string().regex(SAFE_NAME, 'service is a managed service name').optional(),
  /** HAProxy server name per agent id; an agent not listed is named by its id. */
  servers: z
    .record(
      z.string().regex(SAFE_NAME, 'keys are agent ids'),
      z.string().regex(HAPROXY_NAME, 'values are HAProxy server names'),
    )
    .default({}),
});

export type LbPool = z.infer<typeof lbPoolSchema>;

const LEGACY_KEYS = ['runtime', 'backend', 'servers'] as const;

/**
 * The one-backend, one-balancer form stored before pools existed (`{ runtime, backend, servers }`)
 * becomes one balancer "lb" and one pool named after the backend that covers every agent. A
 * mixture of both forms is left alone, so the strict object names the legacy keys it refuses.
 */
function normaliseLegacy(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const o = input as Record<string, unknown>;
  if (!LEGACY_KEYS.some((k) => k in o) || 'balancers' in o || 'pools' in o) return input;
  const { runtime, backend, servers, ...rest } = o;
  return {
    ...rest,
    balancers: runtime === undefined ? [] : [{ name: 'lb', runtime }],
    pools:
      backend === undefined
        ? []
        : [{ name: backend, backend, ...(servers === undefined ? {} : { servers }) }],
  };
}

/** Optional numbers may also be stored as null (the documented form); both mean "not set". */
function optionalInt(min: number, max: number) {
  return z.preprocess((v) => (v === null ? undefined : v), z.number().int().min(min).max(max).optional());
}

const lbConfigObject = z
  .strictObject({
    mode: z.enum(['haproxy-runtime', 'gate-only']),
    /** Every load balancer in front of the cluster; none in gate-only mode. */
    balancers: z.array(lbBalancerSchema).max(16).default([]),
    /** The backends the cluster's agents serve in; none needed in gate-only mode. */
    pools: z.array(lbPoolSchema).max(256).default([]),
    /** The load balancer's health-check interval, ms; default 1000. */
    checkIntervalMs: z.number().int().min(100).max(600_000).default(1000),
    /** Failed checks before a server is marked down; default 2. */
    fall: z.number().int().min(1).max(100).default(2),
    /** Passed checks before a server is marked up; default 2. */
    rise: z.number().int().min(1).max(100).default(2),
    /** agent-check interval, ms, when HAProxy polls the agents' agent-check port; default none. */
    agentInterMs: optionalInt(100, 600_000),
    /** The cluster's default drainage interval, s, for runs that do not set one; default 30. */
    drainageIntervalSec: optionalInt(0, 3600),
    /** How long a re-admitted server may take to serve its first request before the run warns; default 30 s. */
    readmitTimeoutMs: z.number().int().min(0).max(3_600_000).default(30_000),
    /**
     * When a re-admitted server counts as back: `up` once every balancer reports it UP, `served`
     * once it also served a first request; default `up`.
     */
    readmitWait: z.enum(['up', 'served']).default('up'),
    /** Gate-only mode: a load balancer's stated reaction time, ms, instead of one derived from its checks. */
    reactionMs: optionalInt(0, 600_000),
  })
  .superRefine((c, ctx) => {
    if (c.mode === 'haproxy-runtime') {
      if (c.balancers.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['balancers'],
          message:
            'mode haproxy-runtime needs at least one balancer: { name, runtime: { socketPath } or { host, port } }',
        });
      if (c.pools.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['pools'],
          message: 'mode haproxy-runtime needs at least one pool: { name, backend }',
        });
    }
    for (const [key, list] of [
      ['balancers', c.balancers.map((b) => b.name)],
      ['pools', c.pools.map((p) => p.name)],
    ] as const) {
      const seen = new Set<string>();
      for (const name of list) {
        if (seen.has(name))
          ctx.addIssue({ code: 'custom', path: [key], message: `${key} names "${name}" twice` });
        seen.add(name);
      }
    }
    const addresses = new Map<string, string>();
    for (const b of c.balancers) {
      const at = runtimeAddress(b.runtime);
      const other = addresses.get(at);
      if (other !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['balancers'],
          message: `balancers "${other}" and "${b.name}" are the same runtime API (${at})`,
        });
      addresses.set(at, b.name);
    }
  });

/**
 * How Rollgate reaches the load balancers in front of a cluster.
 * - `haproxy-runtime`: the coordinator drives every balancer's HAProxy runtime API (drain takes
 *   effect at once, sessions are read from `show stat`); the agents' gates stay on as a second line.
 * - `gate-only`: the load balancers only poll each agent's gate (`GET /gate` or agent-check); the
 *   engine waits long enough for them to notice, from their check interval and fall/rise counts
 *   (or the stated `reactionMs`).
 *
 * Strict: an unknown key is refused with its name. The legacy `{ runtime, backend, servers }` form
 * is accepted and normalised (see normaliseLegacy).
 */
export const lbConfigSchema = z.preprocess(normaliseLegacy, lbConfigObject);

export type LbConfig = z.output<typeof lbConfigObject>;
export type LbConfigInput = z.input<typeof lbConfigObject>;

/**
 * A stored configuration in its current form: rows written before pools existed hold the legacy
 * shape, and are read through this (idempotent on the current form). Throws on what no schema
 * version ever stored.
 */
export function lbConfigOf(stored: unknown): LbConfig {
  return lbConfigSchema.parse(stored);
}

/** "unix:/path" or "tcp:host:port", for messages and duplicate checks. */
export function runtimeAddress(r: LbRuntime): string {
  return r.socketPath !== undefined ? `unix:${r.socketPath}` : `tcp:${r.host}:${r.port}`;
}

const BESIDE = '@beside';

/** The id a plan gives a server's second instance (a single-server rollout switches to it and back). */
export function besideId(serverId: string): string {
  return `${serverId}${BESIDE}`;
}

/** The server a second instance's id belongs to, or null for any other id. */
export function besideOwner(id: string): string | null {
  return id.endsWith(BESIDE) ? id.slice(0, -BESIDE.length) : null;
}

/** The HAProxy server name of an agent in a pool (its second instance's: the same with "-beside"). */
export function poolServerName(pool: Pick<LbPool, 'servers'>, agentId: string): string {
  const owner = besideOwner(agentId);
  if (owner !== null) return `${pool.servers[owner] ?? owner}-beside`;
  return pool.servers[agentId] ?? agentId;
}
