/**
 * Which operator actions apply to a run as it stands, and on which servers. The live page shows
 * only these buttons; the coordinator still checks every call.
 */
import type { RunView, StepView } from './api-types';

export interface RunControls {
  pause: boolean;
  /** Resume a paused run; after a failure this retries the failed step as a new attempt. */
  resume: boolean;
  abort: boolean;
  /** The failed step, when the run is paused on one: its servers can be skipped or excluded. */
  failedStep: StepView | null;
  /** Servers of the failed step that can be skipped (this step) or excluded (rest of the run). */
  failedServers: string[];
  /** Servers draining now whose drain an operator may end. */
  drainingServers: string[];
  rollback: boolean;
  signOff: boolean;
  /** A rollback the run proposes and waits for authorisation on. */
  proposal: boolean;
}

const ACTIVE = new Set(['pending', 'running', 'paused', 'waiting-approval']);

export function runControls(view: RunView): RunControls {
  const { run } = view;
  const status = run.status;
  const failedStep = status === 'paused' ? (view.steps.find((s) => s.status === 'failed') ?? null) : null;
  const failedServers = failedStep
    ? [...new Set(failedStep.actions.filter((a) => a.status === 'failed').map((a) => a.serverId))].sort()
    : [];
  const running = view.steps.find((s) => s.status === 'running');
  const out = new Set(view.outOfRotation.map((o) => o.serverId));
  const drainingServers =
    status === 'running' && running && running.kind === 'stop'
      ? running.leavesRotation.filter((id) => out.has(id))
      : [];
  return {
    pause: status === 'running' || status === 'pending',
    resume: status === 'paused',
    abort: ACTIVE.has(status),
    failedStep,
    failedServers: failedServers.length > 0 ? failedServers : (failedStep?.servers ?? []),
    drainingServers,
    rollback: (status === 'paused' || status === 'failed' || status === 'aborted') && run.kind !== 'rollback',
    signOff: status === 'waiting-approval',
    proposal: run.proposal?.status === 'awaiting',
  };
}
