import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogShipper, type ShippedLine } from './log-shipper';

afterEach(() => {
  vi.useRealTimers();
});

describe('log shipper', () => {
  it('batches: flushes at 50 lines at once, otherwise after 100 ms', () => {
    vi.useFakeTimers();
    const batches: ShippedLine[][] = [];
    const s = createLogShipper({ streamId: 'st', send: (b) => (batches.push(b), true) });
    for (let i = 0; i < 120; i++) s.push('info', 'RG0190I', `line ${i}`, 'a1');
    expect(batches.map((b) => b.length)).toEqual([50, 50]);
    vi.advanceTimersByTime(99);
    expect(batches).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(batches.map((b) => b.length)).toEqual([50, 50, 20]);
    expect(batches[0]![0]).toMatchObject({
      actionId: 'a1',
      level: 'info',
      code: 'RG0190I',
      message: 'line 0',
    });
    s.stop();
  });

  it('buffers while disconnected, drops the oldest beyond the bound and says how many', () => {
    vi.useFakeTimers();
    let connected = false;
    const batches: ShippedLine[][] = [];
    const s = createLogShipper({
      streamId: 'st',
      maxBuffered: 100,
      send: (b) => (connected ? (batches.push(b), true) : false),
    });
    for (let i = 0; i < 250; i++) s.push('info', 'RG0111I', `line ${i}`);
    expect(s.pending).toBe(100);
    expect(s.dropped).toBe(150);
    connected = true;
    s.flush();
    const all = batches.flat();
    expect(all.filter((l) => l.level === 'info').map((l) => l.message)).toEqual(
      Array.from({ length: 100 }, (_, i) => `line ${i + 150}`),
    );
    const warnings = all.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('150 older log lines were dropped');
    expect(batches.every((b) => b.length <= 50)).toBe(true);
    // Sent is not stored: the lines stay (within the bound) until the coordinator acknowledges them.
    expect(s.pending).toBe(100);
    s.ack('st', all.at(-1)!.seq);
    expect(s.pending).toBe(0);
    expect(s.dropped).toBe(0);
    s.stop();
  });

  it('keeps lines until acknowledged and resends the unacknowledged ones after a reconnect', () => {
    vi.useFakeTimers();
    const sent: { seq: number; message: string; stream: string }[] = [];
    const s = createLogShipper({
      streamId: 'st',
      send: (b, stream) => (sent.push(...b.map((l) => ({ seq: l.seq, message: l.message, stream }))), true),
    });
    for (let i = 1; i <= 5; i++) s.push('info', 'RG0190I', `l${i}`);
    vi.advanceTimersByTime(100);
    expect(sent.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(sent.every((l) => l.stream === 'st')).toBe(true);
    s.ack('other-stream', 5); // an ack for another stream (an older agent process) changes nothing
    expect(s.pending).toBe(5);
    s.ack('st', 3);
    expect(s.pending).toBe(2);
    sent.length = 0;
    s.resendUnacknowledged();
    s.flush();
    expect(sent.map((l) => l.message)).toEqual(['l4', 'l5']);
    s.ack('st', 5);
    expect(s.pending).toBe(0);
    s.stop();
  });

  it('retries on its timer after a failed send', () => {
    vi.useFakeTimers();
    let ok = false;
    const sent: ShippedLine[] = [];
    const s = createLogShipper({ streamId: 'st', send: (b) => (ok ? (sent.push(...b), true) : false) });
    s.push('warn', 'RG0102E', 'x');
    vi.advanceTimersByTime(100);
    expect(sent).toHaveLength(0);
    ok = true;
    vi.advanceTimersByTime(100);
    expect(sent.map((l) => l.level)).toEqual(['warn']);
    s.stop();
  });
});
