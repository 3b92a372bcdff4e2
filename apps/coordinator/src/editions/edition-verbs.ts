// The edition manager's verbs on a target (an application on one cluster): distribute, simple
// activation, rollout and back-out. Each compiles a plan in the domain and hands it to the durable
// engine as a run of its own, so it is paused, resumed, logged and audited like an upgrade.
import {
  compileDistribution,
  compileRollout,
  compileSimpleActivation,
  compileValidation,
  compileDeactivation,
  planPools,
  type Edition,
  type RoutingRule,
  type Plan,
  type RolloutInput,
} from '@rollgate/domain';
import { ApiError, type ApiServices } from '@rollgate/api';
import { type Engine, type EngineStore, type RunRecord, type ServerRecord } from '@rollgate/engine';
import type { RoutingService } from '../lb/routing-service';

export interface EditionVerbsOptions {
  store: EngineStore;
  engine: Engine;
  /** Pilot rules to a validation clone are lifted when a rollout from validation starts. */
  routing?: RoutingService;
}

type Verbs = Omit<ApiServices['editions'], 'upload' | 'checkUpload'>;

export function createEditionVerbs({ store, engine, routing }: EditionVerbsOptions): Verbs {
  async function mustEdition(app: string, name: string): Promise<Edition> {
    const e = await store.getEdition(app, name);
    if (!e) {
      const known = (await store.listEditions(app)).map((x) => x.name);
      throw new ApiError(
        'NOT_FOUND',
        `Edition "${name}" of ${app} has not been uploaded${known.length ? ` (uploaded: ${known.join(', ')})` : ''}. Upload it with \`rollgate edition upload --app ${app} --name ${name} --file <archive>\`.`,
      );
    }
    return e;
  }

  async function target(app: string, cluster: string): Promise<ServerRecord[]> {
    const servers = await store.listServers({ cluster });
    if (servers.length === 0) {
      throw new ApiError(
        'NOT_FOUND',
        `No server has registered in cluster "${cluster}"; start its agents first.`,
      );
    }
    const without = servers.filter((s) => !s.services.some((x) => x.name === app));
    if (without.length > 0) {
      throw new ApiError(
        'PRECONDITION_FAILED',
        `Servers ${without.map((s) => s.id).join(', ')} of cluster "${cluster}" do not manage "${app}"; add the service to their agent config.`,
      );
    }
    const down = servers.filter((s) => s.status !== 'connected');
    if (down.length > 0) {
      throw new ApiError(
        'PRECONDITION_FAILED',
        `Agents ${down.map((s) => `${s.id} (${s.status})`).join(', ')} are not connected; every server of the target must be reachable.`,
      );
    }
    return servers;
  }

  /** The edition every server reports active, if they agree. */
  function activeOf(servers: ServerRecord[], app: string): string | undefined {
    const names = new Set(servers.map((s) => s.services.find((x) => x.name === app)?.activeEdition ?? ''));
    const [only] = [...names];
    return names.size === 1 && only ? only : undefined;
  }

  async function noClash(cluster: string): Promise<void> {
    const active = await store.listRuns({ statuses: ['pending', 'running', 'paused', 'waiting-approval'] });
    const clash = active.find((r) => r.plan.cluster === cluster);
    if (clash) {
      throw new ApiError(
        'CONFLICT',
        `Run ${clash.id} is still ${clash.status} on cluster "${cluster}". Finish it, or abort it with \`rollgate upgrade abort ${clash.id}\`, first.`,
      );
    }
  }

  async function common(app: string, cluster: string, editionName: string, drainageIntervalSec?: number) {
    const toEdition = await mustEdition(app, editionName);
    const servers = await target(app, cluster);
    const from = activeOf(servers, app);
    const fromEdition = from ? ((await store.getEdition(app, from)) ?? undefined) : undefined;
    const storedLb = await store.getClusterLb(cluster);
    const drain = drainageIntervalSec ?? storedLb?.drainageIntervalSec ?? 30;
    // Each load-balancer pool keeps a server in rotation while a group or half is out, as for the
    // upgrades (docs/adr/0026).
    const pools = planPools(storedLb, servers);
    const input: RolloutInput = {
      cluster,
      service: app,
      servers: servers.map((s) => ({ id: s.id, cluster: s.cluster, role: s.role, hostname: s.hostname })),
      ...(pools.length > 0 ? { pools } : {}),
      toEdition,
      ...(fromEdition ? { fromEdition } : {}),
      drainageIntervalSec: drain,
      installedOn: Object.fromEntries(
        servers.map((s) => [s.id, s.services.find((x) => x.name === app)?.installedEditions ?? []]),
      ),
      // A validation clone of this edition: a rollout from validation removes it at the end, on
      // every server that can run one (stopping an instance that is not there is a no-op, and an
      // agent's last report may be a few heartbeats old).
      cloneOn: servers.some((s) => s.services.find((x) => x.name === app)?.besideEdition === editionName)
        ? servers.filter((s) => s.services.find((x) => x.name === app)?.besidePort).map((s) => s.id)
        : [],
      // A lone server is rolled out side by side when its agent can run a second instance and
      // HAProxy's runtime API can switch to it and back.
      beside:
        servers.length === 1 &&
        !!servers[0]!.services.find((x) => x.name === app)?.besidePort &&
        (await store.getClusterLb(cluster))?.mode === 'haproxy-runtime',
    };
    return { input, servers };
  }

  /** The atomic strategy's switch is one exchange on HAProxy's runtime API: refuse it without one. */
  async function atomicPossible(cluster: string, strategy: 'grouped' | 'atomic'): Promise<void> {
    if (strategy !== 'atomic') return;
    const lb = await store.getClusterLb(cluster);
    if (lb?.mode !== 'haproxy-runtime') {
      throw new ApiError(
        'PRECONDITION_FAILED',
        `The atomic strategy switches both halves of cluster "${cluster}" in one exchange on HAProxy's runtime API, and ${lb ? 'its load balancer is configured gate-only' : 'no load balancer is configured for it'}. Configure it with \`rollgate lb configure --cluster ${cluster} --backend <name> --socket <path>\`, or use \`--strategy grouped\`.`,
      );
    }
  }

  /** Removes the routing rules that send pilot requests to `edition` (its clone is going away). */
  async function liftPilot(cluster: string, edition: string, actor: string): Promise<void> {
    if (!routing) return;
    const current = await routing.get(cluster);
    const kept = current.rules.filter((r) => r.edition !== edition);
    if (kept.length === current.rules.length) return;
    await routing.set(
      cluster,
      kept.map(({ description: _d, backend: _b, ...rule }) => rule as RoutingRule),
      undefined,
      actor,
    );
  }

  async function start(plan: Plan, actor: string): Promise<RunRecord> {
    await noClash(plan.cluster);
    // An EngineError goes to the router as it is: errors.ts maps it (docs/adr/0042).
    return engine.createRun(plan, actor);
  }

  /** The edition active before the current one: the last finished run that moved the target to it. */
  async function previousEdition(
    app: string,
    cluster: string,
    current: string | undefined,
  ): Promise<string | undefined> {
    const runs = await store.listRuns({ statuses: ['succeeded'], limit: 200 });
    const last = runs.find(
      (r) =>
        r.plan.cluster === cluster &&
        r.plan.service === app &&
        r.plan.toEdition.name === current &&
        r.plan.fromEdition,
    );
    return last?.plan.fromEdition?.name;
  }

  return {
    async install(input, actor) {
      const { input: ri } = await common(input.app, input.cluster, input.edition);
      return start(compileDistribution(ri), actor);
    },

    async activate(input, actor) {
      const { input: ri, servers } = await common(
        input.app,
        input.cluster,
        input.edition,
        input.drainageIntervalSec,
      );
      if (!input.acceptDowntime) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `Simple activation stops all ${servers.length} servers of cluster "${input.cluster}" at once: the service is DOWN until ${input.edition} has started. Pass --accept-downtime (acceptDowntime: true) to go ahead, or use \`rollgate edition rollout\` to replace the edition without interruption.`,
        );
      }
      return start(compileSimpleActivation(ri), actor);
    },

    async rollout(input, actor) {
      const { input: ri } = await common(input.app, input.cluster, input.edition, input.drainageIntervalSec);
      await atomicPossible(input.cluster, input.strategy);
      // Rollout from validation: the pilot is over. Rules to the clone would send their requests
      // to instances that stop at the end of the run; everyone moves to the edition with it.
      if (ri.cloneOn?.length) await liftPilot(input.cluster, input.edition, actor);
      return start(
        compileRollout(
          { ...ri, strategy: input.strategy, groupSize: input.groupSize, reset: input.reset },
          'rollout',
        ),
        actor,
      );
    },

    // The preview the planner shows: compiled from the same RolloutInput and refused for the same
    // reasons as `rollout`, so what the console shows is what would run. Whether another run holds
    // the cluster is left to the start, as for an upgrade's plan: a busy cluster can still be planned.
    async plan(input) {
      const { input: ri } = await common(input.app, input.cluster, input.edition, input.drainageIntervalSec);
      await atomicPossible(input.cluster, input.strategy);
      const plan = compileRollout(
        { ...ri, strategy: input.strategy, groupSize: input.groupSize, reset: input.reset },
        'rollout',
      );
      // A rollout has no readiness gates and starts at once.
      return { ...plan, readiness: [], schedule: null };
    },

    async validate(input, actor) {
      const { input: ri, servers } = await common(input.app, input.cluster, input.edition);
      const lb = await store.getClusterLb(input.cluster);
      const without = servers.filter((s) => !s.services.find((x) => x.name === input.app)?.besidePort);
      if (lb?.mode !== 'haproxy-runtime' || without.length > 0) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `A validation runs ${input.edition} on second instances beside the current ones, in cluster "${input.cluster}"'s validation backend: ${
            lb?.mode !== 'haproxy-runtime'
              ? `the cluster needs HAProxy's runtime API (rollgate lb configure --cluster ${input.cluster} --backend <name> --socket <path>)`
              : `${without.map((s) => s.id).join(', ')} have no beside port (services[].beside.port in their agent config)`
          }.`,
        );
      }
      return start(compileValidation({ ...ri, cloneSize: input.cloneSize }), actor);
    },

    async deactivate(input, actor) {
      const { input: ri, servers } = await common(input.app, input.cluster, input.edition);
      if (activeOf(servers, input.app) === input.edition) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `Edition ${input.edition} is the ACTIVE edition of cluster "${input.cluster}": it is replaced, not deactivated. Roll another edition out (\`rollgate edition rollout\` or \`edition backout\`).`,
        );
      }
      const plan = compileDeactivation(ri);
      await liftPilot(input.cluster, input.edition, actor);
      return start(plan, actor);
    },

    async backout(input, actor) {
      await atomicPossible(input.cluster, input.strategy);
      const servers = await target(input.app, input.cluster);
      const current = activeOf(servers, input.app);
      const back = input.edition ?? (await previousEdition(input.app, input.cluster, current));
      if (!back) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `No previous edition is recorded for ${input.app} on cluster "${input.cluster}" (active: ${current ?? 'mixed'}). Name the edition to go back to with --edition.`,
        );
      }
      const { input: ri } = await common(input.app, input.cluster, back, input.drainageIntervalSec);
      return start(
        compileRollout(
          { ...ri, strategy: input.strategy, groupSize: input.groupSize, reset: input.reset },
          'backout',
        ),
        actor,
      );
    },
  };
}
