import { t, viewer } from '../trpc';

export const auditRouter = t.router({
  list: viewer.query(({ ctx }) => ctx.services.queries.audit()),
});
