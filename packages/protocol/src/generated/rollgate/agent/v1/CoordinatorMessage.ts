// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  Welcome as _rollgate_agent_v1_Welcome,
  Welcome__Output as _rollgate_agent_v1_Welcome__Output,
} from '../../../rollgate/agent/v1/Welcome';
import type {
  RunAction as _rollgate_agent_v1_RunAction,
  RunAction__Output as _rollgate_agent_v1_RunAction__Output,
} from '../../../rollgate/agent/v1/RunAction';
import type {
  CancelAction as _rollgate_agent_v1_CancelAction,
  CancelAction__Output as _rollgate_agent_v1_CancelAction__Output,
} from '../../../rollgate/agent/v1/CancelAction';
import type {
  SetGate as _rollgate_agent_v1_SetGate,
  SetGate__Output as _rollgate_agent_v1_SetGate__Output,
} from '../../../rollgate/agent/v1/SetGate';
import type {
  LogAck as _rollgate_agent_v1_LogAck,
  LogAck__Output as _rollgate_agent_v1_LogAck__Output,
} from '../../../rollgate/agent/v1/LogAck';

export interface CoordinatorMessage {
  welcome?: _rollgate_agent_v1_Welcome | null;
  runAction?: _rollgate_agent_v1_RunAction | null;
  cancelAction?: _rollgate_agent_v1_CancelAction | null;
  setGate?: _rollgate_agent_v1_SetGate | null;
  logAck?: _rollgate_agent_v1_LogAck | null;
  body?: 'welcome' | 'runAction' | 'cancelAction' | 'setGate' | 'logAck';
}

export interface CoordinatorMessage__Output {
  welcome?: _rollgate_agent_v1_Welcome__Output | null;
  runAction?: _rollgate_agent_v1_RunAction__Output | null;
  cancelAction?: _rollgate_agent_v1_CancelAction__Output | null;
  setGate?: _rollgate_agent_v1_SetGate__Output | null;
  logAck?: _rollgate_agent_v1_LogAck__Output | null;
  body?: 'welcome' | 'runAction' | 'cancelAction' | 'setGate' | 'logAck';
}
