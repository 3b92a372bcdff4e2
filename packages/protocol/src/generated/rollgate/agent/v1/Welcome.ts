// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  GateState as _rollgate_agent_v1_GateState,
  GateState__Output as _rollgate_agent_v1_GateState__Output,
} from '../../../rollgate/agent/v1/GateState';

export interface Welcome {
  coordinatorVersion?: string;
  heartbeatIntervalMs?: number;
  /**
   * What the coordinator wants this server's gate to be; the agent keeps its journaled wish when
   * this is UNSPECIFIED.
   */
  gateWish?: _rollgate_agent_v1_GateState;
}

export interface Welcome__Output {
  coordinatorVersion: string;
  heartbeatIntervalMs: number;
  /**
   * What the coordinator wants this server's gate to be; the agent keeps its journaled wish when
   * this is UNSPECIFIED.
   */
  gateWish: _rollgate_agent_v1_GateState__Output;
}
