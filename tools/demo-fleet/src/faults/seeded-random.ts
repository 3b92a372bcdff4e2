// A tiny deterministic PRNG for the fault tests: the seed is printed, so a failing run can be
// replayed exactly with ROLLGATE_FAULT_SEED=<seed>.

/** mulberry32: 32-bit state, uniform [0, 1). Small, fast and good enough to pick kill points. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeededRandom {
  readonly seed: number;
  /** Uniform [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** Uniform integer in [0, n). */
  below(n: number): number;
  /** One element of a non-empty list, uniformly. */
  pick<T>(xs: readonly T[]): T;
}

/**
 * The seed from `ROLLGATE_FAULT_SEED` (the test passes process.env in; packages read no
 * environment), else a fresh one. A seed that is not a non-negative integer is an error, not a
 * silent fallback, so a replay never runs with a different seed than the one asked for.
 */
export function faultRandom(
  envSeed: string | undefined,
  fresh: () => number = Math.random,
  /** The variable the seed came from, for the error message. */
  variable = 'ROLLGATE_FAULT_SEED',
): SeededRandom {
  let seed: number;
  if (envSeed !== undefined && envSeed !== '') {
    if (!/^\d+$/.test(envSeed) || Number(envSeed) > 0xffffffff) {
      throw new Error(`${variable} must be an integer 0..4294967295, got "${envSeed}"`);
    }
    seed = Number(envSeed);
  } else {
    seed = Math.floor(fresh() * 0x100000000) >>> 0;
  }
  const next = mulberry32(seed);
  const below = (n: number) => Math.floor(next() * n);
  return {
    seed,
    next,
    int: (min, max) => min + below(max - min + 1),
    below,
    pick: (xs) => xs[below(xs.length)]!,
  };
}
