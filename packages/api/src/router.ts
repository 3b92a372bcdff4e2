import { initTRPC, TRPCError } from '@trpc/server';
import { PlanValidationError } from '@rollgate/domain';
import { StoreConflictError, type ActionRecord, type RunRecord, type StepRecord } from '@rollgate/engine';
import type { PlanStep } from '@rollgate/domain';
import { ApiError } from './errors';
import {
  editionUploadInput,
  editionsListInput,
  clusterRef,
  haproxyConfigInput,
  lbConfigureInput,
  skipDrainInput,
  logsInput,
  runControl,
  runRef,
  serversInput,
  signOffInput,
  statusInput,
  upgradeInput,
  clusterSettingsInput,
  decideRollbackInput,
  noticeInput,
  rollbackInput,
  serverInRun,
  waiveInput,
  serversPageInput,
  watchInput,
  editionActivateInput,
  editionBackoutInput,
  editionInstallInput,
  editionRolloutInput,
  editionStatusInput,
} from './inputs';
import { editionStates, pageServers, watchRun } from './console-views';
import type { ApiContext } from './services';

type Issue = { code: string; message: string; hint: string };

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const issues: Issue[] =
      cause instanceof ApiError || cause instanceof PlanValidationError ? cause.issues : [];
    return { ...shape, data: { ...shape.data, issues, stack: undefined } };
  },
});

/** Maps the services' own errors onto tRPC codes so clients see a clear, typed failure. */
const errorMapping = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof PlanValidationError) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
    }
    if (cause instanceof ApiError) {
      throw new TRPCError({ code: cause.code, message: cause.message, cause });
    }
    if (cause instanceof StoreConflictError) {
      throw new TRPCError({ code: 'CONFLICT', message: cause.message, cause });
    }
  }
  return result;
});

const procedure = t.procedure.use(errorMapping);

export interface StepView extends PlanStep {
  status: StepRecord['status'];
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  actions: Pick<
    ActionRecord,
    'id' | 'serverId' | 'status' | 'error' | 'attempt' | 'dispatchedAt' | 'finishedAt' | 'result'
  >[];
}

export interface RunView {
  run: Omit<RunRecord, 'plan'> & { plan: Omit<RunRecord['plan'], 'steps'> };
  steps: StepView[];
  progress: { done: number; total: number };
  /** Servers this run has taken out of rotation and not yet put back. */
  outOfRotation: { serverId: string; stepIndex: number; closedAt: number }[];
}

