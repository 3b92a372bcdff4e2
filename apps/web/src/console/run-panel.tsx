import { formatAge, formatDuration } from '@rollgate/domain';
import type { RunView } from '../api-types';
import {
  currentStep,
  formatTime,
  PROCEDURE_LABEL,
  progressPercent,
  RUN_STATUS_LABEL,
  runTone,
} from '../view-model';

export interface RunPanelProps {
  view: RunView;
  now: number;
}

export function RunPanel({ view, now }: RunPanelProps) {
  const { run, progress } = view;
  const plan = run.plan;
  const step = run.status === 'succeeded' ? null : currentStep(view);
  const pct = progressPercent(view);
  const timing =
    run.finishedAt !== null
      ? `finished ${formatAge(run.finishedAt, now)}, took ${formatDuration(run.finishedAt - (run.startedAt ?? run.createdAt))}`
      : run.startedAt !== null
        ? `started ${formatAge(run.startedAt, now)}`
        : `created ${formatAge(run.createdAt, now)}`;
  return (
    <div className="run">
      <div className="run-head">
        <div>
          <div className="run-title">
            {PROCEDURE_LABEL[plan.procedure]} of <strong>{plan.service}</strong> to edition{' '}
            <strong>{plan.toEdition.name}</strong> on cluster <strong>{plan.cluster}</strong>
          </div>
          <div className="muted">
            <span className="mono">{run.id}</span> · {timing} · by {run.createdBy}
            {run.scheduledAt !== null && run.startedAt === null ? (
              <> · scheduled for {formatTime(run.scheduledAt)}</>
            ) : null}
            {run.parentRunId ? <> · rolls back {run.parentRunId}</> : null}
          </div>
        </div>
        <span className={`badge badge-lg tone-${runTone(run.status)}`} data-run-status={run.status}>
          {RUN_STATUS_LABEL[run.status]}
        </span>
      </div>

      <div className="progress-row">
        <div
          className={`progress tone-${runTone(run.status)}`}
          role="progressbar"
          aria-label="steps done"
          aria-valuemin={0}
          aria-valuemax={progress.total}
          aria-valuenow={progress.done}
        >
          <div className="progress-fill" style={{ width: `${pct}%` }} />
        </div>
        <span className="progress-text">
          {progress.done}/{progress.total} steps
        </span>
      </div>
      {step ? (
        <p className="current" data-current-step={step.index}>
          Step {step.index + 1}: <strong>{step.title}</strong>
        </p>
      ) : null}

      {run.failure ? (
        <div className="alert alert-bad" role="alert">
          <strong>{run.status === 'paused' ? 'Paused on a failure: ' : 'Failure: '}</strong>
          {run.failure}
        </div>
      ) : null}
      {run.status === 'waiting-approval' ? (
        <div className="alert alert-warn">Waiting for the customer to verify the service and sign off.</div>
      ) : null}

      <div className="rotation">
        <span className="label">Out of rotation now:</span>{' '}
        {view.outOfRotation.length === 0 ? (
          <span className="muted">none</span>
        ) : (
          view.outOfRotation.map((o) => (
            <span key={o.serverId} className="chip" title={`closed at step ${o.stepIndex + 1}`}>
              {o.serverId} <span className="muted">{formatDuration(now - o.closedAt)}</span>
            </span>
          ))
        )}
      </div>
    </div>
  );
}
