// The edition manager's verbs on a target (an application on one cluster): distribute, simple
// activation, rollout and back-out. Each compiles a plan in the domain and hands it to the durable
// engine as a run of its own, so it is paused, resumed, logged and audited like an upgrade.
import {
  compileDistribution,
  compileRollout,
  compileSimpleActivation,
  type Edition,
  type Plan,
  type RolloutInput,
} from '@rollgate/domain';
import { ApiError, type ApiServices } from '@rollgate/api';
import {
  EngineError,
  type Engine,
  type EngineStore,
  type RunRecord,
  type ServerRecord,
} from '@rollgate/engine';

export interface EditionVerbsOptions {
  store: EngineStore;
  engine: Engine;
}

type Verbs = Omit<ApiServices['editions'], 'upload'>;

/**
 * The atomic plan compiles (see compileRollout), but the engine cannot yet make its switch step's
 * single load-balancer exchange: refuse rather than run half of it.
 */
function refuseAtomic(strategy: 'grouped' | 'atomic'): void {
  if (strategy === 'atomic') {
    throw new ApiError(
      'PRECONDITION_FAILED',
      'The atomic strategy is not available yet (its one-exchange switch is still being built). Use the grouped strategy: `--strategy grouped --group-size N`.',
    );
  }
}

export function createEditionVerbs({ store, engine }: EditionVerbsOptions): Verbs {
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
    const drain = drainageIntervalSec ?? (await store.getClusterLb(cluster))?.drainageIntervalSec ?? 30;
    const input: RolloutInput = {
      cluster,
      service: app,
      servers: servers.map((s) => ({ id: s.id, cluster: s.cluster, role: s.role, hostname: s.hostname })),
      toEdition,
      ...(fromEdition ? { fromEdition } : {}),
      drainageIntervalSec: drain,
      installedOn: Object.fromEntries(
        servers.map((s) => [s.id, s.services.find((x) => x.name === app)?.installedEditions ?? []]),
      ),
    };
    return { input, servers };
  }

  async function start(plan: Plan, actor: string): Promise<RunRecord> {
    await noClash(plan.cluster);
    try {
      return await engine.createRun(plan, actor);
    } catch (err) {
      if (err instanceof EngineError) throw new ApiError(err.code, err.message);
      throw err;
    }
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
      refuseAtomic(input.strategy);
      return start(
        compileRollout(
          { ...ri, strategy: input.strategy, groupSize: input.groupSize, reset: input.reset },
          'rollout',
        ),
        actor,
      );
    },

    async backout(input, actor) {
      refuseAtomic(input.strategy);
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
