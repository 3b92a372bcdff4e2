import type { StepView } from '../api-types';
import { kindGlyph, layoutTimeline } from '../timeline-model';

/**
 * The run as a chart: rows are server groups (and "all" for the steps about the whole cluster),
 * columns are the steps in plan order under their phase band, each cell coloured by its status.
 */
export function RunChart({ steps, currentIndex }: { steps: StepView[]; currentIndex: number | null }) {
  const t = layoutTimeline(steps, currentIndex);
  return (
    <div className="chart-wrap">
      <svg
        className="run-chart"
        width={t.width}
        height={t.height}
        viewBox={`0 0 ${t.width} ${t.height}`}
        role="img"
        aria-label="steps per server group, coloured by status"
      >
        {t.bands.map((b, i) => (
          <g key={i} className={`band band-${b.phase}`}>
            <rect x={b.x} y={2} width={b.w} height={14} rx={3} />
            <text x={b.x + 4} y={12} className="band-label">
              {b.w > 7 * b.label.length ? b.label : b.short}
              <title>{b.label}</title>
            </text>
          </g>
        ))}
        {t.columns.map((c) => (
          <text key={c.n} x={c.x} y={32} textAnchor="middle" className="col-label">
            {c.n}
          </text>
        ))}
        {t.rows.map((r) => (
          <g key={r.key}>
            <text x={4} y={r.y + 17} className="row-label">
              {r.label}
            </text>
            <line x1={72} x2={t.width} y1={r.y + 13} y2={r.y + 13} className="row-rule" />
          </g>
        ))}
        {t.cells.map((c) => (
          <g
            key={c.index}
            className={`cell tone-${c.tone}${c.current ? ' current' : ''}`}
            data-step={c.index}
            data-status={c.status}
          >
            <rect x={c.x} y={c.y} width={c.w} height={c.h} rx={4} />
            <text x={c.x + c.w / 2} y={c.y + c.h / 2 + 4} textAnchor="middle" className="cell-label">
              {kindGlyph(c.kind)}
            </text>
            <title>{`${c.index + 1}. ${c.title} — ${c.status}`}</title>
          </g>
        ))}
      </svg>
      <div className="legend chart-legend">
        {(['succeeded', 'running', 'failed', 'skipped', 'pending'] as const).map((s) => (
          <span key={s}>
            <span className={`swatch swatch-${s}`} aria-hidden="true" /> {s}
          </span>
        ))}
      </div>
    </div>
  );
}
