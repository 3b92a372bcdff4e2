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
