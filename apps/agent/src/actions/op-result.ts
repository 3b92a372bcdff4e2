// What an op hands back to the executor: a one-line summary and, for ops that produce evidence,
// an ActionResult (sent as ActionUpdate.result_json and journaled with the finished record).
import type { ActionOp, ActionResult } from '@rollgate/domain';
import type { ShipLevel } from '../coordinator/log-shipper';
import type { SyncLater } from '../lib/fs-util';

export interface OpContext {
  actionId: string;
  signal: AbortSignal;
  /** Progress line: shipped to the coordinator and written to the agent's log. */
  log: (level: ShipLevel, code: string, message: string) => void;
  /**
   * Takes an fsync the action needs by its end, not before its next op (docs/adr/0050). Absent
   * (an op run outside an action): ops await their fsyncs themselves.
   */
  syncLater?: SyncLater;
}

/** A summary, or a summary with the evidence the op produced. */
export type OpOutcome = string | { summary: string; result?: ActionResult };

export type OpRunner = (op: ActionOp, ctx: OpContext) => Promise<OpOutcome>;

/**
 * An op failure that still produced evidence (e.g. the functionality tests that failed, a
 * command's exit code and output): the executor journals and sends the partial result.
 */
export class OpError extends Error {
  override name = 'OpError';
  constructor(
    message: string,
    readonly result?: ActionResult,
  ) {
    super(message);
  }
}
