// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  ActionStatus as _rollgate_agent_v1_ActionStatus,
  ActionStatus__Output as _rollgate_agent_v1_ActionStatus__Output,
} from '../../../rollgate/agent/v1/ActionStatus';
import type { Long } from '@grpc/proto-loader';

export interface ActionUpdate {
  actionId?: string;
  status?: _rollgate_agent_v1_ActionStatus;
  /**
   * Why it failed or was cancelled, in words an operator can act on.
   */
  reason?: string;
  atMs?: number | string | Long;
  /**
   * Index of the op now running (RUNNING) or that failed (FAILED).
   */
  opIndex?: number;
  /**
   * Terminal updates only: what the action produced, as JSON (evidence: test results with timings,
   * backup archives and their checksums, command output). Empty when it produced nothing.
   * Shapes: ActionResult in @rollgate/domain (ops.ts). Never holds a secret.
   */
  resultJson?: string;
}

export interface ActionUpdate__Output {
  actionId: string;
  status: _rollgate_agent_v1_ActionStatus__Output;
  /**
   * Why it failed or was cancelled, in words an operator can act on.
   */
  reason: string;
  atMs: number;
  /**
   * Index of the op now running (RUNNING) or that failed (FAILED).
   */
  opIndex: number;
  /**
   * Terminal updates only: what the action produced, as JSON (evidence: test results with timings,
   * backup archives and their checksums, command output). Empty when it produced nothing.
   * Shapes: ActionResult in @rollgate/domain (ops.ts). Never holds a secret.
   */
  resultJson: string;
}
