import { describe, expect, it } from 'vitest';
import { gateOnlyDetectMs, gateOnlyReadmitMs, gateOnlyWaits } from './gate-timing';

describe('gate-only timing', () => {
  it('HTTP check only: fall x inter plus one check latency to notice a closed gate, rise x inter plus it to re-admit (issue 18 item 1)', () => {
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2 })).toBe(2100);
    expect(gateOnlyDetectMs({ checkIntervalMs: 2000, fall: 3 })).toBe(6100);
    expect(gateOnlyReadmitMs({ checkIntervalMs: 1000, rise: 2 })).toBe(2100);
    // The latency allowance is a quarter interval when that is under 100 ms.
    expect(gateOnlyDetectMs({ checkIntervalMs: 200, fall: 2 })).toBe(450);
  });

  it('gate-only, 6 servers in 3 groups, checks every 500 ms: the waits fit 3 x (fall + rise + 1) x inter (issue 18 target)', () => {
    const { detectMs, readmitMs } = gateOnlyWaits({ checkIntervalMs: 500, fall: 2, rise: 2 });
    expect(3 * (detectMs + readmitMs)).toBeLessThanOrEqual(3 * (2 + 2 + 1) * 500);
    expect(3 * (detectMs + readmitMs)).toBe(6600);
  });

  it('an operator-stated reaction time replaces the check arithmetic (a non-HAProxy LB)', () => {
    expect(gateOnlyWaits({ checkIntervalMs: 1000, fall: 2, rise: 2, reactionMs: 750 })).toEqual({
      detectMs: 750,
      readmitMs: 750,
      reactionMs: 750,
    });
    expect(gateOnlyWaits({ checkIntervalMs: 1000, fall: 2, rise: 3, reactionMs: null })).toEqual({
      detectMs: 2100,
      readmitMs: 3100,
    });
    expect(() => gateOnlyWaits({ checkIntervalMs: 1000, fall: 2, rise: 2, reactionMs: -5 })).toThrow(
      /reactionMs must be/,
    );
  });

  it('with agent-check: one agent interval plus one check latency to notice, when sooner; never sooner to re-admit', () => {
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2, agentInterMs: 500 })).toBe(600);
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2, agentInterMs: 2000 })).toBe(2100);
    // Re-admission waits for HAProxy's own check to rise: the agent's "up" cannot override it.
    expect(gateOnlyReadmitMs({ checkIntervalMs: 1000, rise: 2, agentInterMs: 1000 })).toBe(2100);
    expect(gateOnlyReadmitMs({ checkIntervalMs: 500, rise: 2, agentInterMs: 3000 })).toBe(3100);
    // A slow agent-check never makes it later than the HTTP check would be.
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2, agentInterMs: 10_000 })).toBe(2100);
  });

  it('refuses nonsense', () => {
    expect(() => gateOnlyDetectMs({ checkIntervalMs: 0, fall: 2 })).toThrow(
      /checkIntervalMs must be a positive/,
    );
    expect(() => gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 0 })).toThrow(/fall must be/);
    expect(() => gateOnlyReadmitMs({ checkIntervalMs: 1000, rise: 1.5 })).toThrow(/rise must be/);
    expect(() => gateOnlyReadmitMs({ checkIntervalMs: 1000, rise: 2, agentInterMs: -1 })).toThrow(
      /agentInterMs/,
    );
  });
});
