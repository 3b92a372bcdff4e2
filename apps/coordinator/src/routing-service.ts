// Routing rules for concurrent and validation editions: a cluster's frontend sends matching
// requests (client address, header, path prefix) to the backend of the cluster that serves the
// rule's edition. The rules are kept in the cluster's settings and applied to HAProxy's maps over
// its runtime API, which swaps each map whole: no reload, no dropped connection.
import {
  besideId,
  describeRule,
  lbConfigOf,
  poolServerName,
  resolveLbTargets,
  routingMaps,
  runtimeAddress,
  type ClusterSettings,
  type LbConfig,
  type LbPool,
  type RoutingRule,
} from '@rollgate/domain';
import {
  createHaproxyRuntime,
  routingMapFiles,
  validationBackendName,
  type RoutingMapFiles,
} from '@rollgate/lb';
import { ApiError, type RoutesView } from '@rollgate/api';
import type { EngineStore } from '@rollgate/engine';

export interface RoutingServiceOptions {
  store: EngineStore;
  clock: { now(): number };
  /** Runtime API timeout, ms; default 3000. */
  timeoutMs?: number;
}

/** Where the maps live when the operator did not say (the path `lb haproxy-config` uses). */
export const DEFAULT_MAP_DIR = '/etc/haproxy/rollgate';

