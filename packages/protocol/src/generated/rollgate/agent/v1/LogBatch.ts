// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  LogLine as _rollgate_agent_v1_LogLine,
  LogLine__Output as _rollgate_agent_v1_LogLine__Output,
} from '../../../rollgate/agent/v1/LogLine';

export interface LogBatch {
  lines?: _rollgate_agent_v1_LogLine[];
  /**
   * Identifies this agent process's sequence of lines (new at every agent start); with
   * LogLine.seq it makes delivery idempotent: a line resent after a lost LogAck is stored once.
   */
  streamId?: string;
}

export interface LogBatch__Output {
  lines: _rollgate_agent_v1_LogLine__Output[];
  /**
   * Identifies this agent process's sequence of lines (new at every agent start); with
   * LogLine.seq it makes delivery idempotent: a line resent after a lost LogAck is stored once.
   */
  streamId: string;
}
