// `rollgate lb haproxy-config` for a cluster of several pools or load balancers (issue 14 item 1,
// docs/adr/0027): one frontend and one backend per pool, the pools resolved against the agents the
// way the coordinator's fan-out resolves them (resolveLbTargets), so the backend and server names
// printed are the ones the runtime API calls will use. Printed for one balancer at a time: every
// balancer of a pair gets the same file, but for the header naming it and its own runtime API line.
import { resolveLbTargets, type LbConfig } from '@rollgate/domain';
import type { ServerRecord } from '@rollgate/engine';
import {
  renderHaproxyPools,
  type HaproxyBackendServer,
  type HaproxyPool,
  type RoutingMapFiles,
} from '@rollgate/lb';

/** What of `lb haproxy-config`'s input the pools rendering reads. */
export interface PoolsConfigInput {
  cluster: string;
  /** The balancer the file is for; default the first configured. */
  balancer?: string;
  /** Pool name → where its frontend listens ("address:port"). */
  binds: Record<string, string>;
  /** The frontend's bind when the cluster has one pool; default "*:80". */
  bind?: string;
  /** The one-backend form's --backend: refused here, where each pool names its own. */
  backend?: string;
  /** Overrides the balancer's configured runtime API with this unix socket. */
  socketPath?: string;
  health: 'service' | 'gate';
  checkIntervalMs?: number;
  slowstartMs?: number;
}

/** Refused input: what is wrong and what to do (the caller turns it into its API error). */
export class PoolsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolsConfigError';
  }
}

/** Whether the cluster's configuration needs the per-pool rendering (else the one-backend form stays). */
export function usesPools(config: LbConfig, balancer: string | undefined): boolean {
  if (balancer !== undefined || config.pools.length > 1 || config.balancers.length > 1) return true;
  // One pool of every role and service is the one-backend form of before: its output is kept.
  return config.pools.some((p) => p.roles !== undefined || p.service !== undefined);
}

/** host of a gate URL such as http://10.0.0.5:7070/gate, and its port (80 when it names none). */
export function gateAddress(gateUrl: string): { host: string; port: number } | null {
  try {
    const u = new URL(gateUrl);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
  } catch {
    return null;
  }
}

/**
 * The haproxy.cfg text for one balancer of the cluster. With `routing` (pool name → its map files,
 * `lb haproxy-config --routing`), each pool's frontend consults its own routing maps first.
 */
