// The engine's LoadBalancerPort on HAProxy's runtime API, for a cluster behind one or several
// balancers (an HA pair) and one or several pools (a backend per role or per service). Every
// state change goes to every balancer in front of the servers' pools, in ONE exchange per balancer;
// a balancer that does not answer makes the call throw LbUnreachableError naming it, and the
// engine pauses the run until it answers again (every call is idempotent, so it is repeated).
import {
  LbUnreachableError,
  lbConfigOf,
  resolveLbTargets,
  runtimeAddress,
  targetsOf,
  besideOwner,
  floorPools,
  type LbBalancer,
  type LbConfig,
  type LbResolution,
  type LbTarget,
} from '@rollgate/domain';
import type { EngineStore, LbMode, LbServerStatus, LoadBalancerPort } from '@rollgate/engine';
import {
  createHaproxyRuntime,
  gateOnlyWaits,
  HaproxyRuntimeError,
  splitResponses,
  type HaproxyRuntime,
  type ServerStat,
} from '@rollgate/lb';
import type { Logger } from '@rollgate/logger';

export interface LbAdapterOptions {
  store: EngineStore;
  log: Logger;
  /** How long a cluster's LB configuration and its resolution against the fleet are cached, ms; default 2000. */
  cacheMs?: number;
  /** Runtime API timeout per balancer, ms; default 3000. */
  timeoutMs?: number;
  /** Where each balancer's view on the ledger is kept (migration 0014); default: not kept. */
  views?: LbViewsPort;
  /** Told the result of every exchange with a balancer (metrics.ts); default: not told. */
  onOperation?: (result: 'ok' | 'unreachable' | 'error') => void;
}

/** The state Rollgate last set for a server in a pool on one balancer. */
export interface LbBalancerView {
  cluster: string;
  balancer: string;
  serverId: string;
  pool: string;
  backend: string;
  server: string;
  state: 'ready' | 'drain' | 'maint';
  setAt: number;
}

/** Each balancer's view on the LB ledger (createPgLbLedgerViews in production). */
export interface LbViewsPort {
  record(rows: LbBalancerView[]): Promise<void>;
  list(cluster: string): Promise<LbBalancerView[]>;
}

/** HAProxy sends a server new traffic when it is UP (operationally up and administratively ready). */
function isUp(stat: ServerStat): boolean {
  return stat.status === 'UP' && stat.adminState === 'ready';
}

/** It passes its health checks; `show stat` says DRAIN for a healthy server set to drain. */
function isHealthy(stat: ServerStat): boolean {
  return stat.status === 'UP' || stat.status === 'DRAIN';
}

/** A connection that failed or timed out, as opposed to HAProxy answering with a complaint. */
function unreachable(err: unknown): boolean {
  return (
    err instanceof HaproxyRuntimeError &&
    err.output === undefined &&
    /^(cannot reach the HAProxy runtime API|HAProxy runtime API at .* did not answer)/.test(err.message)
  );
}

const HAPROXY_TARGET = /^[A-Za-z0-9._:-]+\/[A-Za-z0-9._:-]+$/;

/** A cluster's configuration in its current form, resolved against its registered agents. */
interface Resolved {
  config: LbConfig;
  resolution: LbResolution;
}

/** Per balancer, what one call reports: a stat per (backend, server). */
export type BalancerStats = Map<string, Map<string, ServerStat>>;

/**
 * The engine's LoadBalancerPort on HAProxy's runtime API, with each cluster's configuration read
 * from the store (cached briefly: the engine asks on every evaluation).
 */
