import { t, viewer, admin } from '../trpc';
import {
  clusterRef,
  haproxyConfigInput,
  lbConfigureInput,
  routesSetInput,
  clusterSettingsInput,
} from '../inputs';

export const clusterRouter = t.router({
  settings: viewer
    .input(clusterRef)
    .query(({ ctx, input }) => ctx.services.clusters.getSettings(input.cluster)),
  configure: admin
    .input(clusterSettingsInput)
    .mutation(({ ctx, input }) =>
      ctx.services.clusters.setSettings(input.cluster, input.settings, ctx.actor),
    ),
});

export const lbRouter = t.router({
  configure: admin
    .input(lbConfigureInput)
    .mutation(({ ctx, input }) => ctx.services.lb.configure(input.cluster, input.config, ctx.actor)),
  clear: admin
    .input(clusterRef)
    .mutation(({ ctx, input }) => ctx.services.lb.clear(input.cluster, ctx.actor)),
  show: viewer.input(clusterRef).query(({ ctx, input }) => ctx.services.lb.show(input.cluster)),
  traffic: viewer.input(clusterRef).query(({ ctx, input }) => ctx.services.lb.traffic(input.cluster)),
  haproxyConfig: viewer
    .input(haproxyConfigInput)
    .query(({ ctx, input }) => ctx.services.lb.haproxyConfig(input)),
  routes: viewer.input(clusterRef).query(({ ctx, input }) => ctx.services.lb.routes(input.cluster)),
  setRoutes: admin
    .input(routesSetInput)
    .mutation(({ ctx, input }) =>
      ctx.services.lb.setRoutes(input.cluster, input.rules, input.mapDir, ctx.actor, ctx.from),
    ),
});
