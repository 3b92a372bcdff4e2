import { describe, expect, it } from 'vitest';
import { DEFAULT_GEOMETRY as G, layoutTimeline } from './timeline-model';
import { pausedRun } from './testing/fixtures';

describe('layoutTimeline', () => {
  it('puts each step in its group row and plan column, with the phases as bands', () => {
    const steps = pausedRun().steps;
    const t = layoutTimeline(steps, 3);
    expect(t.rows.map((r) => r.label)).toEqual(['all', 'group 1', 'group 2']);
    const rowOf = (i: number) => t.rows.find((r) => r.key === t.cells[i]!.rowKey)!.label;
    expect(steps.map((_, i) => rowOf(i))).toEqual([
      'group 1',
      'group 1',
      'group 1',
      'group 2',
      'group 2',
      'all',
    ]);
    // Columns follow plan order at a fixed pitch.
    expect(t.cells.map((c) => c.x)).toEqual(steps.map((_, i) => G.labelWidth + i * (G.cellWidth + G.gap)));
    expect(t.cells.filter((c) => c.current).map((c) => c.index)).toEqual([3]);
    expect(t.cells.map((c) => c.tone)).toEqual(['ok', 'ok', 'ok', 'bad', 'idle', 'idle']);
    expect(t.bands.map((b) => [b.phase, b.x, b.w])).toEqual([
      ['service-at-risk', G.labelWidth, 4 * G.cellWidth + 3 * G.gap],
      ['limited-service-restored', G.labelWidth + 4 * (G.cellWidth + G.gap), G.cellWidth],
      ['full-service-restored', G.labelWidth + 5 * (G.cellWidth + G.gap), G.cellWidth],
    ]);
    expect(t.columns.map((c) => c.n)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.width).toBeGreaterThan(t.cells.at(-1)!.x + G.cellWidth);
    expect(t.height).toBe(G.headerHeight + 3 * (G.rowHeight + G.gap));
  });

  it('has no "all" row when every step is about a group, and copes with no steps', () => {
    const t = layoutTimeline(pausedRun().steps.slice(0, 3), null);
    expect(t.rows.map((r) => r.label)).toEqual(['group 1']);
    expect(t.cells.some((c) => c.current)).toBe(false);
    const empty = layoutTimeline([], null);
    expect(empty.cells).toEqual([]);
    expect(empty.width).toBeGreaterThan(0);
  });
});
