// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type {
  ActionOp as _rollgate_agent_v1_ActionOp,
  ActionOp__Output as _rollgate_agent_v1_ActionOp__Output,
} from '../../../rollgate/agent/v1/ActionOp';

export interface RunAction {
  /**
   * Deterministic: run, step, server and attempt. An agent never runs the same id twice.
   */
  actionId?: string;
  runId?: string;
  stepIndex?: number;
  attempt?: number;
  ops?: _rollgate_agent_v1_ActionOp[];
}

export interface RunAction__Output {
  /**
   * Deterministic: run, step, server and attempt. An agent never runs the same id twice.
   */
  actionId: string;
  runId: string;
  stepIndex: number;
  attempt: number;
  ops: _rollgate_agent_v1_ActionOp__Output[];
}