export function createRoutingService(opts: RoutingServiceOptions) {
  const { store } = opts;

  /** A validation backend and the servers whose second instance runs the edition there. */
  interface Clone {
    cluster: string;
    lb: LbConfig;
    /** The pool whose validation backend serves the clone. */
    pool: LbPool;
    /** The pool's members. */
    members: string[];
    servers: string[];
  }

  /** Every balancer's runtime API, each named for messages. */
  function runtimesOf(lb: LbConfig) {
    return lb.balancers.map((b) => ({
      name: b.name,
      address: runtimeAddress(b.runtime),
      rt: createHaproxyRuntime({ ...b.runtime, timeoutMs: opts.timeoutMs ?? 3000 }),
    }));
  }

  /**
   * Each edition's backend: a cluster whose connected servers all run it as the active edition of
   * one application, and whose load balancer is configured; else a cluster validating it (some of
   * its servers' second instances run it: its validation backend).
   */
  async function editionBackends(): Promise<{
    backends: Record<string, string>;
    clones: Record<string, Clone>;
  }> {
    const servers = await store.listServers({});
    const clusters = [...new Set(servers.map((s) => s.cluster))].sort();
    const backends: Record<string, string> = {};
    const clones: Record<string, Clone> = {};
    for (const cluster of clusters) {
      const stored = await store.getClusterLb(cluster);
      if (!stored) continue;
      const lb = lbConfigOf(stored);
      const members = servers.filter((s) => s.cluster === cluster && s.status === 'connected');
      const everyone = servers.filter((s) => s.cluster === cluster);
      const resolution = resolveLbTargets(
        lb,
        everyone.map((s) => ({ id: s.id, role: s.role, services: s.services.map((x) => x.name) })),
      );
      const apps = new Set(members.flatMap((s) => s.services.map((x) => x.name)));
      for (const app of apps) {
        // The pool that serves the application: the first (in the configuration's order) that
        // takes this service of one of its servers. Per-role pools of one application each have
        // their own frontend; a rule sends to this one's backend (docs/adr/0026).
        const runs = members.filter((s) => s.services.some((x) => x.name === app));
        const pool = lb.pools.find(
          (p) =>
            (p.service === undefined || p.service === app) &&
            runs.some((s) => resolution.targets.get(s.id)?.some((t) => t.pool === p.name)),
        );
        if (!pool) continue;
        const active = new Set(
          members.map((s) => s.services.find((x) => x.name === app)?.activeEdition ?? ''),
        );
        const [only] = [...active];
        if (active.size === 1 && only && !(only in backends)) backends[only] = pool.backend;
        const poolMembers = resolution.pools.get(pool.name) ?? [];
        for (const s of members) {
          const e = s.services.find((x) => x.name === app)?.besideEdition;
          if (e && e !== only && poolMembers.includes(s.id))
            (clones[e] ??= { cluster, lb, pool, members: poolMembers, servers: [] }).servers.push(s.id);
        }
      }
    }
    for (const [e, c] of Object.entries(clones)) {
      if (e in backends || c.lb.mode !== 'haproxy-runtime') delete clones[e];
      else backends[e] = validationBackendName(c.pool.backend);
    }
    return { backends, clones };
  }

  /**
   * A validation clone that rules send requests to takes traffic from now on: its servers' second
   * instances ready in the validation backend, the others' in maintenance.
   */
  async function openClone(clone: Clone): Promise<void> {
    const backend = validationBackendName(clone.pool.backend);
    const changes = clone.members.map((id) => ({
      backend,
      server: poolServerName(clone.pool, besideId(id)),
      state: clone.servers.includes(id) ? ('ready' as const) : ('maint' as const),
    }));
    for (const { name, rt } of runtimesOf(clone.lb)) {
      try {
        await rt.setStates(changes);
      } catch (err) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `The validation backend of cluster "${clone.cluster}" on load balancer ${name} is not as expected: ${(err as Error).message}. Print its configuration again with \`rollgate lb haproxy-config --cluster ${clone.cluster}\` (it lists backend "${backend}"), reload HAProxy once, then set the rules again.`,
        );
      }
    }
  }

  function filesOf(cluster: string, rules: RoutingRule[], mapDir: string): RoutingMapFiles {
    const headers = [...new Set(rules.flatMap((r) => (r.match === 'header' ? [r.header] : [])))].sort();
    return routingMapFiles(cluster, headers, mapDir);
  }

  async function runtimeLb(cluster: string): Promise<LbConfig> {
    const stored = await store.getClusterLb(cluster);
    const lb = stored ? lbConfigOf(stored) : null;
    if (lb?.mode !== 'haproxy-runtime' || lb.balancers.length === 0) {
      throw new ApiError(
        'PRECONDITION_FAILED',
        `Routing rules are applied through HAProxy's runtime API, and cluster "${cluster}" has ${lb ? 'a gate-only load balancer' : 'no load balancer configured'}. Configure it first: \`rollgate lb configure --cluster ${cluster} --balancer lb1=unix:/run/haproxy/admin.sock --pool <name>=<backend>\`.`,
      );
    }
    return lb;
  }

  async function view(cluster: string, settings: ClusterSettings): Promise<RoutesView> {
    const routing = settings.routing;
    const rules = (routing?.rules ?? []) as RoutingRule[];
    const mapDir = routing?.mapDir ?? DEFAULT_MAP_DIR;
    const { backends } = await editionBackends();
    return {
      cluster,
      mapDir,
      rules: rules.map((r) => ({ ...r, description: describeRule(r), backend: backends[r.edition] ?? null })),
      files: filesOf(cluster, rules, mapDir),
      editions: backends,
    };
  }

  return {
    async get(cluster: string): Promise<RoutesView> {
      return view(cluster, await store.getClusterSettings(cluster));
    },

    /**
     * Replaces the cluster's rules: every edition they name must be served by some cluster's
     * backend, or nothing changes. Maps of headers no longer used are emptied, not left behind.
     */
    async set(
      cluster: string,
      rules: RoutingRule[],
      mapDir: string | undefined,
      actor: string,
      from?: string,
    ): Promise<RoutesView> {
      const lb = await runtimeLb(cluster);
      const settings = await store.getClusterSettings(cluster);
      const dir = mapDir ?? settings.routing?.mapDir ?? DEFAULT_MAP_DIR;
      const { backends: editions, clones } = await editionBackends();
      let maps;
      try {
        maps = routingMaps(rules, (e) => editions[e]);
      } catch (err) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `${(err as Error).message}. Editions served now: ${
            Object.entries(editions)
              .map(([e, b]) => `${e} (backend ${b})`)
              .join(', ') || 'none'
          }. Nothing was changed.`,
        );
      }
      const files = filesOf(cluster, rules, dir);
      const before = filesOf(cluster, (settings.routing?.rules ?? []) as RoutingRule[], dir);
      const balancers = runtimesOf(lb);
      // Check every map file is known to every balancer before changing any: a frontend that does
      // not name one would leave the rules half applied.
      const all = [files.source, files.pathPrefix, ...Object.values(files.headers)];
      const unknown: string[] = [];
      for (const { name, address, rt } of balancers) {
        try {
          for (const f of all) {
            const answer = await rt.raw(`show map ${f}`);
            if (/^Unknown map identifier/m.test(answer)) unknown.push(`${f} on ${name}`);
          }
        } catch (err) {
          throw new ApiError(
            'PRECONDITION_FAILED',
            `Load balancer ${name} (${address}) of cluster "${cluster}" did not answer (${(err as Error).message}). Check that its HAProxy runs and its runtime API in \`rollgate lb show --cluster ${cluster}\` is right. Nothing was changed.`,
          );
        }
      }
      if (unknown.length > 0) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `HAProxy's configuration does not name the map file(s) ${unknown.join(', ')}. Add the frontend from \`rollgate lb haproxy-config --cluster ${cluster} --routing\` (it lists every map file), create the files, reload HAProxy once, then set the rules again. Nothing was changed.`,
        );
      }
      for (const e of new Set(rules.map((r) => r.edition))) {
        const clone = clones[e];
        if (clone) await openClone(clone);
      }
      for (const { name, rt } of balancers) {
        try {
          await rt.replaceMap(files.source, maps.source);
          await rt.replaceMap(files.pathPrefix, maps.pathPrefix);
          for (const [header, file] of Object.entries(files.headers)) {
            await rt.replaceMap(file, maps.headers[header] ?? []);
          }
        } catch (err) {
          // Each map is swapped whole, but the maps (and the balancers) one after the other: say
          // so, and keep the old rules.
          throw new ApiError(
            'PRECONDITION_FAILED',
            `Load balancer ${name} refused or dropped a map change (${(err as Error).message}); some maps (or balancers) may hold the new rules and others the old. The saved rules were not changed: set them again once every balancer answers.`,
          );
        }
        for (const [header, file] of Object.entries(before.headers)) {
          if (!(header in files.headers)) await rt.replaceMap(file, []).catch(() => undefined);
        }
      }
      const next: ClusterSettings = { ...settings, routing: { mapDir: dir, rules } };
      await store.setClusterSettings(cluster, next);
      await store.appendAudit({
        at: opts.clock.now(),
        actor,
        action: 'lb.routes.set',
        target: cluster,
        details: { rules: rules.map(describeRule), mapDir: dir, ...(from ? { from } : {}) },
      });
      return view(cluster, next);
    },
  };
}

export type RoutingService = ReturnType<typeof createRoutingService>;
