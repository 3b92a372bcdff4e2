import { besideOwner, haproxyServerName, type LbConfig } from '@rollgate/domain';
import type { EngineStore, LbMode, LbServerStatus, LoadBalancerPort } from '@rollgate/engine';
import { createHaproxyRuntime, gateOnlyDetectMs, gateOnlyReadmitMs, type ServerStat } from '@rollgate/lb';
import type { Logger } from '@rollgate/logger';

export interface LbAdapterOptions {
  store: EngineStore;
  log: Logger;
  /** How long a cluster's LB configuration is cached, ms; default 2000. */
  cacheMs?: number;
  /** Runtime API timeout, ms; default 3000. */
  timeoutMs?: number;
}

/** HAProxy sends a server new traffic when it is UP (operationally up and administratively ready). */
function isUp(stat: ServerStat): boolean {
  return stat.status === 'UP' && stat.adminState === 'ready';
}

/** It passes its health checks; `show stat` says DRAIN for a healthy server set to drain. */
function isHealthy(stat: ServerStat): boolean {
  return stat.status === 'UP' || stat.status === 'DRAIN';
}

/**
 * The engine's LoadBalancerPort on HAProxy's runtime API, with each cluster's configuration read
 * from the store (cached briefly: the engine asks on every evaluation).
 */
export function createLbAdapter(opts: LbAdapterOptions) {
  const cacheMs = opts.cacheMs ?? 2000;
  const cache = new Map<string, { at: number; config: LbConfig | null }>();

  async function configOf(cluster: string): Promise<LbConfig | null> {
    const hit = cache.get(cluster);
    if (hit && Date.now() - hit.at < cacheMs) return hit.config;
    const config = await opts.store.getClusterLb(cluster);
    cache.set(cluster, { at: Date.now(), config });
    return config;
  }

  function runtimeOf(config: LbConfig) {
    if (config.mode !== 'haproxy-runtime' || !config.runtime) {
      throw new Error(`the load balancer is configured as ${config.mode}: there is no runtime API to call`);
    }
    return createHaproxyRuntime({ ...config.runtime, timeoutMs: opts.timeoutMs ?? 3000 });
  }

  async function runtimeConfig(cluster: string): Promise<LbConfig> {
    const config = await configOf(cluster);
    if (!config || config.mode !== 'haproxy-runtime') {
      throw new Error(`cluster ${cluster} has no HAProxy runtime API configured`);
    }
    return config;
  }

  async function setState(cluster: string, ids: string[], state: 'ready' | 'drain') {
    const config = await runtimeConfig(cluster);
    await runtimeOf(config).setStates(
      ids.map((id) => ({ backend: config.backend, server: haproxyServerName(config, id), state })),
    );
    opts.log.info({ cluster, servers: ids, state }, 'load balancer state set');
  }

  async function stats(config: LbConfig): Promise<Map<string, ServerStat>> {
    const rows = await runtimeOf(config).serverStats(config.backend);
    return new Map(rows.map((r) => [r.name, r]));
  }

  const port: LoadBalancerPort = {
    async mode(cluster): Promise<LbMode | null> {
      const config = await configOf(cluster);
      if (!config) return null;
      if (config.mode === 'haproxy-runtime')
        return { mode: 'runtime', readmitTimeoutMs: config.readmitTimeoutMs };
      return { mode: 'gate-only', detectMs: gateOnlyDetectMs(config), readmitMs: gateOnlyReadmitMs(config) };
    },
    leave: (cluster, ids) => setState(cluster, ids, 'drain'),
    rejoin: (cluster, ids) => setState(cluster, ids, 'ready'),
    async status(cluster, ids) {
      const config = await runtimeConfig(cluster);
      const byName = await stats(config);
      const out = new Map<string, LbServerStatus>();
      for (const id of ids) {
        const st = byName.get(haproxyServerName(config, id));
        if (st) {
          // A second instance is not checked by HAProxy: the agent found it healthy before a switch.
          const healthy = besideOwner(id) !== null || isHealthy(st);
          out.set(id, {
            up: isUp(st) || (healthy && st.adminState === 'ready'),
            healthy,
            sessions: st.scur,
            totalSessions: st.stot,
          });
        }
      }
      return out;
    },
    async switchOver(cluster, incoming, outgoing) {
      const config = await runtimeConfig(cluster);
      const change = (id: string, state: 'ready' | 'drain') => ({
        backend: config.backend,
        server: haproxyServerName(config, id),
        state,
      });
      // One exchange, ready first: for the microseconds between the two halves both serve, never
      // neither.
      await runtimeOf(config).setStates([
        ...incoming.map((id) => change(id, 'ready')),
        ...outgoing.map((id) => change(id, 'drain')),
      ]);
      opts.log.info({ cluster, incoming, outgoing }, 'load balancer switched in one exchange');
    },
    async holdAgentChecks(cluster, ids, hold) {
      const config = await runtimeConfig(cluster);
      const verb = hold ? 'disable' : 'enable';
      const line = ids
        .map((id) => `${verb} agent ${config.backend}/${haproxyServerName(config, id)}`)
        .join(';');
      if (!line) return;
      const answer = await runtimeOf(config).raw(line);
      // A server without agent-check has nothing to hold; HAProxy says so only on "enable".
      const problems = answer
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !/^Agent was not configured on this server/.test(l));
      if (problems.length > 0) throw new Error(`${verb} agent checks: ${problems.join('; ')}`);
    },
  };

  return {
    port,
    /** Drops the cached configuration of a cluster (after it was changed). */
    forget(cluster: string) {
      cache.delete(cluster);
    },
    /**
     * Checks a configuration against the live load balancer: the backend exists and every server
     * of the cluster is in it. Returns what HAProxy reports, or throws a message saying what is wrong.
     */
    async verify(config: LbConfig, serverIds: string[]): Promise<Map<string, ServerStat>> {
      if (config.mode !== 'haproxy-runtime') return new Map();
      let byName: Map<string, ServerStat>;
      try {
        byName = await stats(config);
      } catch (err) {
        throw new Error(
          `cannot read backend "${config.backend}" from HAProxy's runtime API (${describe(config)}): ${(err as Error).message}`,
        );
      }
      const missing = serverIds.filter((id) => !byName.has(haproxyServerName(config, id)));
      if (missing.length > 0) {
        throw new Error(
          `backend "${config.backend}" has no server for ${missing.map((id) => `${id} (looked for "${haproxyServerName(config, id)}")`).join(', ')}; it has ${[...byName.keys()].join(', ') || 'no servers'}. Map agents to HAProxy server names with --server agent=name.`,
        );
      }
      return byName;
    },
    stats,
  };
}

function describe(config: LbConfig): string {
  const r = config.runtime;
  return r?.socketPath ?? `${r?.host}:${r?.port}`;
}

export type LbAdapter = ReturnType<typeof createLbAdapter>;
