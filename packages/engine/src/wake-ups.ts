import type { Clock } from './ports';

/** How often the LB's own state is read while the rollout waits on it (sessions, UP), ms. */
const LB_POLL_MS = 25;

export interface WakeUpContext {
  clock: Clock;
  /** Evaluates the run (serially with every other change to it). */
  kick: (runId: string) => Promise<void>;
}

/**
 * The engine's timed re-evaluations besides its tick: waits whose end is known or watched, so a
 * run moves on the moment it can rather than at the next tick.
 */
export interface WakeUps {
  /** Waiting on an agent that may come back: look again later rather than at the next tick. */
  recheckSoon(runId: string, ms?: number): void;
  /** Evaluates the run once `ms` from now (a wait whose end is known: gate-only re-admission). */
  wakeAt(runId: string, ms: number): void;
  /**
   * Waits on the load balancer's state alone: reads it every LB_POLL_MS (no store read, no
   * evaluation) until `ready` says so or `until` passes, then evaluates the run at once. Only
   * HAProxy's own state is polled on the rollout path (sessions to end, a server to be UP); the
   * agents' results kick the run themselves. A read that fails ends the wait: the evaluation meets
   * the error and handles it.
   */
  watchLb(runId: string, what: string, until: number, ready: () => Promise<boolean>): void;
  /** Cancels every pending wake-up; none is armed afterwards. */
  stop(): void;
  /** Arms wake-ups again (after a stop). */
  start(): void;
}

export function createWakeUps({ clock, kick }: WakeUpContext): WakeUps {
  let stopped = false;
  /** Waits on the load balancer alone, by what they wait for. */
  const lbWatches = new Map<string, NodeJS.Timeout>();
  /** One-shot wake-ups at a computed time (gate-only waits), by run. */
  const wakeUps = new Map<string, NodeJS.Timeout>();

  return {
    recheckSoon(runId, ms = 50) {
      if (stopped) return;
      setTimeout(() => void kick(runId), ms).unref();
    },

    wakeAt(runId, ms) {
      if (stopped || wakeUps.has(runId)) return;
      const t = setTimeout(
        () => {
          wakeUps.delete(runId);
          void kick(runId);
        },
        Math.max(0, ms),
      );
      t.unref();
      wakeUps.set(runId, t);
    },

    watchLb(runId, what, until, ready) {
      const key = `${runId}:${what}`;
      if (stopped || lbWatches.has(key)) return;
      const look = async () => {
        let done: boolean;
        try {
          done = clock.now() >= until || (await ready());
        } catch {
          done = true;
        }
        if (stopped) return void lbWatches.delete(key);
        if (done) {
          lbWatches.delete(key);
          void kick(runId);
          return;
        }
        const t = setTimeout(() => void look(), LB_POLL_MS);
        t.unref();
        lbWatches.set(key, t);
      };
      const t = setTimeout(() => void look(), LB_POLL_MS);
      t.unref();
      lbWatches.set(key, t);
    },

    stop() {
      stopped = true;
      for (const t of [...lbWatches.values(), ...wakeUps.values()]) clearTimeout(t);
      lbWatches.clear();
      wakeUps.clear();
    },

    start() {
      stopped = false;
    },
  };
}
