import { ApiError } from '../errors';
import { t, operator } from '../trpc';
import { agentRef, joinTokenInput } from '../inputs';
import type { ApiContext } from '../api-services';

/** Agent identity (docs/adr/0013): join tokens for enrolment, revocation. Both audited. */
export const agentsRouter = t.router({
  /** A single-use join token; its text is in this answer only (stored as a hash). */
  createJoinToken: operator.input(joinTokenInput).mutation(({ ctx, input }) =>
    agentIdentity(ctx).createJoinToken(
      {
        ttlMs: input.ttlSeconds * 1000,
        cluster: input.cluster,
        ...(input.serverId ? { serverId: input.serverId } : {}),
      },
      ctx.actor,
      ctx.from,
    ),
  ),
  revoke: operator
    .input(agentRef)
    .mutation(({ ctx, input }) => agentIdentity(ctx).revoke(input.serverId, ctx.actor, ctx.from)),
});

/** The coordinator's agent identity service (docs/adr/0013), or a refusal saying why there is none. */
function agentIdentity(ctx: ApiContext) {
  if (!ctx.services.agents) {
    throw new ApiError(
      'PRECONDITION_FAILED',
      'This coordinator runs with ROLLGATE_INSECURE_AGENTS: agents connect without identities, so there are no join tokens or revocations. Restart it without that setting to use mTLS.',
    );
  }
  return ctx.services.agents;
}
