import { z } from 'zod';
import { SAFE_NAME } from './fleet';

/** HAProxy names backends and servers with this alphabet. */
const HAPROXY_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * How Rollgate reaches the load balancer in front of a cluster.
 * - `haproxy-runtime`: the coordinator drives HAProxy's runtime API (drain takes effect at once,
 *   sessions are read from `show stat`); the agents' gates stay on as a second line.
 * - `gate-only`: the load balancer only polls each agent's gate (`GET /gate` or agent-check); the
 *   engine waits long enough for it to notice, from its check interval and fall/rise counts.
 */
export const lbConfigSchema = z
  .object({
    mode: z.enum(['haproxy-runtime', 'gate-only']),
    /** Where the HAProxy runtime API listens: a unix socket path, or host and port. */
    runtime: z
      .object({
        socketPath: z.string().min(1).max(512).optional(),
        host: z.string().min(1).max(255).optional(),
        port: z.number().int().min(1).max(65535).optional(),
      })
      .refine((r) => r.socketPath !== undefined || (r.host !== undefined && r.port !== undefined), {
        message: 'give the runtime API as socketPath, or as host and port',
      })
      .optional(),
    /** The HAProxy backend serving this cluster. */
    backend: z.string().regex(HAPROXY_NAME, 'backend must be an HAProxy name (letters, digits, . _ : -)'),
    /** HAProxy server name per agent id; an agent not listed is named by its id. */
    servers: z
      .record(
        z.string().regex(SAFE_NAME, 'keys are agent ids'),
        z.string().regex(HAPROXY_NAME, 'values are HAProxy server names'),
      )
      .default({}),
    /** The load balancer's health-check interval, ms; default 1000. */
    checkIntervalMs: z.number().int().min(100).max(600_000).default(1000),
    /** Failed checks before a server is marked down; default 2. */
    fall: z.number().int().min(1).max(100).default(2),
    /** Passed checks before a server is marked up; default 2. */
    rise: z.number().int().min(1).max(100).default(2),
    /** agent-check interval, ms, when HAProxy polls the agents' agent-check port; default none. */
    agentInterMs: z.number().int().min(100).max(600_000).optional(),
    /** The cluster's default drainage interval, s, for runs that do not set one; default 30. */
    drainageIntervalSec: z.number().int().min(0).max(3600).optional(),
    /** How long a re-admitted server may take to serve its first request before the run warns; default 30 s. */
    readmitTimeoutMs: z.number().int().min(0).max(3_600_000).default(30_000),
  })
  .refine((c) => c.mode !== 'haproxy-runtime' || c.runtime !== undefined, {
    message: 'mode haproxy-runtime needs runtime: { socketPath } or { host, port }',
    path: ['runtime'],
  });

export type LbConfig = z.infer<typeof lbConfigSchema>;
export type LbConfigInput = z.input<typeof lbConfigSchema>;

const BESIDE = '@beside';

/** The id a plan gives a server's second instance (a single-server rollout switches to it and back). */
export function besideId(serverId: string): string {
  return `${serverId}${BESIDE}`;
}

/** The server a second instance's id belongs to, or null for any other id. */
export function besideOwner(id: string): string | null {
  return id.endsWith(BESIDE) ? id.slice(0, -BESIDE.length) : null;
}

/** The HAProxy server name of an agent (its second instance's: the same with "-beside"). */
export function haproxyServerName(config: LbConfig, agentId: string): string {
  const owner = besideOwner(agentId);
  if (owner !== null) return `${config.servers[owner] ?? owner}-beside`;
  return config.servers[agentId] ?? agentId;
}
