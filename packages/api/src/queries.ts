import type { PlanStep } from '@rollgate/domain';
import type { ActionRecord, EngineStore, RunRecord, StepRecord } from '@rollgate/engine';
import { ApiError } from './errors';
import type { EditionStatusInput, LogsInput, ServersInput, ServersPageInput, WatchInput } from './inputs';
import { editionStates, pageServers } from './console-views';
import { portalView } from './portal-view';

/** The store's read side: all the read models below need, and nothing that writes. */
export type QueryStore = Pick<
  EngineStore,
  | 'getRun'
  | 'listRuns'
  | 'getSteps'
  | 'getActions'
  | 'openLedger'
  | 'queryLogs'
  | 'listServers'
  | 'getServer'
  | 'pageServers'
  | 'listEditions'
  | 'getClusterSettings'
  | 'listAudit'
>;

export interface QueriesOptions {
  store: QueryStore;
  /** serverId → how its agent last connected; absent: every agent is insecure (no identities). */
  transports?: (serverIds: readonly string[]) => Promise<Record<string, 'mtls' | 'insecure'>>;
}

export interface StepView extends PlanStep {
  status: StepRecord['status'];
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  actions: Pick<
    ActionRecord,
    'id' | 'serverId' | 'status' | 'error' | 'attempt' | 'dispatchedAt' | 'finishedAt' | 'results'
  >[];
}

export interface RunView {
  run: Omit<RunRecord, 'plan'> & { plan: Omit<RunRecord['plan'], 'steps'> };
  steps: StepView[];
  progress: { done: number; total: number };
  /** Servers this run has taken out of rotation and not yet put back. */
  outOfRotation: { serverId: string; stepIndex: number; closedAt: number }[];
}

/**
 * The read models the API answers with, built from the store's read side in one place (the router
 * holds no store: docs/adr/0042). Nothing here writes.
 */
