import type { QueryServices } from '@rollgate/api';
import type { AuditEvent, Clock, Engine, EngineStore } from '@rollgate/engine';
import type { AgentIdentity } from '../identity/agent-identity';
import type { ArtifactStore } from '../editions/artifact-store';
import type { AuthService } from '../http/auth-service';
import type { LbAdapter } from '../lb/lb-adapter';
import type { RoutingService } from '../lb/routing-service';
import type { ServiceTokens } from '../http/service-tokens';

export interface CoordinatorServicesOptions {
  version: string;
  /** Accounts, sessions and portal links. */
  auth: AuthService;
  store: EngineStore;
  engine: Engine;
  artifacts: ArtifactStore;
  clock: Clock;
  lb: LbAdapter;
  /** Join tokens and revocation (docs/adr/0013); absent when agents connect insecurely. */
  agents?: AgentIdentity;
  /** Service tokens for CI (docs/adr/0031); without them an `rgt_` token opens nothing. */
  tokens?: ServiceTokens;
}

/** What every area's services share: the options, the read models, the audit writer, routing. */
export interface SharedServices {
  queries: QueryServices;
  /** Writes an audit row stamped by the coordinator's clock. */
  audit: (event: Omit<AuditEvent, 'at'>) => Promise<void>;
  routing: RoutingService;
}
