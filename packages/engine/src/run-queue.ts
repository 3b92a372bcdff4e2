/**
 * Serialises every change to one run: commands, evaluations and agent reports on the same run
 * never interleave, while different runs proceed in parallel.
 */
export interface RunQueue {
  /** Runs fn after everything already queued for this run; its error goes to the caller only. */
  serial<T>(runId: string, fn: () => Promise<T>): Promise<T>;
  /** Something is queued or running for the run. */
  busy(runId: string): boolean;
  /** Settles once everything queued now has run (a clean stop). */
  idle(): Promise<void>;
  /** Settles once nothing is queued or running for the run, including what is queued meanwhile. */
  settled(runId: string): Promise<void>;
}

export function createRunQueue(): RunQueue {
  const queues = new Map<string, Promise<unknown>>();
  return {
    serial<T>(runId: string, fn: () => Promise<T>): Promise<T> {
      const prev = queues.get(runId) ?? Promise.resolve();
      const next = prev.then(fn, fn);
      // The chain goes on after a failure: one failed change must not block the run's next one.
      const settled = next.catch(() => undefined);
      queues.set(runId, settled);
      void settled.then(() => {
        if (queues.get(runId) === settled) queues.delete(runId);
      });
      return next;
    },
    busy: (runId) => queues.has(runId),
    async settled(runId) {
      for (let tail = queues.get(runId); tail; tail = queues.get(runId)) await tail;
    },
    async idle() {
      await Promise.all([...queues.values()]);
    },
  };
}
