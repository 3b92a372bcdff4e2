import { describe, expect, it } from 'vitest';
import type { LogLine } from './api-types';
import { applyWatchEvent, clockTime, mergeLogs, NO_LOG_FILTERS, watchInput } from './logs-model';
import { NOW, pausedRun } from './testing/fixtures';

const line = (id: number, over: Partial<LogLine> = {}): LogLine => ({
  id,
  runId: 'r1',
  actionId: null,
  serverId: 'admin-1',
  stepIndex: 0,
  at: NOW + id,
  level: 'info',
  code: 'RG0111I',
  message: `line ${id}`,
  source: 'engine',
  ...over,
});

describe('mergeLogs', () => {
  it('appends new lines in id order and drops those already held (a reconnect resends)', () => {
    const a = mergeLogs([], [line(2), line(1)]);
    expect(a.map((l) => l.id)).toEqual([1, 2]);
    const b = mergeLogs(a, [line(1), line(2), line(3)]);
    expect(b.map((l) => l.id)).toEqual([1, 2, 3]);
    // Nothing new: the same array, so React does not re-render.
    expect(mergeLogs(b, [line(2)])).toBe(b);
  });

  it('keeps the last lines only', () => {
    const many = Array.from({ length: 30 }, (_, i) => line(i + 1));
    expect(mergeLogs([], many, 10).map((l) => l.id)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
  });
});

describe('watchInput', () => {
  it('sends only the filters set, and a code only once it is whole', () => {
    expect(watchInput('r1', NO_LOG_FILTERS)).toEqual({ runId: 'r1' });
    expect(watchInput('r1', { serverId: 'admin-1', stepIndex: '0', code: 'rg0111i' })).toEqual({
      runId: 'r1',
      serverId: 'admin-1',
      stepIndex: 0,
      code: 'RG0111I',
    });
    expect(watchInput('r1', { serverId: '', stepIndex: '', code: 'RG01' })).toEqual({ runId: 'r1' });
  });
});

describe('applyWatchEvent', () => {
  it('keeps the last view when the message has none, and appends its lines', () => {
    const view = pausedRun();
    const s1 = applyWatchEvent({ view: null, logs: [] }, { view, logs: [line(1)] });
    expect(s1.view).toBe(view);
    const s2 = applyWatchEvent(s1, { view: null, logs: [line(2)] });
    expect(s2.view).toBe(view);
    expect(s2.logs.map((l) => l.id)).toEqual([1, 2]);
    expect(applyWatchEvent(s2, { view: null, logs: [] })).toBe(s2);
  });
});

it('prints log times as UTC clock times', () => {
  expect(clockTime(Date.UTC(2025, 0, 15, 14, 3, 7, 125))).toBe('14:03:07.125');
});
