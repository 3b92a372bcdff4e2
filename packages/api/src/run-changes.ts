import type { EngineStore, Fence, StepCompletion } from '@rollgate/engine';

/** A follower of one run's changes (see {@link RunChanges.follow}). */
export interface RunFollower {
  /**
   * Resolves at the run's next change (at once when one came since the last call), after
   * `coalesceMs` more so that the writes of one transition arrive together; or after `ms` without
   * a change (the fallback for changes made by another coordinator sharing the database).
   */
  wait(ms: number): Promise<void>;
  /** Stops following; a pending wait resolves. */
  close(): void;
}

/**
 * Which runs changed, in this process: the live stream (upgrade.watch) wakes on a change instead of
 * polling, so `--wait` and the console see a run's end at once (docs/adr/0024).
 */
export interface RunChanges {
  /** Something of this run was written: its state, a step, an action, the ledger or log lines. */
  notify(runId: string): void;
  follow(runId: string): RunFollower;
  /** This process wrote the run's success: every action of it has finished (see linesStored). */
  succeeded(runId: string): void;
  /**
   * Whether every log line of the run is stored, so a live stream may end without waiting for
   * late lines (docs/adr/0055): true for a run whose success this process wrote, once the engine
   * settled and the log writer flushed; false otherwise (another coordinator led it, it ended
   * otherwise, or the flush failed), and the stream waits for quiet as before.
   */
  linesStored(runId: string): Promise<boolean>;
}

export interface RunChangesOptions {
  /** After a change, wait this long for the rest of the transition's writes, ms. Default 20. */
  coalesceMs?: number;
  /**
   * Settles once the engine is not moving the run (Engine.settled): a follower then reads after
   * the step's choreography, not in the middle of it, so a live view never delays the rollout it
   * shows (docs/adr/0052). Default: no wait.
   */
  settled?: (runId: string) => Promise<void>;
  /** The longest a follower waits for `settled` after a change, ms. Default 250. */
  maxDeferMs?: number;
  /**
   * Writes every log line this process has queued (the coordinator's log writer). Without it,
   * linesStored is always false.
   */
  flushLines?: () => Promise<void>;
  /**
   * The longest linesStored waits for `flushLines` (a database that does not answer must not hold a
   * stream open after its run), ms; then it answers false. Default 1000.
   */
  maxFlushMs?: number;
}

/** How many ended runs linesStored remembers (a stream that starts later waits for quiet). */
const SUCCEEDED_KEPT = 1000;

/** Whether `p` resolved within `ms`: false when it rejected or took longer (then it is not waited for). */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const ok = await Promise.race([
    p.then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return ok;
}

export function createRunChanges(opts: RunChangesOptions = {}): RunChanges {
  const coalesceMs = opts.coalesceMs ?? 20;
  const maxDeferMs = opts.maxDeferMs ?? 250;
  // Only runs someone follows are tracked: the map holds no more than the open streams.
  const followers = new Map<string, Set<{ changed: () => void }>>();
  // Insertion order is age: the oldest run is dropped first.
  const succeeded = new Set<string>();
  return {
    notify(runId) {
      for (const f of followers.get(runId) ?? []) f.changed();
    },
    succeeded(runId) {
      succeeded.delete(runId);
      succeeded.add(runId);
      if (succeeded.size > SUCCEEDED_KEPT) succeeded.delete(succeeded.values().next().value!);
    },
    async linesStored(runId) {
      if (!opts.flushLines || !succeeded.has(runId)) return false;
      // The engine's last lines of the run (e.g. "rollout completed") follow its final write.
      if (opts.settled) await within(opts.settled(runId), maxDeferMs);
      return within(opts.flushLines(), opts.maxFlushMs ?? 1000);
    },
    follow(runId) {
      let dirty = false;
      let wake: (() => void) | null = null;
      let closed = false;
      const me = {
        changed() {
          dirty = true;
          wake?.();
        },
      };
      let set = followers.get(runId);
      if (!set) followers.set(runId, (set = new Set()));
      set.add(me);
      const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
      return {
        async wait(ms) {
          if (!dirty && !closed) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(done, ms);
              function done() {
                clearTimeout(timer);
                wake = null;
                resolve();
              }
              wake = done;
            });
          }
          if (dirty && !closed && coalesceMs > 0) await sleep(coalesceMs);
          if (dirty && !closed && opts.settled) await within(opts.settled(runId), maxDeferMs);
          dirty = false;
        },
        close() {
          closed = true;
          wake?.();
          const s = followers.get(runId);
          s?.delete(me);
          if (s?.size === 0) followers.delete(runId);
        },
      };
    },
  };
}

/**
 * The store with every write that changes what a run's view or logs show reported to `changes`
 * (after it committed). The stores are plain objects of closures: a copy with some methods replaced
 * is the same store.
 */
export function storeWithRunChanges<S extends EngineStore>(
  store: S,
  changes: Pick<RunChanges, 'notify'> & Partial<Pick<RunChanges, 'succeeded'>>,
): S {
  return {
    ...store,
    async createRun(run, steps) {
      await store.createRun(run, steps);
      changes.notify(run.id);
    },
    async updateRun(id, expectedVersion, patch, fence) {
      const r = await store.updateRun(id, expectedVersion, patch, fence);
      if (r?.status === 'succeeded') changes.succeeded?.(id);
      if (r) changes.notify(id);
      return r;
    },
    async updateStep(runId, index, patch, fence) {
      await store.updateStep(runId, index, patch, fence);
      changes.notify(runId);
    },
    async startStep(runId, index, attempt, startedAt, actions, ledger, fence) {
      await store.startStep(runId, index, attempt, startedAt, actions, ledger, fence);
      changes.notify(runId);
    },
    async updateAction(id, from, patch, fence, opts) {
      const a = await store.updateAction(id, from, patch, fence, opts);
      if (a) changes.notify(a.runId);
      return a;
    },
    ...(store.completeStep
      ? {
          async completeStep(c: StepCompletion, fence?: Fence) {
            const r = await store.completeStep!(c, fence);
            if (r) changes.notify(c.runId);
            return r;
          },
        }
      : {}),
    async reopenLedger(runId, serverId, at, fence) {
      await store.reopenLedger(runId, serverId, at, fence);
      changes.notify(runId);
    },
    async appendLogs(lines) {
      await store.appendLogs(lines);
      for (const runId of new Set(lines.map((l) => l.runId))) if (runId) changes.notify(runId);
    },
  };
}
