import type { SummaryView } from '../fleet-model';

/**
 * The fleet's health at a glance: agent status as one stacked bar (connected / lost / disconnected),
 * then how many gates are closed and how many servers are unhealthy, each against the total.
 */
export function SummaryBar({ summary }: { summary: SummaryView }) {
  const { total, agents, gateClosed, unhealthy } = summary;
  return (
    <div className="summary" aria-label="fleet health summary">
      <div className="summary-item grow">
        <div className="summary-label">Agents</div>
        <div className="stack" role="img" aria-label={agents.map((a) => `${a.count} ${a.label}`).join(', ')}>
          {agents
            .filter((a) => a.count > 0)
            .map((a) => (
              <span
                key={a.key}
                className={`stack-seg tone-${a.tone}`}
                style={{ width: `${a.pct}%` }}
                title={`${a.count} ${a.label}`}
                data-segment={a.key}
              />
            ))}
        </div>
        <div className="legend">
          {agents.map((a) => (
            <span key={a.key} data-count={a.key}>
              <span className={`dot tone-${a.tone}`} aria-hidden="true" />
              {a.count.toLocaleString('en')} {a.label}
            </span>
          ))}
        </div>
      </div>
      <Meter
        label="Gate closed"
        count={gateClosed.count}
        pct={gateClosed.pct}
        total={total}
        tone="warn"
        id="gate-closed"
      />
      <Meter
        label="Unhealthy"
        count={unhealthy.count}
        pct={unhealthy.pct}
        total={total}
        tone="bad"
        id="unhealthy"
      />
    </div>
  );
}

function Meter(props: {
  label: string;
  count: number;
  pct: number;
  total: number;
  tone: string;
  id: string;
}) {
  return (
    <div className="summary-item">
      <div className="summary-label">{props.label}</div>
      <div className="stack" role="img" aria-label={`${props.count} of ${props.total}`}>
        <span className={`stack-seg tone-${props.tone}`} style={{ width: `${props.pct}%` }} />
      </div>
      <div className="legend" data-count={props.id}>
        <strong>{props.count.toLocaleString('en')}</strong>{' '}
        <span className="muted">of {props.total.toLocaleString('en')}</span>
      </div>
    </div>
  );
}
