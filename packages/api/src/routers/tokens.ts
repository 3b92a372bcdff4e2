import { t, admin } from '../trpc';
import {
  createServiceToken,
  listServiceTokens,
  revokeServiceToken,
  tokenCreateInput,
  tokenRef,
} from '../tokens-router';

/** Service tokens for CI (docs/adr/0031): a signed-in administrator's, never a token's. */
export const tokensRouter = t.router({
  create: admin.input(tokenCreateInput).mutation(({ ctx, input }) => createServiceToken(ctx, input)),
  list: admin.query(({ ctx }) => listServiceTokens(ctx)),
  revoke: admin.input(tokenRef).mutation(({ ctx, input }) => revokeServiceToken(ctx, input.name)),
});
