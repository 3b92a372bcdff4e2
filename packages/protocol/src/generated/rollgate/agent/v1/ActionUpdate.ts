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
}