export function createLbAdapter(opts: LbAdapterOptions) {
  const cacheMs = opts.cacheMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const cache = new Map<string, { at: number; resolved: Resolved | null }>();

  async function resolve(config: LbConfig, cluster: string): Promise<Resolved> {
    const servers = await opts.store.listServers({ cluster });
    const resolution = resolveLbTargets(
      config,
      servers.map((s) => ({ id: s.id, role: s.role, services: s.services.map((x) => x.name) })),
    );
    return { config, resolution };
  }

  async function resolvedOf(cluster: string): Promise<Resolved | null> {
    const hit = cache.get(cluster);
    if (hit && Date.now() - hit.at < cacheMs) return hit.resolved;
    const stored = await opts.store.getClusterLb(cluster);
    const resolved = stored ? await resolve(lbConfigOf(stored), cluster) : null;
    cache.set(cluster, { at: Date.now(), resolved });
    return resolved;
  }

  function runtimeOf(b: LbBalancer): HaproxyRuntime {
    return createHaproxyRuntime({ ...b.runtime, timeoutMs });
  }

  async function runtimeResolved(cluster: string): Promise<Resolved> {
    const r = await resolvedOf(cluster);
    if (!r || r.config.mode !== 'haproxy-runtime') {
      throw new Error(`cluster ${cluster} has no HAProxy runtime API configured`);
    }
    return r;
  }

  /** Every (server id, target) of these ids; an id in no pool is named in the error. */
  function targetsFor(r: Resolved, cluster: string, ids: string[]): { id: string; t: LbTarget }[] {
    const out: { id: string; t: LbTarget }[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const ts = targetsOf(r.config, r.resolution, id);
      if (ts.length === 0) missing.push(id);
      for (const t of ts) out.push({ id, t });
    }
    if (missing.length > 0) {
      throw new Error(
        `cluster ${cluster}: ${missing.join(', ')} is in none of the load balancer's pools (${r.resolution.problems.join('; ') || 'no pool takes its role'}); fix the pools with rollgate lb configure`,
      );
    }
    return out;
  }

  /**
   * Runs `work` on every balancer at once. A balancer that does not answer makes the whole call
   * throw LbUnreachableError naming it (the others have their change: repeating it is harmless).
   */
  async function onEvery<T>(
    r: Resolved,
    cluster: string,
    work: (rt: HaproxyRuntime, b: LbBalancer) => Promise<T>,
  ): Promise<Map<string, T>> {
    const settled = await Promise.allSettled(r.config.balancers.map((b) => work(runtimeOf(b), b)));
    const out = new Map<string, T>();
    let unreach: LbUnreachableError | null = null;
    let other: Error | null = null;
    settled.forEach((s, i) => {
      const b = r.config.balancers[i]!;
      opts.onOperation?.(s.status === 'fulfilled' ? 'ok' : unreachable(s.reason) ? 'unreachable' : 'error');
      if (s.status === 'fulfilled') out.set(b.name, s.value);
      else if (unreachable(s.reason))
        unreach ??= new LbUnreachableError(
          b.name,
          runtimeAddress(b.runtime),
          (s.reason as Error).message,
          cluster,
        );
      else other ??= new Error(`load balancer ${b.name}: ${(s.reason as Error).message}`);
    });
    if (unreach) {
      cache.delete(cluster);
      throw unreach;
    }
    if (other) throw other;
    return out;
  }

  /** Records not yet written, in the order the balancers answered. */
  let viewWrites: Promise<void> = Promise.resolve();

  /**
   * Records what a balancer that answered now holds; a failure to record never fails the change.
   * Written behind the change, not before the rollout goes on (each group makes three), in order;
   * a read of the views waits for them.
   */
  function recordViews(
    cluster: string,
    balancer: string,
    changes: { id: string; t: LbTarget; state: LbBalancerView['state'] }[],
  ): void {
    const views = opts.views;
    if (!views || changes.length === 0) return;
    const setAt = Date.now();
    viewWrites = viewWrites.then(() => writeViews(views, cluster, balancer, changes, setAt));
  }

  async function writeViews(
    views: NonNullable<typeof opts.views>,
    cluster: string,
    balancer: string,
    changes: { id: string; t: LbTarget; state: LbBalancerView['state'] }[],
    setAt: number,
  ): Promise<void> {
    try {
      await views.record(
        changes.map(({ id, t, state }) => ({
          cluster,
          balancer,
          serverId: id,
          pool: t.pool,
          backend: t.backend,
          server: t.server,
          state,
          setAt,
        })),
      );
    } catch (err) {
      opts.log.warn({ err, cluster, balancer }, 'could not record the balancer view on the LB ledger');
    }
  }

  async function setState(cluster: string, ids: string[], state: 'ready' | 'drain' | 'maint') {
    if (ids.length === 0) return;
    const r = await runtimeResolved(cluster);
    const pairs = targetsFor(r, cluster, ids);
    const changes = pairs.map(({ t }) => ({ backend: t.backend, server: t.server, state }));
    await onEvery(r, cluster, async (rt, b) => {
      await rt.setStates(changes);
      recordViews(
        cluster,
        b.name,
        pairs.map((p) => ({ ...p, state })),
      );
    });
    opts.log.info(
      { cluster, servers: ids, state, balancers: r.config.balancers.map((b) => b.name) },
      'load balancer state set',
    );
  }

  /**
   * Re-admission in ONE exchange per balancer: `state ready` then `health up` per server (in that
   * order HAProxy 2.6 leaves it at full health, so one slow check cannot take it DOWN again). The
   * agent verified the service healthy (waitHealthy) before this is called, so HAProxy's check
   * state is set to what the evidence says: a server parked in maint (or marked DOWN while its
   * service was stopped) is UP at once instead of after `rise` checks; its own checks carry on.
   */
  async function readmit(cluster: string, ids: string[]) {
    if (ids.length === 0) return;
    const r = await runtimeResolved(cluster);
    const pairs = targetsFor(r, cluster, ids);
    const targets = pairs.map(({ t }) => `${t.backend}/${t.server}`);
    for (const t of targets) if (!HAPROXY_TARGET.test(t)) throw new Error(`invalid HAProxy server ${t}`);
    const commands = targets.flatMap((t) => [`set server ${t} state ready`, `set server ${t} health up`]);
    await onEvery(r, cluster, async (rt, b) => {
      const outs = splitResponses(await rt.raw(commands.join(';')));
      // A tracking server takes its health from the one it tracks: nothing to force there.
      const problems = commands
        .map((c, i) => ({ c, out: (outs[i] ?? '').trim() }))
        .filter(({ out }) => out !== '' && !/^cannot change health on a tracking server/i.test(out))
        .map(({ c, out }) => `${c}: ${out}`);
      if (problems.length > 0)
        throw new Error(`re-admission at ${b.name} (${rt.address}) failed: ${problems.join('; ')}`);
      recordViews(
        cluster,
        b.name,
        pairs.map((p) => ({ ...p, state: 'ready' as const })),
      );
    });
    opts.log.info(
      { cluster, servers: ids },
      'load balancer: health up and ready in one exchange per balancer',
    );
  }

  /** Every balancer's stats of these backends (one exchange per backend and balancer, all at once). */
  async function balancerStats(
    r: Resolved,
    cluster: string,
    backends: string[],
  ): Promise<Map<string, BalancerStats>> {
    return onEvery(r, cluster, async (rt) => {
      const per: BalancerStats = new Map();
      await Promise.all(
        backends.map(async (be) => {
          const rows = await rt.serverStats(be);
          per.set(be, new Map(rows.map((s) => [s.name, s])));
        }),
      );
      return per;
    });
  }

  const port: LoadBalancerPort = {
    async mode(cluster): Promise<LbMode | null> {
      const r = await resolvedOf(cluster);
      if (!r) return null;
      const { config } = r;
      // Agent ids per pool, for the engine's live capacity floor (LbMode.pools, docs/adr/0026).
      const pools = floorPools(r.resolution);
      const mode: LbMode & { pools?: string[][] } =
        config.mode === 'haproxy-runtime'
          ? {
              mode: 'runtime',
              readmitTimeoutMs: config.readmitTimeoutMs,
              readmitWait: config.readmitWait,
              pools,
            }
          : {
              mode: 'gate-only',
              ...gateOnlyWaits({
                checkIntervalMs: config.checkIntervalMs,
                fall: config.fall,
                rise: config.rise,
                agentInterMs: config.agentInterMs,
                reactionMs: config.reactionMs ?? null,
              }),
              pools,
            };
      return mode;
    },
    leave: (cluster, ids) => setState(cluster, ids, 'drain'),
    rejoin: (cluster, ids) => readmit(cluster, ids),
    park: (cluster, ids) => setState(cluster, ids, 'maint'),
    async status(cluster, ids) {
      const r = await runtimeResolved(cluster);
      const pairs = targetsFor(r, cluster, ids);
      const stats = await balancerStats(r, cluster, [...new Set(pairs.map((p) => p.t.backend))]);
      const out = new Map<string, LbServerStatus>();
      for (const id of ids) {
        let agg: LbServerStatus | null = { up: true, healthy: true, sessions: 0, totalSessions: 0 };
        for (const { t } of pairs.filter((p) => p.id === id)) {
          for (const per of stats.values()) {
            const st = per.get(t.backend)?.get(t.server);
            if (!st) {
              // Not on one balancer: nothing can be said of it as a whole.
              agg = null;
              break;
            }
            // A second instance is not checked by HAProxy: the agent found it healthy before a switch.
            const healthy = besideOwner(id) !== null || isHealthy(st);
            agg.up &&= isUp(st) || (healthy && st.adminState === 'ready');
            agg.healthy &&= healthy;
            agg.sessions += st.scur;
            agg.totalSessions += st.stot;
          }
          if (!agg) break;
        }
        if (agg) out.set(id, agg);
      }
      return out;
    },
    async switchOver(cluster, incoming, outgoing) {
      const r = await runtimeResolved(cluster);
      // One exchange per balancer, ready first: for the microseconds between the two halves both
      // serve, never neither.
      const pairs = [
        ...targetsFor(r, cluster, incoming).map((p) => ({ ...p, state: 'ready' as const })),
        ...targetsFor(r, cluster, outgoing).map((p) => ({ ...p, state: 'drain' as const })),
      ];
      const changes = pairs.map(({ t, state }) => ({ backend: t.backend, server: t.server, state }));
      await onEvery(r, cluster, async (rt, b) => {
        await rt.setStates(changes);
        recordViews(cluster, b.name, pairs);
      });
      opts.log.info({ cluster, incoming, outgoing }, 'load balancer switched in one exchange per balancer');
    },
    async holdAgentChecks(cluster, ids, hold) {
      const r = await runtimeResolved(cluster);
      const verb = hold ? 'disable' : 'enable';
      const line = targetsFor(r, cluster, ids)
        .map(({ t }) => `${verb} agent ${t.backend}/${t.server}`)
        .join(';');
      if (!line) return;
      await onEvery(r, cluster, async (rt, b) => {
        const answer = await rt.raw(line);
        // A server without agent-check has nothing to hold; HAProxy says so only on "enable".
        const problems = answer
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '' && !/^Agent was not configured on this server/.test(l));
        if (problems.length > 0) throw new Error(`${verb} agent checks at ${b.name}: ${problems.join('; ')}`);
      });
    },
  };

  return {
    port,
    /** Each balancer's view on the ledger: what Rollgate last set there per server and pool. */
    async ledgerViews(cluster: string): Promise<LbBalancerView[]> {
      await viewWrites;
      return opts.views ? opts.views.list(cluster) : [];
    },
    /** Drops the cached configuration of a cluster (after it was changed, or its fleet was). */
    forget(cluster: string) {
      cache.delete(cluster);
    },
    /**
     * Checks a configuration against the fleet and every live balancer: each agent of the cluster
     * is placed in exactly one pool per service it runs, and on every balancer each pool's backend
     * exists and holds the agents' servers. Returns the names of the balancers it checked (none in
     * gate-only mode: nothing is there to check), or throws a message saying what is wrong.
     */
    async verify(config: LbConfig, cluster: string): Promise<string[]> {
      const r = await resolve(config, cluster);
      if (r.resolution.problems.length > 0) {
        throw new Error(
          `the pools do not place every agent of cluster ${cluster}: ${r.resolution.problems.join('; ')}.`,
        );
      }
      if (config.mode !== 'haproxy-runtime') return [];
      const backends = config.pools.map((p) => p.backend);
      const settled = await Promise.allSettled(
        config.balancers.map(async (b) => {
          const rt = runtimeOf(b);
          const problems: string[] = [];
          for (const pool of config.pools) {
            let names: Set<string>;
            try {
              names = new Set((await rt.serverStats(pool.backend)).map((s) => s.name));
            } catch (err) {
              problems.push(`backend "${pool.backend}" (pool ${pool.name}): ${(err as Error).message}`);
              if (unreachable(err)) break;
              continue;
            }
            const ids = r.resolution.pools.get(pool.name) ?? [];
            const missing = ids.filter(
              (id) =>
                !names.has(targetsOf(config, r.resolution, id).find((t) => t.pool === pool.name)!.server),
            );
            if (missing.length > 0)
              problems.push(
                `backend "${pool.backend}" (pool ${pool.name}) has no server for ${missing
                  .map(
                    (id) =>
                      `${id} (looked for "${targetsOf(config, r.resolution, id).find((t) => t.pool === pool.name)!.server}")`,
                  )
                  .join(
                    ', ',
                  )}; it has ${[...names].join(', ') || 'no servers'}. Map agents to that pool's server names with --server ${pool.name}:agent=name, or place them in another pool`,
              );
          }
          if (problems.length > 0)
            throw new Error(`load balancer ${b.name} (${rt.address}): ${problems.join('; ')}`);
        }),
      );
      const failures = settled.flatMap((s) => (s.status === 'rejected' ? [(s.reason as Error).message] : []));
      if (failures.length > 0) throw new Error(`${failures.join('. ')}.`);
      void backends;
      return config.balancers.map((b) => b.name);
    },
    /**
     * What each balancer reports now for the cluster's pools (per backend, per server), or why it
     * could not be asked: one balancer down does not hide the other's view.
     */
    async liveStats(
      config: LbConfig,
      cluster: string,
    ): Promise<Map<string, { stats?: BalancerStats; error?: string }>> {
      void cluster;
      const backends = [...new Set(config.pools.map((p) => p.backend))];
      const settled = await Promise.allSettled(
        config.balancers.map(async (b) => {
          const rt = runtimeOf(b);
          const per: BalancerStats = new Map();
          for (const be of backends) per.set(be, new Map((await rt.serverStats(be)).map((s) => [s.name, s])));
          return per;
        }),
      );
      return new Map(
        settled.map((s, i) => [
          config.balancers[i]!.name,
          s.status === 'fulfilled' ? { stats: s.value } : { error: (s.reason as Error).message },
        ]),
      );
    },
  };
}

export type LbAdapter = ReturnType<typeof createLbAdapter>;
