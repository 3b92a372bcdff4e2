// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  Hello as _rollgate_agent_v1_Hello,
  Hello__Output as _rollgate_agent_v1_Hello__Output,
} from '../../../rollgate/agent/v1/Hello';
import type {
  Heartbeat as _rollgate_agent_v1_Heartbeat,
  Heartbeat__Output as _rollgate_agent_v1_Heartbeat__Output,
} from '../../../rollgate/agent/v1/Heartbeat';
import type {
  HealthReport as _rollgate_agent_v1_HealthReport,
  HealthReport__Output as _rollgate_agent_v1_HealthReport__Output,
} from '../../../rollgate/agent/v1/HealthReport';
import type {
  ActionUpdate as _rollgate_agent_v1_ActionUpdate,
  ActionUpdate__Output as _rollgate_agent_v1_ActionUpdate__Output,
} from '../../../rollgate/agent/v1/ActionUpdate';
import type {
  LogBatch as _rollgate_agent_v1_LogBatch,
  LogBatch__Output as _rollgate_agent_v1_LogBatch__Output,
} from '../../../rollgate/agent/v1/LogBatch';

export interface AgentMessage {
  hello?: _rollgate_agent_v1_Hello | null;
  heartbeat?: _rollgate_agent_v1_Heartbeat | null;
  health?: _rollgate_agent_v1_HealthReport | null;
  actionUpdate?: _rollgate_agent_v1_ActionUpdate | null;
  logs?: _rollgate_agent_v1_LogBatch | null;
  body?: 'hello' | 'heartbeat' | 'health' | 'actionUpdate' | 'logs';
}

export interface AgentMessage__Output {
  hello?: _rollgate_agent_v1_Hello__Output | null;
  heartbeat?: _rollgate_agent_v1_Heartbeat__Output | null;
  health?: _rollgate_agent_v1_HealthReport__Output | null;
  actionUpdate?: _rollgate_agent_v1_ActionUpdate__Output | null;
  logs?: _rollgate_agent_v1_LogBatch__Output | null;
  body?: 'hello' | 'heartbeat' | 'health' | 'actionUpdate' | 'logs';
}
