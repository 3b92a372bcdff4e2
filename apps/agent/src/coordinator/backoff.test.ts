import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, createBackoff } from './backoff';

describe('reconnect back-off', () => {
  it('doubles from 200 ms and stops at the 10 s cap', () => {
    const ceilings = Array.from({ length: 10 }, (_, i) => backoffCeiling(i));
    expect(ceilings).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000, 10_000]);
    expect(backoffCeiling(10_000)).toBe(10_000); // no overflow after a long outage
  });

  it('full jitter: every delay lies in [0, ceiling)', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      expect(backoffDelay(attempt, { random: () => 0 })).toBe(0);
      expect(backoffDelay(attempt, { random: () => 0.999999 })).toBeLessThan(backoffCeiling(attempt));
      expect(backoffDelay(attempt, { random: () => 0.5 })).toBe(Math.floor(backoffCeiling(attempt) / 2));
    }
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(7);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(10_000);
    }
  });

  it('spreads delays (jitter) rather than retrying in lock-step', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it('counts attempts and resets after a lasting connection', () => {
    const b = createBackoff({ random: () => 0.999 });
    const first = [b.next(), b.next(), b.next()];
    expect(first).toEqual([199, 399, 799]);
    expect(b.attempt).toBe(3);
    b.reset();
    expect(b.next()).toBe(199);
  });

  it('honours custom base, factor and cap', () => {
    const opts = { baseMs: 100, factor: 3, capMs: 1000, random: () => 0.999999 };
    expect([0, 1, 2, 3].map((a) => backoffCeiling(a, opts))).toEqual([100, 300, 900, 1000]);
  });
});
