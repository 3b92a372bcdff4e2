// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  ServiceInventory as _rollgate_agent_v1_ServiceInventory,
  ServiceInventory__Output as _rollgate_agent_v1_ServiceInventory__Output,
} from '../../../rollgate/agent/v1/ServiceInventory';
import type {
  GateState as _rollgate_agent_v1_GateState,
  GateState__Output as _rollgate_agent_v1_GateState__Output,
} from '../../../rollgate/agent/v1/GateState';
import type {
  ActionUpdate as _rollgate_agent_v1_ActionUpdate,
  ActionUpdate__Output as _rollgate_agent_v1_ActionUpdate__Output,
} from '../../../rollgate/agent/v1/ActionUpdate';

export interface Hello {
  agentId?: string;
  agentVersion?: string;
  capabilities?: string[];
  hostname?: string;
  cluster?: string;
  role?: string;
  services?: _rollgate_agent_v1_ServiceInventory[];
  /**
   * Where a load balancer polls this server's gate, e.g. http://10.0.0.5:7070/gate.
   */
  gateUrl?: string;
  gate?: _rollgate_agent_v1_GateState;
  /**
   * Action ids the agent has journaled as finished, newest last (bounded), so a coordinator that
   * lost track can settle them without resending.
   */
  journaled?: _rollgate_agent_v1_ActionUpdate[];
  /**
   * TCP port of the HAProxy agent-check listener; 0 when the agent serves none.
   */
  agentCheckPort?: number;
}

export interface Hello__Output {
  agentId: string;
  agentVersion: string;
  capabilities: string[];
  hostname: string;
  cluster: string;
  role: string;
  services: _rollgate_agent_v1_ServiceInventory__Output[];
  /**
   * Where a load balancer polls this server's gate, e.g. http://10.0.0.5:7070/gate.
   */
  gateUrl: string;
  gate: _rollgate_agent_v1_GateState__Output;
  /**
   * Action ids the agent has journaled as finished, newest last (bounded), so a coordinator that
   * lost track can settle them without resending.
   */
  journaled: _rollgate_agent_v1_ActionUpdate__Output[];
  /**
   * TCP port of the HAProxy agent-check listener; 0 when the agent serves none.
   */
  agentCheckPort: number;
}
