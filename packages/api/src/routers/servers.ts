import { t, viewer } from '../trpc';
import { serversInput, serversPageInput } from '../inputs';

export const serversRouter = t.router({
  list: viewer.input(serversInput).query(({ ctx, input }) => ctx.services.queries.servers(input)),
  page: viewer.input(serversPageInput).query(({ ctx, input }) => ctx.services.queries.serversPage(input)),
});
