import { t, procedure } from '../trpc';
import { portalDecideInput, portalRef, portalSignOffInput } from '../inputs';

/**
 * The customer's portal: every procedure takes the link's token and reaches that run only. The
 * token is the only credential; it opens nothing else (operator procedures refuse it).
 */
export const portalRouter = t.router({
  view: procedure.input(portalRef).query(({ ctx, input }) => ctx.services.portal.view(input.token)),
  signOff: procedure
    .input(portalSignOffInput)
    .mutation(({ ctx, input }) => ctx.services.portal.signOff(input.token, input.decision, input.comment)),
  decideRollback: procedure
    .input(portalDecideInput)
    .mutation(({ ctx, input }) =>
      ctx.services.portal.decideRollback(input.token, input.decision, input.comment),
    ),
});
