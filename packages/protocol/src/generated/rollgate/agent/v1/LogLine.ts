// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  LogLevel as _rollgate_agent_v1_LogLevel,
  LogLevel__Output as _rollgate_agent_v1_LogLevel__Output,
} from '../../../rollgate/agent/v1/LogLevel';
import type { Long } from '@grpc/proto-loader';

export interface LogLine {
  actionId?: string;
  atMs?: number | string | Long;
  level?: _rollgate_agent_v1_LogLevel;
  /**
   * Stable message code such as RG0120I, shared by the UI, the CLI and the logs.
   */
  code?: string;
  message?: string;
  /**
   * Position of the line in its stream (LogBatch.stream_id), from 1; 0 = not acknowledged.
   */
  seq?: number | string | Long;
}

export interface LogLine__Output {
  actionId: string;
  atMs: number;
  level: _rollgate_agent_v1_LogLevel__Output;
  /**
   * Stable message code such as RG0120I, shared by the UI, the CLI and the logs.
   */
  code: string;
  message: string;
  /**
   * Position of the line in its stream (LogBatch.stream_id), from 1; 0 = not acknowledged.
   */
  seq: number;
}
