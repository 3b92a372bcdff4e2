// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  GateState as _rollgate_agent_v1_GateState,
  GateState__Output as _rollgate_agent_v1_GateState__Output,
} from '../../../rollgate/agent/v1/GateState';

export interface SetGate {
  state?: _rollgate_agent_v1_GateState;
  reason?: string;
}

export interface SetGate__Output {
  state: _rollgate_agent_v1_GateState__Output;
  reason: string;
}