export function createQueries(opts: QueriesOptions) {
  const { store } = opts;

  async function runView(run: RunRecord): Promise<RunView> {
    const [steps, actions, ledger] = await Promise.all([
      store.getSteps(run.id),
      store.getActions(run.id),
      store.openLedger(run.id),
    ]);
    const byIndex = new Map(steps.map((s) => [s.index, s]));
    const views: StepView[] = run.plan.steps.map((ps) => {
      const rec = byIndex.get(ps.index);
      return {
        ...ps,
        status: rec?.status ?? 'pending',
        attempt: rec?.attempt ?? 0,
        startedAt: rec?.startedAt ?? null,
        finishedAt: rec?.finishedAt ?? null,
        error: rec?.error ?? null,
        actions: actions
          .filter((a) => a.stepIndex === ps.index)
          .map(({ id, serverId, status, error, attempt, dispatchedAt, finishedAt, results }) => ({
            id,
            serverId,
            status,
            error,
            attempt,
            dispatchedAt,
            finishedAt,
            results,
          })),
      };
    });
    const { steps: _omit, ...planRest } = run.plan;
    return {
      run: { ...run, plan: planRest },
      steps: views,
      progress: {
        done: views.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length,
        total: views.length,
      },
      outOfRotation: ledger.map((l) => ({
        serverId: l.serverId,
        stepIndex: l.stepIndex,
        closedAt: l.closedAt,
      })),
    };
  }

  /** The run named, or the latest when none is; NOT_FOUND saying how to find one. */
  async function requireRun(runId: string | undefined): Promise<RunRecord> {
    if (runId) {
      const run = await store.getRun(runId);
      if (!run)
        throw new ApiError('NOT_FOUND', `No run "${runId}". List runs with \`rollgate upgrade list\`.`);
      return run;
    }
    const [latest] = await store.listRuns({ limit: 1 });
    if (!latest)
      throw new ApiError('NOT_FOUND', 'There is no run yet. Start one with `rollgate upgrade start`.');
    return latest;
  }

  /**
   * `insecure`: the agent's stream is plaintext (ROLLGATE_INSECURE_AGENTS), for the console to flag;
   * read for these rows only (the fleet page polls a page, not the fleet). Always set; optional in
   * the type so rows built before it (fixtures) stay valid.
   */
  async function withTransport<S extends { id: string }>(rows: S[]): Promise<(S & { insecure?: boolean })[]> {
    const transports = opts.transports ? await opts.transports(rows.map((s) => s.id)) : {};
    return rows.map((s) => ({ ...s, insecure: !opts.transports || transports[s.id] === 'insecure' }));
  }

  return {
    /** A run by id; null when unknown. */
    run: (runId: string) => store.getRun(runId),
    /** A server by id; null when unknown. */
    server: (serverId: string) => store.getServer(serverId),
    requireRun,
    /** A run's steps with their actions, progress and the servers it holds out of rotation. */
    runView,
    /** The run (or the latest) as a RunView. */
    async runStatus(runId: string | undefined): Promise<RunView> {
      return runView(await requireRun(runId));
    },
    /** The last 100 runs, newest first, each with what it moves where. */
    async runs() {
      const runs = await store.listRuns({ limit: 100 });
      return runs.map(({ plan, ...r }) => ({
        ...r,
        cluster: plan.cluster,
        app: plan.service,
        edition: plan.toEdition.name,
        procedure: plan.procedure,
        steps: plan.steps.length,
      }));
    },
    /** A run's log lines (filtered); NOT_FOUND for an unknown run. */
    async logs(input: LogsInput) {
      await requireRun(input.runId);
      return store.queryLogs(input);
    },
    /** The live view's new log lines after `afterId`, filtered like the watch asks. */
    watchLogs(input: WatchInput, afterId: number) {
      return store.queryLogs({
        runId: input.runId,
        afterId,
        ...(input.serverId ? { serverId: input.serverId } : {}),
        ...(input.stepIndex !== undefined ? { stepIndex: input.stepIndex } : {}),
        ...(input.code ? { code: input.code } : {}),
        limit: 1000,
      });
    },
    async servers(input: ServersInput) {
      return withTransport(await store.listServers(input));
    },
    async serversPage(input: ServersPageInput) {
      const page = await pageServers(store, input);
      return { ...page, rows: await withTransport(page.rows) };
    },
    editions: (app: string | undefined) => store.listEditions(app),
    /** The seed's edition metadata: each edition's state per target, which one is the base. */
    async editionStatus(input: EditionStatusInput) {
      const editions = await store.listEditions(input.app);
      const servers = (await store.listServers(input.cluster ? { cluster: input.cluster } : {})).filter((s) =>
        s.services.some((x) => x.name === input.app),
      );
      const states = editionStates(editions, servers);
      return editions.map((e, i) => ({
        app: e.app,
        edition: e.name,
        description: e.description ?? '',
        sha256: e.sha256,
        size: e.size,
        base: i === 0,
        createdAt: e.createdAt,
        createdBy: e.createdBy,
        targets: states
          .filter((st) => st.edition === e.name)
          .map(({ cluster, state, activeOn, installedOn, cloneOn, servers: n }) => ({
            cluster,
            state,
            activeOn,
            installedOn,
            cloneOn,
            servers: n,
          })),
      }));
    },
    /** Each edition's state (ACTIVE / VALIDATING / INACTIVE) per cluster, with where it is installed. */
    async editionStates(app: string | undefined) {
      return editionStates(await store.listEditions(app), await store.listServers({}));
    },
    /** What the customer sees of a run through their portal link. */
    portalView: (run: RunRecord, recipient: string) => portalView(store, run, recipient),
    audit: () => store.listAudit({ limit: 200 }),
  };
}

/** The API's read models (createQueries): the coordinator builds them over its store. */
export type QueryServices = ReturnType<typeof createQueries>;
