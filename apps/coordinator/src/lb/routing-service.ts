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
  routingMapFileList,
  routingMapFiles,
  validationBackendName,
  type RoutingMapFiles,
} from '@rollgate/lb';
import { ApiError, type RoutesView } from '@rollgate/api';
import type { EngineStore } from '@rollgate/engine';
import { usesPools } from './haproxy-pools-config';

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
   * its servers' second instances run it: its validation backend). `backends` is the one-backend
   * view (the first pool that serves the application); `byPool` is the same per pool name, for
   * clusters of per-role pools whose frontends each route to the same role (docs/adr/0029).
   */
  async function editionBackends(): Promise<{
    backends: Record<string, string>;
    byPool: Record<string, Record<string, { cluster: string; backend: string }>>;
    clones: Record<string, Clone[]>;
  }> {
    const servers = await store.listServers({});
    const clusters = [...new Set(servers.map((s) => s.cluster))].sort();
    const backends: Record<string, string> = {};
    const byPool: Record<string, Record<string, { cluster: string; backend: string }>> = {};
    const clones: Record<string, Clone[]> = {};
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
      const seen: Record<string, Set<string>> = {};
      for (const app of apps) {
        // The pools that serve the application, in the configuration's order: those that take this
        // service of one of its servers. The first is the one-backend view's (docs/adr/0026).
        const runs = members.filter((s) => s.services.some((x) => x.name === app));
        const pools = lb.pools.filter(
          (p) =>
            (p.service === undefined || p.service === app) &&
            runs.some((s) => resolution.targets.get(s.id)?.some((t) => t.pool === p.name)),
        );
        const [first] = pools;
        if (!first) continue;
        const active = new Set(
          members.map((s) => s.services.find((x) => x.name === app)?.activeEdition ?? ''),
        );
        const [only] = [...active];
        if (active.size === 1 && only && !(only in backends)) {
          backends[only] = first.backend;
          (seen[only] ??= new Set()).add(cluster);
        }
        for (const pool of pools) {
          if (active.size === 1 && only && seen[only]?.has(cluster))
            (byPool[only] ??= {})[pool.name] ??= { cluster, backend: pool.backend };
          const poolMembers = resolution.pools.get(pool.name) ?? [];
          for (const s of members) {
            const e = s.services.find((x) => x.name === app)?.besideEdition;
            if (!e || e === only || !poolMembers.includes(s.id)) continue;
            const list = (clones[e] ??= []);
            let clone = list.find((c) => c.cluster === cluster && c.pool.name === pool.name);
            if (!clone) list.push((clone = { cluster, lb, pool, members: poolMembers, servers: [] }));
            if (!clone.servers.includes(s.id)) clone.servers.push(s.id);
          }
        }
      }
    }
    for (const [e, list] of Object.entries(clones)) {
      const kept = list.filter((c) => c.lb.mode === 'haproxy-runtime' && c.cluster === list[0]!.cluster);
      if (e in backends || kept.length === 0) {
        delete clones[e];
        continue;
      }
      clones[e] = kept;
      backends[e] = validationBackendName(kept[0]!.pool.backend);
      byPool[e] = Object.fromEntries(
        kept.map((c) => [
          c.pool.name,
          { cluster: c.cluster, backend: validationBackendName(c.pool.backend) },
        ]),
      );
    }
    return { backends, byPool, clones };
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

  function headersOf(rules: RoutingRule[]): string[] {
    return [...new Set(rules.flatMap((r) => (r.match === 'header' ? [r.header] : [])))].sort();
  }

  function filesOf(cluster: string, rules: RoutingRule[], mapDir: string): RoutingMapFiles {
    return routingMapFiles(cluster, headersOf(rules), mapDir);
  }

  /** One frontend's maps: the cluster's (one backend), or one pool's (per-role pools). */
  interface MapSet {
    pool?: string;
    files: RoutingMapFiles;
    rules: RoutingRule[];
    backendOf: (edition: string) => string | undefined;
  }

  /**
   * The frontends whose maps the rules fill. A cluster of per-role pools (the same test
   * `lb haproxy-config` uses to print a frontend per pool) has one set of maps per pool, whose
   * values are the backend of the pool of the same name in the cluster serving the edition; a
   * rule whose edition's cluster has no such pool is left out of that pool's maps (`skipped`).
   */
  function mapSetsOf(
    cluster: string,
    lb: LbConfig | null,
    rules: RoutingRule[],
    mapDir: string,
    eb: Awaited<ReturnType<typeof editionBackends>>,
  ): { sets: MapSet[]; skipped: Map<RoutingRule, string[]> } {
    const skipped = new Map<RoutingRule, string[]>();
    if (!lb || !usesPools(lb, undefined) || lb.pools.length === 0) {
      return {
        sets: [{ files: filesOf(cluster, rules, mapDir), rules, backendOf: (e) => eb.backends[e] }],
        skipped,
      };
    }
    const headers = headersOf(rules);
    const sets = lb.pools.map((pool): MapSet => {
      const backendOf = (e: string) => eb.byPool[e]?.[pool.name]?.backend;
      const kept = rules.filter((r) => {
        if (backendOf(r.edition) || !(r.edition in eb.backends)) return true;
        const there = Object.values(eb.byPool[r.edition] ?? {})[0]?.cluster ?? 'the cluster';
        skipped
          .set(r, skipped.get(r) ?? [])
          .get(r)!
          .push(
            `pool "${pool.name}" skipped: cluster "${there}", which serves edition ${r.edition}, has no pool "${pool.name}"`,
          );
        return false;
      });
      return {
        pool: pool.name,
        files: routingMapFiles(cluster, headers, mapDir, pool.name),
        rules: kept,
        backendOf,
      };
    });
    return { sets, skipped };
  }

  function describe(r: RoutingRule, sets: MapSet[], skipped: Map<RoutingRule, string[]>): string {
    const pooled = sets.filter((x) => x.pool !== undefined && x.rules.includes(r));
    const parts = [
      ...pooled.map((x) => `pool ${x.pool} → ${x.backendOf(r.edition) ?? 'no backend'}`),
      ...(skipped.get(r) ?? []),
    ];
    return parts.length === 0 ? describeRule(r) : `${describeRule(r)} (${parts.join('; ')})`;
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
    const eb = await editionBackends();
    const stored = await store.getClusterLb(cluster);
    const { sets, skipped } = mapSetsOf(cluster, stored ? lbConfigOf(stored) : null, rules, mapDir, eb);
    return {
      cluster,
      mapDir,
      rules: rules.map((r) => ({
        ...r,
        description: describe(r, sets, skipped),
        backend: eb.backends[r.edition] ?? null,
      })),
      files: sets[0]!.files,
      ...(sets[0]!.pool !== undefined
        ? { pools: Object.fromEntries(sets.map((x) => [x.pool!, x.files])) }
        : {}),
      editions: eb.backends,
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
      const eb = await editionBackends();
      const { backends: editions, clones } = eb;
      const { sets, skipped } = mapSetsOf(cluster, lb, rules, dir, eb);
      let maps;
      try {
        // Every edition a rule names must be served somewhere (a rule to nowhere is a 503).
        routingMaps(rules, (e) => editions[e]);
        maps = sets.map((x) => routingMaps(x.rules, x.backendOf));
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
      const before = mapSetsOf(cluster, lb, (settings.routing?.rules ?? []) as RoutingRule[], dir, eb).sets;
      const balancers = runtimesOf(lb);
      // Check every map file is known to every balancer before changing any: a frontend that does
      // not name one would leave the rules half applied.
      const all = sets.flatMap((x) => routingMapFileList(x.files));
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
          `HAProxy's configuration does not name the map file(s) ${unknown.join(', ')}. Add the frontend${sets.length > 1 ? 's' : ''} from \`rollgate lb haproxy-config --cluster ${cluster} --routing\` (it lists every map file), create the files, reload HAProxy once, then set the rules again. Nothing was changed.`,
        );
      }
      for (const e of new Set(rules.map((r) => r.edition))) {
        for (const clone of clones[e] ?? []) await openClone(clone);
      }
      for (const { name, rt } of balancers) {
        try {
          for (const [i, x] of sets.entries()) {
            const m = maps[i]!;
            await rt.replaceMap(x.files.source, m.source);
            await rt.replaceMap(x.files.pathPrefix, m.pathPrefix);
            for (const [header, file] of Object.entries(x.files.headers)) {
              await rt.replaceMap(file, m.headers[header] ?? []);
            }
          }
        } catch (err) {
          // Each map is swapped whole, but the maps (and the balancers) one after the other: say
          // so, and keep the old rules.
          throw new ApiError(
            'PRECONDITION_FAILED',
            `Load balancer ${name} refused or dropped a map change (${(err as Error).message}); some maps (or balancers) may hold the new rules and others the old. The saved rules were not changed: set them again once every balancer answers.`,
          );
        }
        for (const old of before) {
          const now = sets.find((x) => x.pool === old.pool);
          for (const [header, file] of Object.entries(old.files.headers)) {
            if (!now || !(header in now.files.headers)) await rt.replaceMap(file, []).catch(() => undefined);
          }
        }
      }
      const next: ClusterSettings = { ...settings, routing: { mapDir: dir, rules } };
      await store.setClusterSettings(cluster, next);
      await store.appendAudit({
        at: opts.clock.now(),
        actor,
        action: 'lb.routes.set',
        target: cluster,
        details: {
          rules: rules.map((r) => describe(r, sets, skipped)),
          mapDir: dir,
          ...(from ? { from } : {}),
        },
      });
      return view(cluster, next);
    },
  };
}

export type RoutingService = ReturnType<typeof createRoutingService>;
