// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  GateState as _rollgate_agent_v1_GateState,
  GateState__Output as _rollgate_agent_v1_GateState__Output,
} from '../../../rollgate/agent/v1/GateState';
import type { Long } from '@grpc/proto-loader';

export interface Heartbeat {
  seq?: number | string | Long;
  sentAtMs?: number | string | Long;
  gate?: _rollgate_agent_v1_GateState;
  runningActionIds?: string[];
}

export interface Heartbeat__Output {
  seq: number;
  sentAtMs: number;
  gate: _rollgate_agent_v1_GateState__Output;
  runningActionIds: string[];
}
