import { createQueries, type ApiServices } from '@rollgate/api';
import type { AuditEvent } from '@rollgate/engine';
import { createRoutingService } from '../lb/routing-service';
import { auditedTokens } from '../http/service-tokens';
import { agentServices, authServices } from './auth';
import { createClusterServices } from './clusters';
import { createEditionServices } from './editions';
import { createLbServices } from './lb';
import { createPortalServices } from './portal';
import type { CoordinatorServicesOptions, SharedServices } from './options';
import { createRunServices } from './runs';

export type { CoordinatorServicesOptions } from './options';

/**
 * The coordinator's implementation of the API's services (packages/api api-services.ts), composed
 * from one module per area; the read models are the API's queries over this coordinator's store.
 */
export function createCoordinatorServices(opts: CoordinatorServicesOptions): ApiServices {
  const { store } = opts;
  const agents = opts.agents;
  const shared: SharedServices = {
    queries: createQueries({
      store,
      ...(agents ? { transports: (ids: readonly string[]) => agents.transports(ids) } : {}),
    }),
    audit: (event: Omit<AuditEvent, 'at'>) => store.appendAudit({ at: opts.clock.now(), ...event }),
    routing: createRoutingService({ store, clock: opts.clock }),
  };
  return {
    version: opts.version,
    queries: shared.queries,
    auth: authServices(opts.auth, opts.tokens),
    ...(agents ? { agents: agentServices(agents) } : {}),
    ...(opts.tokens ? { tokens: auditedTokens(opts.tokens, shared.audit) } : {}),
    runs: createRunServices(opts, shared),
    portal: createPortalServices(opts, shared),
    clusters: createClusterServices(opts, shared),
    lb: createLbServices(opts, shared),
    editions: createEditionServices(opts, shared),
  };
}
