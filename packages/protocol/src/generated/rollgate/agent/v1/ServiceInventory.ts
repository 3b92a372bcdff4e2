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
}
