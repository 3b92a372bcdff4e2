import { t, procedure } from '../trpc';
import { portalDecideInput, portalRef, portalSignOffInput } from '../inputs';

/**
 * The customer's portal: every procedure takes the link's token and reaches that run only. The
 * token is the only credential; it opens nothing else (operator procedures refuse it).
 */
export const portalRouter = t.router({
  view: procedure.input(portalRef).query(async ({ ctx, input }) => {
    const { run, recipient } = await ctx.services.runs.openPortal(input.token);
    return ctx.services.queries.portalView(run, recipient);
  }),
  signOff: procedure.input(portalSignOffInput).mutation(async ({ ctx, input }) => {
    const { run, recipient } = await ctx.services.runs.openPortal(input.token);
    const done = await ctx.services.runs.signOff(
      run.id,
      input.decision,
      input.comment,
      `customer:${recipient}`,
    );
    return ctx.services.queries.portalView(done, recipient);
  }),
  decideRollback: procedure.input(portalDecideInput).mutation(async ({ ctx, input }) => {
    const { run, recipient } = await ctx.services.runs.openPortal(input.token);
    const done = await ctx.services.runs.decideRollback(
      run.id,
      input.decision,
      input.comment,
      `customer:${recipient}`,
    );
    return ctx.services.queries.portalView(done, recipient);
  }),
});
