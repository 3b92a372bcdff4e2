import { ApiError, type ApiServices } from '@rollgate/api';
import type { CoordinatorServicesOptions, SharedServices } from './options';

/** A cluster's settings (its test machine must have connected; its routing rules kept). */
export function createClusterServices(
  opts: CoordinatorServicesOptions,
  shared: SharedServices,
): ApiServices['clusters'] {
  const { store } = opts;
  const { audit } = shared;

  return {
    getSettings: (cluster) => store.getClusterSettings(cluster),
    async setSettings(cluster, settings, actor) {
      if (settings.tests && !(await store.getServer(settings.tests.testMachine))) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          `The test machine "${settings.tests.testMachine}" has never connected. Start its agent (any cluster) first, then configure the tests. Nothing was saved.`,
        );
      }
      // Routing rules are set on their own (lb routes set): configuring the rest keeps them.
      const routes = (await store.getClusterSettings(cluster)).routing;
      await store.setClusterSettings(cluster, {
        ...settings,
        ...(routes && !settings.routing ? { routing: routes } : {}),
      });
      await audit({
        actor,
        action: 'cluster.configure',
        target: cluster,
        details: { ...settings },
      });
      return settings;
    },
  };
}
