// Which engine log lines are notification events (issue 16 item 4, docs/adr/0032). The engine stays
// pure: it only emits its coded log lines; the coordinator reads the codes it already writes.
import { MSG } from '@rollgate/domain';
import type { NotifyEvent } from '@rollgate/api';
import type { LogRecord, RunRecord } from '@rollgate/engine';

export type { NotifyEvent };

/**
 * The event a line is, given the run it belongs to; null for every other line. A rollback run's
 * "started" and "completed" lines are its own start and the original run's "rolled back".
 */
export function eventOf(code: string, run: Pick<RunRecord, 'plan'>): NotifyEvent | null {
  const rollback = run.plan.procedure === 'rollback';
  switch (code) {
    case MSG.runScheduled.code:
      return 'scheduled';
    case MSG.runStarted.code:
      return 'started';
    case MSG.rollbackStarted.code:
      // Also written on the run being rolled back, which is not starting anything.
      return rollback ? 'started' : null;
    case MSG.phaseBegins.code:
      return 'phase';
    case MSG.runPaused.code:
      return 'paused';
    case MSG.runFailedPaused.code:
      return 'failed';
    case MSG.rollbackProposed.code:
      return 'rollback-proposed';
    case MSG.stepWaitingSignOff.code:
      return 'sign-off';
    case MSG.runCompleted.code:
      return rollback ? 'rolled-back' : 'succeeded';
    case MSG.runAborted.code:
      return 'aborted';
    default:
      return null;
  }
}

/** Codes worth looking the run up for: every other line is dropped without a read. */
export const EVENT_CODES: ReadonlySet<string> = new Set([
  MSG.runScheduled.code,
  MSG.runStarted.code,
  MSG.rollbackStarted.code,
  MSG.phaseBegins.code,
  MSG.runPaused.code,
  MSG.runFailedPaused.code,
  MSG.rollbackProposed.code,
  MSG.stepWaitingSignOff.code,
  MSG.runCompleted.code,
  MSG.runAborted.code,
]);

export interface EventChoice {
  action: string;
  command: string;
}

/** What the people told can do next, as the CLI commands that do it. */
export function choicesFor(event: NotifyEvent, runId: string): EventChoice[] {
  const c = (action: string, command: string, flags = '') => ({
    action,
    command: `rollgate ${command} ${runId}${flags}`,
  });
  switch (event) {
    case 'paused':
    case 'failed':
      return [c('resume', 'upgrade resume'), c('rollback', 'upgrade rollback'), c('abort', 'upgrade abort')];
    case 'rollback-proposed':
      return [
        c('authorise', 'upgrade authorise-rollback'),
        c('decline', 'upgrade authorise-rollback', ' --decline'),
      ];
    case 'sign-off':
      return [c('approve', 'upgrade signoff', ' --approve'), c('reject', 'upgrade signoff', ' --reject')];
    default:
      return [];
  }
}

/** The JSON body of a webhook (and the facts of an email), built from the line and its run. */
export interface EventPayload {
  event: NotifyEvent;
  /** ISO 8601 time of the line. */
  at: string;
  code: string;
  message: string;
  cluster: string;
  runId: string;
  service: string;
  edition: string;
  procedure: string;
  status: string;
  /** Why the run stopped (paused, failed), else null. */
  reason: string | null;
  choices: EventChoice[];
}

export function payloadOf(event: NotifyEvent, line: LogRecord, run: RunRecord): EventPayload {
  const stopped = event === 'paused' || event === 'failed';
  return {
    event,
    at: new Date(line.at).toISOString(),
    code: line.code,
    message: line.message,
    cluster: run.plan.cluster,
    runId: run.id,
    service: run.plan.service,
    edition: run.plan.toEdition.name,
    procedure: run.plan.procedure,
    status: run.status,
    reason: stopped ? (run.failure ?? line.message) : null,
    choices: choicesFor(event, run.id),
  };
}
