import { describe, expect, it } from 'vitest';
import { faultRandom, mulberry32 } from './seeded-random';

describe('mulberry32', () => {
  it('replays the same sequence for the same seed, in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(1000);
    // Spread over the range, not stuck in a corner.
    expect(xs.filter((x) => x < 0.5).length).toBeGreaterThan(400);
    expect(xs.filter((x) => x < 0.5).length).toBeLessThan(600);
  });

  it('differs between seeds', () => {
    expect(mulberry32(1)()).not.toBe(mulberry32(2)());
  });
});

describe('faultRandom', () => {
  it('takes the seed from ROLLGATE_FAULT_SEED so a failure can be replayed', () => {
    const r = faultRandom('1234');
    expect(r.seed).toBe(1234);
    const again = faultRandom('1234');
    expect([r.int(1, 6), r.int(1, 6), r.int(1, 6)]).toEqual([
      again.int(1, 6),
      again.int(1, 6),
      again.int(1, 6),
    ]);
  });

  it('draws a fresh seed when none is given', () => {
    expect(faultRandom(undefined, () => 0.5).seed).toBe(0x80000000);
    expect(faultRandom('', () => 0).seed).toBe(0);
  });

  it('refuses a seed it cannot replay', () => {
    expect(() => faultRandom('abc')).toThrow(/ROLLGATE_FAULT_SEED must be an integer/);
    expect(() => faultRandom('4294967296')).toThrow(/ROLLGATE_FAULT_SEED/);
  });

  it('int stays within its bounds', () => {
    const r = faultRandom('7');
    const xs = Array.from({ length: 500 }, () => r.int(3, 5));
    expect(new Set(xs)).toEqual(new Set([3, 4, 5]));
  });
});
