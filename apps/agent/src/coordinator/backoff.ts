// Reconnect delays: exponential with full jitter, so a fleet of agents that lost the coordinator at
// the same moment does not reconnect in lock-step (see the AWS "Exponential Backoff and Jitter" note).

export interface BackoffOptions {
  /** First ceiling, ms; default 200. */
  baseMs?: number;
  /** Growth of the ceiling per failed attempt; default 2. */
  factor?: number;
  /** Largest ceiling, ms; default 10_000. */
  capMs?: number;
  /** Uniform [0, 1) source; default Math.random (a parameter so tests are deterministic). */
  random?: () => number;
}

/** The ceiling for a 0-based attempt: min(cap, base * factor^attempt). */
export function backoffCeiling(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 200;
  const factor = opts.factor ?? 2;
  const cap = opts.capMs ?? 10_000;
  // Clamp the exponent so a long outage cannot overflow to Infinity.
  return Math.min(cap, base * Math.pow(factor, Math.min(attempt, 64)));
}

/** Full jitter: a uniform delay in [0, ceiling). */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const random = opts.random ?? Math.random;
  return Math.floor(random() * backoffCeiling(attempt, opts));
}

export interface Backoff {
  /** Delay before the next attempt; each call counts one more failure. */
  next(): number;
  /** Back to the first ceiling (after a connection that lasted). */
  reset(): void;
  readonly attempt: number;
}

export function createBackoff(opts: BackoffOptions = {}): Backoff {
  let attempt = 0;
  return {
    next() {
      const d = backoffDelay(attempt, opts);
      attempt += 1;
      return d;
    },
    reset() {
      attempt = 0;
    },
    get attempt() {
      return attempt;
    },
  };
}