async function runView(ctx: ApiContext, run: RunRecord): Promise<RunView> {
  const [steps, actions, ledger] = await Promise.all([
    ctx.services.store.getSteps(run.id),
    ctx.services.store.getActions(run.id),
    ctx.services.store.openLedger(run.id),
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
        .map(({ id, serverId, status, error, attempt, dispatchedAt, finishedAt, result }) => ({
          id,
          serverId,
          status,
          error,
          attempt,
          dispatchedAt,
          finishedAt,
          result,
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

async function requireRun(ctx: ApiContext, runId: string | undefined): Promise<RunRecord> {
  if (runId) {
    const run = await ctx.services.store.getRun(runId);
    if (!run) throw new ApiError('NOT_FOUND', `No run "${runId}". List runs with \`rollgate upgrade list\`.`);
    return run;
  }
  const [latest] = await ctx.services.store.listRuns({ limit: 1 });
  if (!latest)
    throw new ApiError('NOT_FOUND', 'There is no run yet. Start one with `rollgate upgrade start`.');
  return latest;
}

export const appRouter = t.router({
  health: procedure.query(({ ctx }) => ({ ok: true as const, version: ctx.services.version })),

  servers: t.router({
    list: procedure.input(serversInput).query(({ ctx, input }) => ctx.services.store.listServers(input)),
    page: procedure
      .input(serversPageInput)
      .query(async ({ ctx, input }) => pageServers(await ctx.services.store.listServers({}), input)),
  }),

  editions: t.router({
    list: procedure
      .input(editionsListInput)
      .query(({ ctx, input }) => ctx.services.store.listEditions(input.app)),
    upload: procedure
      .input(editionUploadInput)
      .mutation(({ ctx, input }) => ctx.services.editions.upload(input, ctx.actor)),
    install: procedure
      .input(editionInstallInput)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.editions.install(input, ctx.actor)),
      ),
    activate: procedure
      .input(editionActivateInput)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.editions.activate(input, ctx.actor)),
      ),
    rollout: procedure
      .input(editionRolloutInput)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.editions.rollout(input, ctx.actor)),
      ),
    backout: procedure
      .input(editionBackoutInput)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.editions.backout(input, ctx.actor)),
      ),
    /** The seed's edition metadata: each edition's state per target, which one is the base. */
    status: procedure.input(editionStatusInput).query(async ({ ctx, input }) => {
      const editions = await ctx.services.store.listEditions(input.app);
      const servers = (
        await ctx.services.store.listServers(input.cluster ? { cluster: input.cluster } : {})
      ).filter((s) => s.services.some((x) => x.name === input.app));
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
          .map(({ cluster, state, activeOn, installedOn, servers: n }) => ({
            cluster,
            state,
            activeOn,
            installedOn,
            servers: n,
          })),
      }));
    }),
    /** Each edition's state (ACTIVE / INACTIVE) per cluster, with where it is installed. */
    states: procedure
      .input(editionsListInput)
      .query(async ({ ctx, input }) =>
        editionStates(
          await ctx.services.store.listEditions(input.app),
          await ctx.services.store.listServers({}),
        ),
      ),
  }),

  upgrade: t.router({
    plan: procedure.input(upgradeInput).query(({ ctx, input }) => ctx.services.runs.plan(input)),
    start: procedure.input(upgradeInput).mutation(async ({ ctx, input }) => {
      const run = await ctx.services.runs.start(input, ctx.actor);
      return runView(ctx, run);
    }),
    list: procedure.query(async ({ ctx }) => {
      const runs = await ctx.services.store.listRuns({ limit: 100 });
      return runs.map(({ plan, ...r }) => ({
        ...r,
        cluster: plan.cluster,
        app: plan.service,
        edition: plan.toEdition.name,
        procedure: plan.procedure,
        steps: plan.steps.length,
      }));
    }),
    status: procedure
      .input(statusInput)
      .query(async ({ ctx, input }) => runView(ctx, await requireRun(ctx, input.runId))),
    logs: procedure.input(logsInput).query(async ({ ctx, input }) => {
      await requireRun(ctx, input.runId);
      return ctx.services.store.queryLogs(input);
    }),
    pause: procedure
      .input(runControl)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.pause(input.runId, ctx.actor, input.reason)),
      ),
    resume: procedure
      .input(runRef)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.resume(input.runId, ctx.actor)),
      ),
    abort: procedure
      .input(runControl)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.abort(input.runId, ctx.actor, input.reason)),
      ),
    skipDrain: procedure.input(skipDrainInput).mutation(async ({ ctx, input }) => {
      await ctx.services.runs.skipDrain(input.runId, input.serverId, ctx.actor);
      return runView(ctx, await requireRun(ctx, input.runId));
    }),
    signOff: procedure
      .input(signOffInput)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.signOff(input.runId, input.decision, input.comment, ctx.actor)),
      ),
    skipServer: procedure
      .input(serverInRun)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.skipServer(input.runId, input.serverId, ctx.actor)),
      ),
    exclude: procedure
      .input(serverInRun)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.exclude(input.runId, input.serverId, ctx.actor)),
      ),
    rollbackOptions: procedure
      .input(runRef)
      .query(({ ctx, input }) => ctx.services.runs.rollbackOptions(input.runId)),
    rollback: procedure
      .input(rollbackInput)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.rollback(input.runId, ctx.actor, input.method, input.reason)),
      ),
    decideRollback: procedure
      .input(decideRollbackInput)
      .mutation(async ({ ctx, input }) =>
        runView(
          ctx,
          await ctx.services.runs.decideRollback(input.runId, input.decision, input.comment, ctx.actor),
        ),
      ),
    waive: procedure
      .input(waiveInput)
      .mutation(async ({ ctx, input }) =>
        runView(ctx, await ctx.services.runs.waive(input.runId, input.gate, input.reason, ctx.actor)),
      ),
    notice: procedure.input(noticeInput).query(async ({ ctx, input }) => ({
      text: await ctx.services.runs.notice(input.runId, input.timeZone),
    })),
    evidence: procedure.input(runRef).query(({ ctx, input }) => ctx.services.runs.evidence(input.runId)),
    /** The live view over SSE: the run view when it changes and its new log lines (filtered). */
    watch: procedure.input(watchInput).subscription(async function* ({ ctx, input, signal }) {
      await requireRun(ctx, input.runId);
      yield* watchRun(
        input,
        async () => runView(ctx, await requireRun(ctx, input.runId)),
        (afterId) =>
          ctx.services.store.queryLogs({
            runId: input.runId,
            afterId,
            ...(input.serverId ? { serverId: input.serverId } : {}),
            ...(input.stepIndex !== undefined ? { stepIndex: input.stepIndex } : {}),
            ...(input.code ? { code: input.code } : {}),
            limit: 1000,
          }),
        signal,
      );
    }),
  }),

  cluster: t.router({
    settings: procedure
      .input(clusterRef)
      .query(({ ctx, input }) => ctx.services.clusters.getSettings(input.cluster)),
    configure: procedure
      .input(clusterSettingsInput)
      .mutation(({ ctx, input }) =>
        ctx.services.clusters.setSettings(input.cluster, input.settings, ctx.actor),
      ),
  }),

  lb: t.router({
    configure: procedure
      .input(lbConfigureInput)
      .mutation(({ ctx, input }) => ctx.services.lb.configure(input.cluster, input.config, ctx.actor)),
    clear: procedure
      .input(clusterRef)
      .mutation(({ ctx, input }) => ctx.services.lb.clear(input.cluster, ctx.actor)),
    show: procedure.input(clusterRef).query(({ ctx, input }) => ctx.services.lb.show(input.cluster)),
    haproxyConfig: procedure
      .input(haproxyConfigInput)
      .query(({ ctx, input }) => ctx.services.lb.haproxyConfig(input)),
  }),

  audit: t.router({
    list: procedure.query(({ ctx }) => ctx.services.store.listAudit({ limit: 200 })),
  }),
});

export type AppRouter = typeof appRouter;
