import type { LogRecord } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
import type { LogLine__Output } from '@rollgate/protocol';
import { describe, expect, it } from 'vitest';
import { createLogIntake } from './log-intake';

/** A clock the intake's sleeps move forward; a writer that keeps what it is given. */
function harness(limits: Parameters<typeof createLogIntake>[0]['limits'] = {}) {
  let now = 1_700_000_000_000;
  const slept: number[] = [];
  const written: LogRecord[] = [];
  const intake = createLogIntake({
    logs: { write: (r) => void written.push(r), flush: async () => {} },
    clock: { now: () => now },
    log: createLogger({ name: 'test', level: 'silent' }),
    limits,
    stopped: () => false,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  });
  const agentLines = () => written.filter((r) => r.source === 'agent');
  const notes = (code: string) => written.filter((r) => r.code === code).map((r) => r.message);
  return { intake, slept, written, agentLines, notes, now: () => now };
}

const wire = (
  seq: number,
  message = `line ${seq}`,
  over: Partial<LogLine__Output> = {},
): LogLine__Output => ({
  actionId: '',
  atMs: 1_700_000_000_000,
  level: 'LOG_LEVEL_INFO',
  code: 'RG0190I',
  message,
  seq,
  ...over,
});

describe('log intake (issue 17 items 2 and 4)', () => {
  it('issue 17 item 2: drops and counts lines whose time or seq is past 2^53 or negative, acknowledges the rest', async () => {
    const h = harness();
    const s = h.intake.open('a-1');
    const unacked = new Map<string, number>();
    await h.intake.take(
      s,
      {
        streamId: 'st',
        lines: [
          wire(1),
          wire(2 ** 63),
          wire(3, 'at past 2^63', { atMs: 2 ** 63 }),
          wire(4, 'negative time', { atMs: -1 }),
          wire(5, 'a year ahead', { atMs: h.now() + 365 * 86_400_000 }),
          wire(6),
        ],
      },
      unacked,
    );
    expect(h.agentLines().map((l) => l.seq)).toEqual([1, 6]);
    expect(s.refusedTotal).toBe(4);
    expect(h.notes('RG0056W')).toEqual([expect.stringContaining('4 out of range from a-1')]);
    expect(unacked.get('st')).toBe(6);
  });

  it('issue 17 item 4: refuses a line over the line limit and a batch over the batch limit, says why, and acknowledges them', async () => {
    const h = harness({ maxLineChars: 300, maxBatchLines: 60 });
    const s = h.intake.open('a-1');
    const unacked = new Map<string, number>();
    await h.intake.take(s, { streamId: 'st', lines: [wire(1, 'y'.repeat(301)), wire(2)] }, unacked);
    await h.intake.take(
      s,
      { streamId: 'st', lines: Array.from({ length: 61 }, (_, i) => wire(3 + i)) },
      unacked,
    );
    expect(h.agentLines().map((l) => l.seq)).toEqual([2]);
    expect(unacked.get('st')).toBe(63);
    expect(s.refusedTotal).toBe(62);
    expect(h.notes('RG0056W')[0]).toContain('a line at most 300 characters, a LogBatch at most 60 lines');
    // Notes are rate-limited: the batch refusal is told at the next note, not at once.
    await h.intake.take(s, { streamId: 'st', lines: [wire(70, 'z'.repeat(301))] }, unacked);
    expect(h.notes('RG0056W')).toHaveLength(1);
  });

  it('issue 17 item 4: an agent past its quota waits (its stream is held), and only that agent', async () => {
    const h = harness({ linesPerSecond: 100, burstSeconds: 1, maxBatchLines: 50 });
    const flood = h.intake.open('flood');
    const calm = h.intake.open('calm');
    const unacked = new Map<string, number>();
    let seq = 0;
    for (let b = 0; b < 10; b++) {
      await h.intake.take(
        flood,
        { streamId: 'f', lines: Array.from({ length: 50 }, () => wire(++seq)) },
        unacked,
      );
    }
    // 500 lines at 100/s with a 100-line burst: ~4 s of waiting, in sleeps of at most 1 s.
    const waited = h.slept.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(3900);
    expect(waited).toBeLessThanOrEqual(4100);
    expect(Math.max(...h.slept)).toBeLessThanOrEqual(1000);
    expect(flood.slowedTotal).toBeGreaterThan(0);
    expect(h.notes('RG0057W')[0]).toContain('flood sends more than 100 lines');
    // The calm agent's bucket is its own: no wait.
    const before = h.slept.length;
    await h.intake.take(calm, { streamId: 'c', lines: [wire(1)] }, unacked);
    expect(h.slept.length).toBe(before);
    expect(calm.slowedTotal).toBe(0);
    expect(h.agentLines().filter((l) => l.serverId === 'flood')).toHaveLength(500);
  });
});
