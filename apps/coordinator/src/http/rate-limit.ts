/**
 * Fixed-window failure counters per key (e.g. "login:alice@10.0.0.5"): after `limit` failures in
 * `windowMs` the key is locked until the window ends. In memory: a coordinator restart forgets
 * them, which only ever helps a legitimate user.
 */
export interface RateLimiter {
  /** ms until the key may try again, or 0 when it may try now. */
  retryAfterMs(key: string): number;
  /** Records a failure; returns ms until the key may try again (0 while under the limit). */
  fail(key: string): number;
  /** Forgets the key's failures (after a success). */
  reset(key: string): void;
}

export interface RateLimiterOptions {
  /** Failures allowed per window; default 5. */
  limit?: number;
  /** Window length in ms; default 300000 (5 min). */
  windowMs?: number;
  now: () => number;
  /** Most keys kept; the oldest are dropped beyond it (bounds memory under a spray). Default 100000. */
  maxKeys?: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const limit = opts.limit ?? 5;
  const windowMs = opts.windowMs ?? 300_000;
  const maxKeys = opts.maxKeys ?? 100_000;
  const entries = new Map<string, { start: number; count: number }>();
  const current = (key: string) => {
    const e = entries.get(key);
    if (e && opts.now() - e.start >= windowMs) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };
  return {
    retryAfterMs(key) {
      const e = current(key);
      return e && e.count >= limit ? e.start + windowMs - opts.now() : 0;
    },
    fail(key) {
      let e = current(key);
      if (!e) {
        if (entries.size >= maxKeys) entries.delete(entries.keys().next().value!);
        e = { start: opts.now(), count: 0 };
        entries.set(key, e);
      }
      e.count++;
      return e.count >= limit ? e.start + windowMs - opts.now() : 0;
    },
    reset(key) {
      entries.delete(key);
    },
  };
}

/**
 * Attempt counters that every coordinator shares (PostgreSQL's `createPgLoginAttempts` in
 * production): an attempt is counted BEFORE the work it guards (a password hash), so N concurrent
 * attempts are N counts, and N coordinators allow the budget of one (docs/adr/0020).
 */
export interface AttemptCounter {
  /** Counts one attempt for `key`; its count in the current window and when that window ends. */
  hit(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }>;
  /** Takes one attempt back (it turned out not to be a guess). */
  refund(key: string): Promise<void>;
  /** Forgets the key. */
  reset(key: string): Promise<void>;
  /** Removes ended windows. */
  prune(windowMs: number, now: number): Promise<number>;
}

/** An in-memory AttemptCounter for one process (unit tests); at most `maxKeys` keys (default 100000). */
export function createMemoryAttemptCounter(maxKeys = 100_000): AttemptCounter {
  const entries = new Map<string, { start: number; count: number }>();
  return {
    async hit(key, windowMs, now) {
      let e = entries.get(key);
      if (!e || e.start + windowMs <= now) {
        entries.delete(key);
        if (entries.size >= maxKeys) entries.delete(entries.keys().next().value!);
        e = { start: now, count: 0 };
        entries.set(key, e);
      }
      e.count++;
      return { count: e.count, resetAt: e.start + windowMs };
    },
    async refund(key) {
      const e = entries.get(key);
      if (e) e.count = Math.max(0, e.count - 1);
    },
    async reset(key) {
      entries.delete(key);
    },
    async prune(windowMs, now) {
      let n = 0;
      for (const [k, e] of entries)
        if (e.start + windowMs <= now) {
          entries.delete(k);
          n++;
        }
      return n;
    },
  };
}
