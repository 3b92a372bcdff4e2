/**
 * The live run's chart, laid out without React: one row per server group (plus "all" for the steps
 * that are about no single group), one column per step in plan order, each cell coloured by the
 * step's status, under a band that shows each phase. The component only draws these rectangles.
 */
import type { Phase, StepStatus, StepView } from './api-types';
import { PHASE_LABEL, PHASE_SHORT_LABEL } from '@rollgate/domain';
import { stepTone, type Tone } from './view-model';

export type TimelineStep = Pick<StepView, 'index' | 'group' | 'status' | 'title' | 'phase' | 'kind'>;

export interface TimelineGeometry {
  /** Width of the row labels on the left. */
  labelWidth: number;
  /** Height of the phase band and column numbers on top. */
  headerHeight: number;
  cellWidth: number;
  rowHeight: number;
  gap: number;
}

export const DEFAULT_GEOMETRY: TimelineGeometry = {
  labelWidth: 78,
  headerHeight: 40,
  cellWidth: 34,
  rowHeight: 26,
  gap: 4,
};

export interface TimelineRow {
  key: string;
  label: string;
  y: number;
}

export interface TimelineCell {
  index: number;
  rowKey: string;
  x: number;
  y: number;
  w: number;
  h: number;
  status: StepStatus;
  tone: Tone;
  /** The step the run is on (running, or next to start). */
  current: boolean;
  title: string;
  kind: TimelineStep['kind'];
}

export interface TimelineBand {
  phase: Phase;
  label: string;
  /** What fits in a narrow band. */
  short: string;
  x: number;
  w: number;
}

export interface TimelineLayout {
  width: number;
  height: number;
  rows: TimelineRow[];
  cells: TimelineCell[];
  bands: TimelineBand[];
  /** Column number labels (1-based step numbers) with their centre x. */
  columns: { n: number; x: number }[];
}

const rowKeyOf = (group: number | null) => (group === null ? 'all' : `g${group}`);

export function layoutTimeline(
  steps: TimelineStep[],
  currentIndex: number | null,
  geo: TimelineGeometry = DEFAULT_GEOMETRY,
): TimelineLayout {
  const groups = [...new Set(steps.map((s) => s.group).filter((g): g is number => g !== null))].sort(
    (a, b) => a - b,
  );
  const hasAll = steps.some((s) => s.group === null);
  const rowDefs: { key: string; label: string }[] = [
    ...(hasAll ? [{ key: 'all', label: 'all' }] : []),
    ...groups.map((g) => ({ key: rowKeyOf(g), label: `group ${g}` })),
  ];
  const rows: TimelineRow[] = rowDefs.map((r, i) => ({
    ...r,
    y: geo.headerHeight + i * (geo.rowHeight + geo.gap),
  }));
  const rowY = new Map(rows.map((r) => [r.key, r.y]));
  const colX = (col: number) => geo.labelWidth + col * (geo.cellWidth + geo.gap);
  const ordered = [...steps].sort((a, b) => a.index - b.index);
  const cells: TimelineCell[] = ordered.map((s, col) => ({
    index: s.index,
    rowKey: rowKeyOf(s.group),
    x: colX(col),
    y: rowY.get(rowKeyOf(s.group)) ?? geo.headerHeight,
    w: geo.cellWidth,
    h: geo.rowHeight,
    status: s.status,
    tone: stepTone(s.status),
    current: currentIndex !== null && s.index === currentIndex,
    title: s.title,
    kind: s.kind,
  }));
  const bands: TimelineBand[] = [];
  ordered.forEach((s, col) => {
    const last = bands[bands.length - 1];
    const x = colX(col);
    if (last && last.phase === s.phase) last.w = x + geo.cellWidth - last.x;
    else
      bands.push({
        phase: s.phase,
        label: PHASE_LABEL[s.phase],
        short: PHASE_SHORT_LABEL[s.phase],
        x,
        w: geo.cellWidth,
      });
  });
  const width = colX(Math.max(ordered.length, 1)) + geo.gap;
  const height = geo.headerHeight + Math.max(rows.length, 1) * (geo.rowHeight + geo.gap);
  return {
    width,
    height,
    rows,
    cells,
    bands,
    columns: ordered.map((s, col) => ({ n: s.index + 1, x: colX(col) + geo.cellWidth / 2 })),
  };
}

/** A short cell label for a step kind, so a column reads without hovering. */
export function kindGlyph(kind: TimelineStep['kind']): string {
  return (KIND_GLYPH as Partial<Record<string, string>>)[kind] ?? String(kind).slice(0, 4);
}

// Kinds added to the domain later fall back to their first letters (kindGlyph).
const KIND_GLYPH: Partial<Record<TimelineStep['kind'], string>> = {
  stop: 'stop',
  test: 'test',
  upgrade: 'upg',
  configure: 'cfg',
  'db-upgrade': 'db',
  start: 'start',
  'sign-off': 'sign',
  prepare: 'prep',
  'db-restore': 'rst',
  rebuild: 'rbd',
};
