// Which HAProxy backends and server names each agent of a cluster answers to: the pools of the
// cluster's LB configuration resolved against the agents' roles and managed services. Pure, so the
// coordinator (fan-out, `lb configure`), the plan compiler (capacity floor per pool) and the
// engine (live floor) all read the same answer.
import { besideOwner, lbConfigOf, poolServerName, type LbConfig, type LbPool } from './lb-config';

/** What the resolution needs of an agent: its id, role and managed services' names. */
export interface LbAgent {
  id: string;
  role: string;
  services: readonly string[];
}

/** One place an agent serves: a pool's backend, under a server name. */
export interface LbTarget {
  pool: string;
  backend: string;
  server: string;
}

export interface LbResolution {
  /** Per agent id, the pools it is in (in the configuration's order); an agent left out is absent. */
  targets: Map<string, LbTarget[]>;
  /** Agent ids per pool (every pool of the configuration, sorted ids): the capacity floor's units. */
  pools: Map<string, string[]>;
  /** Each agent left out of every pool, or a service placed in two: empty when the config fits. */
  problems: string[];
}

function takesRole(pool: LbPool, role: string): boolean {
  return pool.roles === undefined || pool.roles.includes(role);
}

/**
 * Places every (agent, managed service) in exactly one pool: a pool takes an agent whose role is in
 * its `roles` (all roles when absent) for its `service` (all of the agent's services when absent).
 * An agent without services is placed by the pools without `service`. With no pools (gate-only
 * mode without backends) nothing is placed and nothing is wrong.
 */
export function resolveLbTargets(config: Pick<LbConfig, 'pools'>, agents: readonly LbAgent[]): LbResolution {
  const targets = new Map<string, LbTarget[]>();
  const pools = new Map<string, string[]>(config.pools.map((p) => [p.name, []]));
  const problems: string[] = [];
  if (config.pools.length === 0) return { targets, pools, problems };
  const sorted = [...agents].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const agent of sorted) {
    const mine = config.pools.filter((p) => takesRole(p, agent.role));
    const services = agent.services.length > 0 ? [...new Set(agent.services)] : [null];
    const placed = new Set<LbPool>();
    for (const service of services) {
      const matches = mine.filter((p) => p.service === undefined || p.service === service);
      const what =
        service === null
          ? `agent ${agent.id} (role ${agent.role}, no managed service)`
          : `service "${service}" of agent ${agent.id} (role ${agent.role})`;
      if (matches.length === 0) {
        problems.push(
          `${what} is in no pool; add a pool for role "${agent.role}"${service === null ? '' : ` (or for service "${service}")`}, or add the role to a pool's roles`,
        );
      } else if (matches.length > 1) {
        problems.push(
          `${what} is in ${matches.length} pools (${matches.map((p) => p.name).join(', ')}); each service belongs to exactly one pool: narrow them with roles or service`,
        );
      } else {
        placed.add(matches[0]!);
      }
    }
    if (placed.size === 0) continue;
    const list = config.pools
      .filter((p) => placed.has(p))
      .map((p) => ({ pool: p.name, backend: p.backend, server: poolServerName(p, agent.id) }));
    targets.set(agent.id, list);
    for (const t of list) pools.get(t.pool)!.push(agent.id);
  }
  // A server name the configuration maps for an agent that is not in that pool is a typo.
  for (const p of config.pools) {
    const members = new Set(pools.get(p.name));
    for (const id of Object.keys(p.servers).sort()) {
      if (!members.has(id) && agents.some((a) => a.id === id))
        problems.push(`pool ${p.name} names a server for agent ${id}, which is not in that pool`);
    }
  }
  return { targets, pools, problems };
}

/**
 * The targets of a plan's server id: an agent's own, or for a second instance (`id@beside`) its
 * owner's with `-beside` server names. Empty when the id is in no pool.
 */
export function targetsOf(
  config: Pick<LbConfig, 'pools'>,
  resolution: Pick<LbResolution, 'targets'>,
  id: string,
): LbTarget[] {
  const owner = besideOwner(id);
  if (owner === null) return resolution.targets.get(id) ?? [];
  return (resolution.targets.get(owner) ?? []).map((t) => {
    const pool = config.pools.find((p) => p.name === t.pool);
    return { ...t, server: pool ? poolServerName(pool, id) : `${t.server}-beside` };
  });
}

/** Agent ids per non-empty pool: the units the capacity floor keeps a server of in rotation. */
export function floorPools(resolution: Pick<LbResolution, 'pools'>): string[][] {
  return [...resolution.pools.values()].filter((ids) => ids.length > 0).map((ids) => [...ids]);
}

/**
 * The pools a plan's capacity floor keeps served, among these servers: from a cluster's stored LB
 * configuration (none stored: no pools), each pool narrowed to the servers of the plan.
 */
export function planPools(
  storedLb: unknown,
  servers: readonly { id: string; role: string; services: readonly { name: string }[] }[],
): string[][] {
  if (storedLb === null || storedLb === undefined) return [];
  const ids = new Set(servers.map((s) => s.id));
  const agents = servers.map((s) => ({ id: s.id, role: s.role, services: s.services.map((x) => x.name) }));
  return floorPools(resolveLbTargets(lbConfigOf(storedLb), agents))
    .map((p) => p.filter((id) => ids.has(id)))
    .filter((p) => p.length > 0);
}

/**
 * A load balancer of the cluster did not answer its runtime API. The message names it, its
 * address and what to do; the engine pauses the run with it and resumes once the balancer answers.
 */
export class LbUnreachableError extends Error {
  constructor(
    /** The balancer's name in the configuration (lb1, lb2...). */
    readonly balancer: string,
    /** Its runtime API, "unix:/path" or "tcp:host:port". */
    readonly address: string,
    cause: string,
    cluster: string,
  ) {
    super(
      `load balancer ${balancer} (${address}) of cluster ${cluster} does not answer: ${cause}. Start it, or fix its runtime API address with \`rollgate lb configure --cluster ${cluster}\` (see \`rollgate lb show --cluster ${cluster}\`); the run resumes by itself once it answers.`,
    );
    this.name = 'LbUnreachableError';
  }
}

const UNREACHABLE_FAILURE = /^load balancer \S+ \(.+?\) of cluster \S+ does not answer: /;

/**
 * A run's failure text says a balancer did not answer (an LbUnreachableError's message): the
 * engine resumes such a run by itself once the balancer answers again.
 */
export function isLbUnreachableFailure(failure: string | null | undefined): boolean {
  return typeof failure === 'string' && UNREACHABLE_FAILURE.test(failure);
}
