import type { GatePreview, PlanPreview } from '../api-types';
import { formatTime, groupByPhase, PERFORMER_LABEL, PROCEDURE_LABEL } from '../view-model';

export const GATE_STATUS_TONE: Record<GatePreview['status'], string> = {
  met: 'ok',
  waived: 'warn',
  automatic: 'active',
  unmet: 'bad',
};

/** The compiled plan: what it does, its announced windows, its readiness gates and its steps by phase. */
export function PlanView({ plan }: { plan: PlanPreview }) {
  const w = plan.window;
  return (
    <div className="plan" data-plan-steps={plan.steps.length}>
      <div className="plan-facts">
        <div>
          <span className="label">Procedure</span> {PROCEDURE_LABEL[plan.procedure]} of{' '}
          <strong>{plan.service}</strong>
          {plan.fromEdition ? (
            <>
              {' '}
              from <strong className="mono">{plan.fromEdition.name}</strong>
            </>
          ) : null}{' '}
          to <strong className="mono">{plan.toEdition.name}</strong> on cluster{' '}
          <strong>{plan.cluster}</strong>
        </div>
        <div>
          <span className="label">Server groups</span> {plan.groups.length} (
          {plan.groups.map((g) => `${g.index}: ${g.servers.map((s) => s.id).join(', ')}`).join(' · ')}) · at
          most {plan.maxOutOfRotation} out of rotation
          {plan.designatedServer ? <> · database steps on {plan.designatedServer}</> : null}
        </div>
        {plan.rollout ? (
          <div data-rollout-options data-strategy={plan.rollout.strategy}>
            <span className="label">Rollout</span>{' '}
            {plan.rollout.beside
              ? 'side by side'
              : plan.rollout.strategy === 'atomic'
                ? 'atomic, two halves switched in one load-balancer exchange'
                : `grouped, groups of ${plan.rollout.groupSize}`}
            , {plan.rollout.reset} reset, drainage {plan.rollout.drainageIntervalSec} s
            {plan.rollout.fastPath ? ' · fast path: already installed everywhere, nothing to download' : ''}
          </div>
        ) : null}
        {plan.rollout?.beside ? (
          <div className="alert alert-info" data-rollout-beside>
            The single server {plan.groups[0]?.servers[0]?.id ?? ''} is rolled out side by side: a second
            instance of the new edition starts beside it and serves while the server itself is upgraded, so no
            request goes unanswered.
          </div>
        ) : null}
        <div className="windows">
          <div className="window" data-window="seed">
            <span className="label">Announced window</span> service at risk{' '}
            <strong>{w.atRiskMinutes} min</strong>
            {w.downtimeMinutes > 0 ? (
              <>
                , downtime <strong>{w.downtimeMinutes} min</strong>
              </>
            ) : (
              ', no downtime'
            )}{' '}
            <span className="muted">({w.basis})</span>
          </div>
          <div className="window" data-window="learned">
            <span className="label">Learned</span>{' '}
            {w.learned ? (
              <>
                service at risk <strong>{w.learned.atRiskMinutes} min</strong>
                {w.learned.downtimeMinutes > 0 ? <>, downtime {w.learned.downtimeMinutes} min</> : null}{' '}
                <span className="muted">({w.learned.basis})</span>
              </>
            ) : (
              <span className="muted">no past runs of this cluster yet</span>
            )}
          </div>
          {plan.schedule ? (
            <div>
              <span className="label">Starts</span> {formatTime(plan.schedule.startAt)}{' '}
              <span className={`badge tone-${plan.schedule.insideBusinessHours ? 'ok' : 'warn'}`}>
                {plan.schedule.insideBusinessHours ? 'inside business hours' : 'outside business hours'}
              </span>
            </div>
          ) : null}
        </div>
      </div>

      <h3>Readiness gates</h3>
      <ReadinessTable gates={plan.readiness} />

      <h3>Steps</h3>
      {groupByPhase(plan.steps).map((g) => (
        <section key={`${g.phase}-${g.steps[0]?.index ?? 0}`} className={`phase phase-${g.phase}`}>
          <h4 className="phase-banner">{g.label}</h4>
          <ol className="plan-steps">
            {g.steps.map((s) => (
              <li key={s.index} data-step={s.key}>
                <span className="step-no">{s.index + 1}</span>
                <span className="step-title-text">{s.title}</span>
                <span className="performers">
                  {s.performedBy.map((p) => (
                    <span key={p} className={`who who-${p}`}>
                      {PERFORMER_LABEL[p]}
                    </span>
                  ))}
                </span>
                <span className="muted small step-servers">{s.servers.join(', ')}</span>
              </li>
            ))}
          </ol>
        </section>
      ))}
    </div>
  );
}

export function ReadinessTable({ gates }: { gates: GatePreview[] }) {
  if (gates.length === 0) return <p className="empty">No readiness gate applies.</p>;
  return (
    <div className="table-wrap">
      <table className="grid readiness">
        <thead>
          <tr>
            <th scope="col">Gate</th>
            <th scope="col">Required</th>
            <th scope="col">Status</th>
            <th scope="col">Detail</th>
            <th scope="col">How to meet it</th>
          </tr>
        </thead>
        <tbody>
          {gates.map((g) => (
            <tr key={g.gate} data-gate={g.gate} data-gate-status={g.status}>
              <td className="mono">{g.gate}</td>
              <td>{g.required ? 'required' : <span className="muted">optional</span>}</td>
              <td>
                <span
                  className={`badge tone-${g.required || g.status !== 'unmet' ? GATE_STATUS_TONE[g.status] : 'idle'}`}
                >
                  {g.status === 'unmet' && !g.required ? 'not set up' : g.status}
                </span>
              </td>
              <td>{g.detail}</td>
              <td className="muted">{g.howToMeet}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
