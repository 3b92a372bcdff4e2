import {
  lbConfigOf,
  poolServerName,
  resolveLbTargets,
  runtimeAddress,
  targetsOf,
  type LbConfig,
} from '@rollgate/domain';
import { renderHaproxyBackend, renderRoutingFrontend, routingMapFiles } from '@rollgate/lb';
import { ApiError, type ApiServices, type LbView } from '@rollgate/api';
import { gateAddress, PoolsConfigError, renderPoolsConfig, usesPools } from '../lb/haproxy-pools-config';
import { readLbTraffic } from '../watching/lb-traffic';
import type { CoordinatorServicesOptions, SharedServices } from './options';

/** Load balancers: configure against the live balancers, show, traffic, HAProxy config, routing. */
export function createLbServices(
  opts: CoordinatorServicesOptions,
  shared: SharedServices,
): ApiServices['lb'] {
  const { store } = opts;
  const { routing } = shared;

  return {
    async configure(cluster, config, actor) {
      let checkedAgainst: string[];
      try {
        checkedAgainst = await opts.lb.verify(config, cluster);
      } catch (err) {
        throw new ApiError('PRECONDITION_FAILED', `${(err as Error).message} Nothing was saved.`);
      }
      await store.setClusterLb(cluster, config);
      opts.lb.forget(cluster);
      await store.appendAudit({
        at: opts.clock.now(),
        actor,
        action: 'lb.configure',
        target: cluster,
        details: { ...config, checkedAgainst },
      });
      return { ...config, checkedAgainst };
    },
    async clear(cluster, actor) {
      await store.setClusterLb(cluster, null);
      opts.lb.forget(cluster);
      await store.appendAudit({
        at: opts.clock.now(),
        actor,
        action: 'lb.clear',
        target: cluster,
        details: {},
      });
    },
    async show(cluster) {
      const stored = await store.getClusterLb(cluster);
      const config = stored ? lbConfigOf(stored) : null;
      const servers = await store.listServers({ cluster });
      const resolution = config
        ? resolveLbTargets(
            config,
            servers.map((s) => ({ id: s.id, role: s.role, services: s.services.map((x) => x.name) })),
          )
        : null;
      const live = config?.mode === 'haproxy-runtime' ? await opts.lb.liveStats(config, cluster) : new Map();
      const recorded = config ? await opts.lb.ledgerViews(cluster) : [];
      const lastSetOf = (serverId: string, pool: string) =>
        recorded
          .filter((v) => v.serverId === serverId && v.pool === pool)
          .map((v) => ({ balancer: v.balancer, state: v.state, setAt: v.setAt }));
      const balancers = (config?.balancers ?? []).map((b) => ({
        name: b.name,
        address: runtimeAddress(b.runtime),
        error: live.get(b.name)?.error ?? null,
      }));
      const errors = balancers.filter((b) => b.error !== null).map((b) => `${b.name}: ${b.error}`);
      return {
        cluster,
        config,
        error: errors.length > 0 ? errors.join('; ') : null,
        balancers,
        problems: resolution?.problems ?? [],
        servers: servers.flatMap((s): LbView['servers'] => {
          const targets = config && resolution ? targetsOf(config, resolution, s.id) : [];
          if (targets.length === 0)
            return [
              { serverId: s.id, pool: null, haproxyServer: s.id, status: null, views: [], lastSet: [] },
            ];
          return targets.map((t) => {
            const views = [...live].flatMap(([balancer, v]) => {
              const st = v.stats?.get(t.backend)?.get(t.server);
              return st
                ? [
                    {
                      balancer,
                      up: st.status === 'UP' && st.adminState === 'ready',
                      sessions: st.scur,
                      totalSessions: st.stot,
                      state: st.statusText,
                    },
                  ]
                : [];
            });
            const all = views.length === balancers.length && views.length > 0;
            return {
              serverId: s.id,
              pool: t.pool,
              haproxyServer: `${t.backend}/${t.server}`,
              status: all
                ? {
                    up: views.every((v) => v.up),
                    sessions: views.reduce((n, v) => n + v.sessions, 0),
                    totalSessions: views.reduce((n, v) => n + v.totalSessions, 0),
                    state: views
                      .map((v) => (balancers.length > 1 ? `${v.balancer} ${v.state}` : v.state))
                      .join(', '),
                  }
                : null,
              views,
              lastSet: lastSetOf(s.id, t.pool),
            };
          });
        }),
      };
    },
    async traffic(cluster) {
      return readLbTraffic(
        cluster,
        await store.getClusterLb(cluster),
        await store.listServers({ cluster }),
        opts.clock.now(),
      );
    },
    async haproxyConfig(input) {
      const stored = await store.getClusterLb(input.cluster);
      const config: LbConfig | null = stored ? lbConfigOf(stored) : null;
      const firstPool = config?.pools[0];
      const servers = await store.listServers({ cluster: input.cluster });
      if (servers.length === 0) {
        throw new ApiError(
          'NOT_FOUND',
          `No server has registered in cluster "${input.cluster}"; start its agents first.`,
        );
      }
      // Several pools or balancers: a frontend and a backend per pool (docs/adr/0027).
      if (config && usesPools(config, input.balancer)) {
        // --routing: each pool's frontend consults its own maps (docs/adr/0029).
        const routes = input.routing ? await routing.get(input.cluster) : undefined;
        const headers = [...new Set([...Object.keys(routes?.files.headers ?? {}), ...input.routingHeaders])];
        const routingFiles = routes
          ? Object.fromEntries(
              config.pools.map((p) => [
                p.name,
                routingMapFiles(input.cluster, headers.sort(), input.mapDir ?? routes.mapDir, p.name),
              ]),
            )
          : undefined;
        try {
          return renderPoolsConfig(input, config, servers, routingFiles);
        } catch (err) {
          if (err instanceof PoolsConfigError) throw new ApiError('PRECONDITION_FAILED', err.message);
          throw err;
        }
      }
      const rows = servers.map((s) => {
        const gate = gateAddress(s.gateUrl);
        const port = s.services.find((svc) => svc.port)?.port;
        const besidePort = s.services.find((svc) => svc.besidePort)?.besidePort;
        if (!gate || !port) {
          throw new ApiError(
            'PRECONDITION_FAILED',
            `Agent ${s.id} has not reported its gate address and service port (gate URL "${s.gateUrl}"); upgrade the agent.`,
          );
        }
        // The service HAProxy sends traffic to is also the one it checks (health mode service).
        const svc = s.services.find((x) => x.port === port);
        return {
          name: firstPool ? poolServerName(firstPool, s.id) : s.id,
          address: gate.host,
          servicePort: port,
          gatePort: gate.port,
          ...(s.agentCheckPort ? { agentCheckPort: s.agentCheckPort } : {}),
          ...(besidePort ? { besidePort } : {}),
          ...(svc?.healthPath ? { healthPath: svc.healthPath } : {}),
          ...(svc?.healthPort ? { healthPort: svc.healthPort } : {}),
        };
      });
      // Service health without an agent-check: only the runtime API can drain, and a cluster
      // configured gate-only has none; the engine would wait for a drain that never comes.
      const noAgent = rows.filter((r) => r.agentCheckPort === undefined).map((r) => r.name);
      if (input.health === 'service' && config?.mode === 'gate-only' && noAgent.length > 0) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `Cluster "${input.cluster}" reaches its load balancer gate-only, and ${noAgent.join(', ')} has no agent-check: with --health service nothing would tell HAProxy to drain it. Set gate.agentCheckPort in its agent config, configure the runtime API (rollgate lb configure --socket <path>), or print the gate-checked configuration with --health gate.`,
        );
      }
      const backend = input.backend ?? firstPool?.backend ?? input.cluster;
      const render = (o: Parameters<typeof renderHaproxyBackend>[0]): string => {
        try {
          return renderHaproxyBackend(o);
        } catch (err) {
          // What the fleet reported cannot make one backend (e.g. two health paths): say so.
          const msg = (err as Error).message.replace(/^renderHaproxyBackend: /, '');
          throw new ApiError('PRECONDITION_FAILED', `${msg.charAt(0).toUpperCase()}${msg.slice(1)}.`);
        }
      };
      const rendered = render({
        health: input.health,
        cluster: input.cluster,
        backend,
        bind: input.bind,
        runtimeSocketPath: input.socketPath,
        servers: rows,
        checkIntervalMs: input.checkIntervalMs ?? config?.checkIntervalMs ?? 1000,
        fall: config?.fall ?? 2,
        rise: config?.rise ?? 2,
        ...(input.slowstartMs !== undefined ? { slowstartMs: input.slowstartMs } : {}),
        ...(config?.agentInterMs !== undefined ? { agentInterMs: config.agentInterMs } : {}),
      });
      if (!input.routing) return rendered;
      // The plain frontend gives way to one that consults the routing maps first.
      const routes = await routing.get(input.cluster);
      const headers = [...Object.keys(routes.files.headers), ...input.routingHeaders];
      const frontend = renderRoutingFrontend({
        cluster: input.cluster,
        name: `fe_${input.cluster}`,
        bind: input.bind,
        defaultBackend: backend,
        files: routingMapFiles(input.cluster, [...new Set(headers)].sort(), input.mapDir ?? routes.mapDir),
      });
      return rendered.replace(/^frontend [^\n]*\n(?: {4}[^\n]*\n)*/m, frontend);
    },
    routes: (cluster) => routing.get(cluster),
    setRoutes: (cluster, rules, mapDir, actor, from) => routing.set(cluster, rules, mapDir, actor, from),
  };
}
