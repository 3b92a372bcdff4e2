import { procedure, t } from './trpc';
import { serversRouter } from './routers/servers';
import { editionsRouter } from './routers/editions';
import { upgradeRouter } from './routers/upgrade';
import { clusterRouter, lbRouter } from './routers/clusters';
import { authRouter, usersRouter } from './routers/auth';
import { portalRouter } from './routers/portal';
import { agentsRouter } from './routers/agents';
import { tokensRouter } from './routers/tokens';
import { notifyRouter } from './routers/notify';
import { auditRouter } from './routers/audit';

/**
 * The API: one router per area (routers/*.ts), each procedure parse → one service call → map,
 * merged here. The paths, inputs and outputs are the wire contract web and the CLI import
 * (AppRouter); it only grows.
 */
export const appRouter = t.router({
  health: procedure.query(({ ctx }) => ({ ok: true as const, version: ctx.services.version })),
  servers: serversRouter,
  editions: editionsRouter,
  upgrade: upgradeRouter,
  cluster: clusterRouter,
  lb: lbRouter,
  auth: authRouter,
  users: usersRouter,
  portal: portalRouter,
  agents: agentsRouter,
  tokens: tokensRouter,
  notify: notifyRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
