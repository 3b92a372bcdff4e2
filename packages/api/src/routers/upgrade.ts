import { t, viewer, operator, admin } from '../trpc';
import {
  skipDrainInput,
  logsInput,
  runControl,
  runRef,
  signOffInput,
  statusInput,
  upgradeInput,
  decideRollbackInput,
  noticeInput,
  rollbackInput,
  serverInRun,
  waiveInput,
  watchInput,
  portalLinkInput,
  portalLinkRef,
} from '../inputs';
import { watchRun } from '../console-views';

export const upgradeRouter = t.router({
  plan: viewer.input(upgradeInput).query(({ ctx, input }) => ctx.services.runs.plan(input)),
  start: operator
    .input(upgradeInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.runs.start(input, ctx.actor, ctx.user)),
    ),
  list: viewer.query(({ ctx }) => ctx.services.queries.runs()),
  status: viewer.input(statusInput).query(({ ctx, input }) => ctx.services.queries.runStatus(input.runId)),
  logs: viewer.input(logsInput).query(({ ctx, input }) => ctx.services.queries.logs(input)),
  pause: operator
    .input(runControl)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.runs.pause(input.runId, ctx.actor, input.reason)),
    ),
  resume: operator
    .input(runRef)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.runs.resume(input.runId, ctx.actor)),
    ),
  abort: operator
    .input(runControl)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.runs.abort(input.runId, ctx.actor, input.reason)),
    ),
  skipDrain: operator
    .input(skipDrainInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.runs.skipDrain(input.runId, input.serverId, ctx.actor)),
    ),
  signOff: operator
    .input(signOffInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(
        await ctx.services.runs.signOff(input.runId, input.decision, input.comment, ctx.actor),
      ),
    ),
  skipServer: operator
    .input(serverInRun)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(
        await ctx.services.runs.skipServer(input.runId, input.serverId, ctx.actor),
      ),
    ),
  exclude: operator
    .input(serverInRun)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(await ctx.services.runs.exclude(input.runId, input.serverId, ctx.actor)),
    ),
  rollbackOptions: viewer
    .input(runRef)
    .query(({ ctx, input }) => ctx.services.runs.rollbackOptions(input.runId)),
  rollback: operator
    .input(rollbackInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(
        await ctx.services.runs.rollback(input.runId, ctx.actor, input.method, input.reason),
      ),
    ),
  decideRollback: operator
    .input(decideRollbackInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(
        await ctx.services.runs.decideRollback(input.runId, input.decision, input.comment, ctx.actor),
      ),
    ),
  waive: admin
    .input(waiveInput)
    .mutation(async ({ ctx, input }) =>
      ctx.services.queries.runView(
        await ctx.services.runs.waive(input.runId, input.gate, input.reason, ctx.actor),
      ),
    ),
  notice: viewer.input(noticeInput).query(async ({ ctx, input }) => ({
    text: await ctx.services.runs.notice(input.runId, input.timeZone),
  })),
  evidence: viewer.input(runRef).query(({ ctx, input }) => ctx.services.runs.evidence(input.runId)),
  /** A link for the customer's portal of this run (sign-off, rollback authorisation), expiring. */
  portalLink: operator.input(portalLinkInput).mutation(async ({ ctx, input }) => {
    const { token, expiresAt, id } = await ctx.services.runs.createPortalLink(input, ctx.actor);
    return { token, path: `/portal/${token}`, expiresAt, id };
  }),
  /** The run's portal links (ids, recipients, expiry, revocation), newest first; never a token. */
  portalLinks: viewer.input(runRef).query(({ ctx, input }) => ctx.services.runs.portalLinks(input.runId)),
  /** Withdraws a portal link at once: its token opens nothing afterwards. Audited. */
  revokePortalLink: operator
    .input(portalLinkRef)
    .mutation(({ ctx, input }) => ctx.services.runs.revokePortalLink(input, ctx.actor)),
  /** The live view over SSE: the run view when it changes and its new log lines (filtered). */
  watch: viewer.input(watchInput).subscription(async function* ({ ctx, input, signal }) {
    await ctx.services.queries.requireRun(input.runId);
    // Woken by the run's changes in this process (run-changes.ts); the interval is the fallback.
    const follower = ctx.services.runChanges?.follow(input.runId);
    // A client that leaves ends the wait at once, not at the fallback interval.
    signal?.addEventListener('abort', () => follower?.close(), { once: true });
    try {
      yield* watchRun(
        input,
        () => ctx.services.queries.runStatus(input.runId),
        (afterId) => ctx.services.queries.watchLogs(input, afterId),
        signal,
        follower ? (ms) => follower.wait(ms) : undefined,
        ctx.services.runChanges ? () => ctx.services.runChanges!.linesStored(input.runId) : undefined,
      );
    } finally {
      follower?.close();
    }
  }),
});
