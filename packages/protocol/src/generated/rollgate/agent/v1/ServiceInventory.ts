// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  ServiceHealth as _rollgate_agent_v1_ServiceHealth,
  ServiceHealth__Output as _rollgate_agent_v1_ServiceHealth__Output,
} from '../../../rollgate/agent/v1/ServiceHealth';

export interface ServiceInventory {
  name?: string;
  installedEditions?: string[];
  activeEdition?: string;
  health?: _rollgate_agent_v1_ServiceHealth;
  activeConnections?: number;
  /**
   * The TCP port the service listens on (where the load balancer sends traffic).
   */
  port?: number;
  /**
   * Where a second instance of the service listens while a single server is rolled out side by
   * side (StartBesideOp); 0 when the agent has none configured.
   */
  besidePort?: number;
  /**
   * The edition the second instance runs now (a validation clone, or mid single-server rollout);
   * empty when none runs.
   */
  besideEdition?: string;
  /**
   * Where the service answers its own health check (services[].healthUrl): the path with its
   * query, e.g. "/health", and the port. The generated HAProxy configuration checks the service
   * there (docs/adr/0017). Empty / 0 when the health URL is not plain http.
   */
  healthPath?: string;
  healthPort?: number;
}

export interface ServiceInventory__Output {
  name: string;
  installedEditions: string[];
  activeEdition: string;
  health: _rollgate_agent_v1_ServiceHealth__Output;
  activeConnections: number;
  /**
   * The TCP port the service listens on (where the load balancer sends traffic).
   */
  port: number;
  /**
   * Where a second instance of the service listens while a single server is rolled out side by
   * side (StartBesideOp); 0 when the agent has none configured.
   */
  besidePort: number;
  /**
   * The edition the second instance runs now (a validation clone, or mid single-server rollout);
   * empty when none runs.
   */
  besideEdition: string;
  /**
   * Where the service answers its own health check (services[].healthUrl): the path with its
   * query, e.g. "/health", and the port. The generated HAProxy configuration checks the service
   * there (docs/adr/0017). Empty / 0 when the health URL is not plain http.
   */
  healthPath: string;
  healthPort: number;
}
