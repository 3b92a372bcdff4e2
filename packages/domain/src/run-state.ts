/**
 * Run, step and action states and the transitions allowed between them. The engine persists a
 * transition before it acts on it; these tables are what it checks.
 */
export type RunStatus =
  | 'pending' // created, not started
  | 'running'
  | 'paused' // by an operator, or after a failure (then `failure` says why)
  | 'waiting-approval' // at the sign-off step, waiting for the customer's decision
  | 'succeeded'
  | 'failed' // rejected at sign-off, or failed beyond recovery
  | 'aborted';

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export type ActionStatus =
  | 'pending' // persisted, not yet sent (sent again after a restart)
  | 'dispatched' // sent to the agent
  | 'accepted'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'skipped'; // failed, then skipped (or its server excluded) by an operator's decision

export const TERMINAL_RUN: readonly RunStatus[] = ['succeeded', 'failed', 'aborted'];
export const TERMINAL_ACTION: readonly ActionStatus[] = ['succeeded', 'failed', 'cancelled', 'skipped'];

const RUN_TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  pending: ['running', 'aborted'],
  running: ['paused', 'waiting-approval', 'succeeded', 'failed', 'aborted'],
  paused: ['running', 'aborted'],
  'waiting-approval': ['running', 'succeeded', 'failed', 'paused', 'aborted'],
  succeeded: [],
  failed: [],
  aborted: [],
};

export function canTransitionRun(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

const ACTION_ORDER: Record<ActionStatus, number> = {
  pending: 0,
  dispatched: 1,
  accepted: 2,
  running: 3,
  succeeded: 4,
  failed: 4,
  cancelled: 4,
  skipped: 5,
};

/**
 * Agents may report the same progress twice (a resend after reconnect) or out of order; an action
 * only moves forward and a terminal state is final.
 */
export function canTransitionAction(from: ActionStatus, to: ActionStatus): boolean {
  // An operator may skip a failed (or not yet finished) action; nothing else leaves a terminal state.
  if (to === 'skipped') return from !== 'succeeded' && from !== 'skipped';
  if (TERMINAL_ACTION.includes(from)) return false;
  return ACTION_ORDER[to] > ACTION_ORDER[from];
}

export function isTerminalRun(s: RunStatus): boolean {
  return TERMINAL_RUN.includes(s);
}
