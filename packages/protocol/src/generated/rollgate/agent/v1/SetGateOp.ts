// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  GateState as _rollgate_agent_v1_GateState,
  GateState__Output as _rollgate_agent_v1_GateState__Output,
} from '../../../rollgate/agent/v1/GateState';

export interface SetGateOp {
  state?: _rollgate_agent_v1_GateState;
}

export interface SetGateOp__Output {
  state: _rollgate_agent_v1_GateState__Output;
}
