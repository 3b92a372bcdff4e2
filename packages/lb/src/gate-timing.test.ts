import { describe, expect, it } from 'vitest';
import { gateOnlyDetectMs, gateOnlyReadmitMs } from './gate-timing';

describe('gate-only timing', () => {
  it('HTTP check only: (fall + 1) x inter to notice a closed gate, (rise + 1) x inter to re-admit', () => {
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2 })).toBe(3000);
    expect(gateOnlyDetectMs({ checkIntervalMs: 2000, fall: 3 })).toBe(8000);
    expect(gateOnlyReadmitMs({ checkIntervalMs: 1000, rise: 2 })).toBe(3000);
  });

  it('with agent-check: one agent interval plus max(200 ms, a quarter of it) to notice, when sooner; never sooner to re-admit', () => {
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2, agentInterMs: 500 })).toBe(700);
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2, agentInterMs: 2000 })).toBe(2500);
    // Re-admission waits for HAProxy's own check to rise: the agent's "up" cannot override it.
    expect(gateOnlyReadmitMs({ checkIntervalMs: 1000, rise: 2, agentInterMs: 1000 })).toBe(3000);
    expect(gateOnlyReadmitMs({ checkIntervalMs: 500, rise: 2, agentInterMs: 3000 })).toBe(3750);
    // A slow agent-check never makes it later than the HTTP check would be.
    expect(gateOnlyDetectMs({ checkIntervalMs: 1000, fall: 2, agentInterMs: 10_000 })).toBe(3000);
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