export function renderPoolsConfig(
  input: PoolsConfigInput,
  config: LbConfig,
  servers: readonly ServerRecord[],
  routing?: Record<string, RoutingMapFiles>,
): string {
  if (input.backend !== undefined)
    throw new PoolsConfigError(
      `Cluster "${input.cluster}" has pools, and each names its own backend (${config.pools.map((p) => `${p.name}: ${p.backend}`).join(', ')}); drop --backend, or rename a pool's backend with rollgate lb configure.`,
    );
  const names = config.balancers.map((b) => b.name);
  const balancer =
    input.balancer === undefined
      ? config.balancers[0]
      : config.balancers.find((b) => b.name === input.balancer);
  if (input.balancer !== undefined && !balancer)
    throw new PoolsConfigError(
      `Cluster "${input.cluster}" has no load balancer "${input.balancer}" (configured: ${names.join(', ') || 'none'}); name one of them with --balancer, or add it with rollgate lb configure --balancer ${input.balancer}=<socket or host:port>.`,
    );
  if (config.pools.length === 0)
    throw new PoolsConfigError(
      `Cluster "${input.cluster}" has no pool; configure them first: rollgate lb configure --cluster ${input.cluster} --pool <name>=<backend>,roles=<role> ...`,
    );
  const unknown = Object.keys(input.binds).filter((p) => !config.pools.some((x) => x.name === p));
  if (unknown.length > 0)
    throw new PoolsConfigError(
      `--bind names ${unknown.map((p) => `"${p}"`).join(', ')}, which ${unknown.length > 1 ? 'are not pools' : 'is not a pool'} of cluster "${input.cluster}" (pools: ${config.pools.map((p) => p.name).join(', ')}).`,
    );
  const resolution = resolveLbTargets(
    config,
    servers.map((s) => ({ id: s.id, role: s.role, services: s.services.map((x) => x.name) })),
  );
  const byId = new Map(servers.map((s) => [s.id, s]));
  const pools: HaproxyPool[] = config.pools.map((pool) => {
    const members = resolution.pools.get(pool.name) ?? [];
    if (members.length === 0)
      throw new PoolsConfigError(
        `Pool "${pool.name}" (backend ${pool.backend}) has no server: no registered agent of ${pool.roles ? `role ${pool.roles.join(' or ')}` : 'the cluster'}${pool.service ? ` runs service "${pool.service}"` : ''}. Start its agents first, or fix the pool with rollgate lb configure.`,
      );
    const rows = members.map((id): HaproxyBackendServer => {
      const s = byId.get(id)!;
      const target = resolution.targets.get(id)!.find((t) => t.pool === pool.name)!;
      // The pool's own service; a pool of every service sends traffic to the first with a port.
      const svc = pool.service
        ? s.services.find((x) => x.name === pool.service)
        : s.services.find((x) => x.port);
      const gate = gateAddress(s.gateUrl);
      if (!gate || !svc?.port)
        throw new PoolsConfigError(
          `Agent ${s.id} has not reported its gate address and the port of ${pool.service ? `service "${pool.service}"` : 'its service'} (gate URL "${s.gateUrl}"); upgrade the agent, or set services[].port in its config.`,
        );
      return {
        name: target.server,
        address: gate.host,
        servicePort: svc.port,
        gatePort: gate.port,
        ...(s.agentCheckPort ? { agentCheckPort: s.agentCheckPort } : {}),
        ...(svc.besidePort ? { besidePort: svc.besidePort } : {}),
        ...(svc.healthPath ? { healthPath: svc.healthPath } : {}),
        ...(svc.healthPort ? { healthPort: svc.healthPort } : {}),
      };
    });
    const bind = input.binds[pool.name] ?? (config.pools.length === 1 ? input.bind : undefined);
    const maps = routing?.[pool.name];
    return {
      name: pool.name,
      backend: pool.backend,
      servers: rows,
      ...(bind ? { bind } : {}),
      ...(maps ? { routing: maps } : {}),
    };
  });
  const runtime = input.socketPath
    ? { socketPath: input.socketPath }
    : balancer?.runtime.socketPath !== undefined
      ? { socketPath: balancer.runtime.socketPath }
      : balancer?.runtime.host !== undefined && balancer.runtime.port !== undefined
        ? { host: balancer.runtime.host, port: balancer.runtime.port }
        : undefined;
  let text: string;
  try {
    text = renderHaproxyPools({
      cluster: input.cluster,
      pools,
      health: input.health,
      ...(balancer ? { balancer: balancer.name, balancers: names } : {}),
      ...(runtime ? { runtime } : {}),
      checkIntervalMs: input.checkIntervalMs ?? config.checkIntervalMs,
      fall: config.fall,
      rise: config.rise,
      ...(config.agentInterMs !== undefined ? { agentInterMs: config.agentInterMs } : {}),
      ...(input.slowstartMs !== undefined ? { slowstartMs: input.slowstartMs } : {}),
    });
  } catch (err) {
    const msg = (err as Error).message.replace(/^renderHaproxyBackend: /, '');
    const hint = /needs a bind address/.test(msg) ? ' Give each with --bind <pool>=<address:port>.' : '';
    throw new PoolsConfigError(`${msg.charAt(0).toUpperCase()}${msg.slice(1)}.${hint}`);
  }
  // Agents the pools leave out get no server line: say so where the operator reads the file.
  if (resolution.problems.length === 0) return text;
  const note = resolution.problems.map((p) => `# NOT PLACED: ${p}.`).join('\n');
  return `${note}\n${text}`;
}
