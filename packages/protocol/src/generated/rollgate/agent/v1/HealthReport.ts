// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  ServiceInventory as _rollgate_agent_v1_ServiceInventory,
  ServiceInventory__Output as _rollgate_agent_v1_ServiceInventory__Output,
} from '../../../rollgate/agent/v1/ServiceInventory';
import type {
  GateState as _rollgate_agent_v1_GateState,
  GateState__Output as _rollgate_agent_v1_GateState__Output,
} from '../../../rollgate/agent/v1/GateState';

export interface HealthReport {
  services?: _rollgate_agent_v1_ServiceInventory[];
  gate?: _rollgate_agent_v1_GateState;
  /**
   * The gate as a load balancer sees it: the coordinator's wish AND local health.
   */
  gateOpen?: boolean;
}

export interface HealthReport__Output {
  services: _rollgate_agent_v1_ServiceInventory__Output[];
  gate: _rollgate_agent_v1_GateState__Output;
  /**
   * The gate as a load balancer sees it: the coordinator's wish AND local health.
   */
  gateOpen: boolean;
}
