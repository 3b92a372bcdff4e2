import type { EngineStore, LogRecord } from '@rollgate/engine';
import type { DbLogger } from './embedded-postgres';
import { isPermanentLogFailure, unstorableLogLine } from './log-chunks';

export interface LogWriterOptions {
  /** Where batches go: one appendLogs call per batch. */
  store: Pick<EngineStore, 'appendLogs'>;
  /**
   * Most lines per appendLogs call. Default: 20 000 (one call is in flight at a time, so under a
   * steady stream its latency bounds throughput: 5 000-line calls capped ingest near 95k lines/s
   * here, 20 000-line calls near 150k, on 2 cores shared with the load generator).
   */
  maxBatch?: number;
  /** Longest a line waits before its batch is written (unless a write is already in flight). Default: 200 ms. */
  flushMs?: number;
  /**
   * Most lines held in memory waiting to be written (the batch in flight not counted). When full,
   * the oldest buffered debug line is dropped to make room; when none is left, a debug line is
   * dropped and any other line is refused: write() returns false. Default: 50 000.
   */
  maxBuffered?: number;
  /** Told about failed writes (they are retried) and dropped lines. Default: silent. */
  logger?: DbLogger;
  /** Longest pause between retries of a failing appendLogs. Default: 5 000 ms. */
  maxRetryDelayMs?: number;
  /**
   * appendLogs calls in flight at once, so that one batch is sent while the previous one commits.
   * Default: 1. More only with a store that commits calls in call order and fails a call started
   * while an earlier one was in flight if that one fails, writing nothing of it (pg-store does):
   * failed batches are put back in order, and a line is never counted written before those
   * written ahead of it. After a failure, one at a time until a batch succeeds.
   */
  pipeline?: number;
  /**
   * Where lines go that can never be stored (a batch failing for a reason retrying will not fix,
   * narrowed down to its failing lines): instead of being retried for ever, which stalled every
   * agent's log stream behind them (issue 17 item 2). Default: they are dropped (counted in
   * stats().setAside either way). A failing deadLetter() is logged; the lines are then dropped.
   */
  deadLetter?: (lines: LogRecord[], reason: string) => Promise<void>;
  /** Told once per batch set aside, after deadLetter() (the operator's alert). Default: none. */
  onSetAside?: (e: { lines: LogRecord[]; reason: string }) => void;
  /** Whether an appendLogs failure is one retrying will not fix. Default: isPermanentLogFailure. */
  isPermanent?: (err: unknown) => boolean;
}

export interface LogWriterStats {
  /** Lines waiting in memory. */
  buffered: number;
  /** Lines persisted. */
  written: number;
  /** Debug lines dropped because the buffer was full. */
  dropped: number;
  /** Lines refused (write returned false) because the buffer was full of non-debug lines. */
  refused: number;
  /** Lines dropped at write() because a field is out of its column's range (unstorableLogLine). */
  unstorable: number;
  /** Lines of failed batches set aside (dead letters) instead of retried. */
  setAside: number;
}

export interface LogWriter {
  /**
   * Queues one line; never waits for the database. Returns false if the line was NOT accepted:
   * the buffer is full of non-debug lines (the database is slow or down). That is back-pressure:
   * the caller should `await flush()` (or slow its source) and write the line again. Also false
   * after stop(). A debug line written to a full buffer is dropped silently (returns true).
   */
  write(line: LogRecord): boolean;
  /** Resolves once every line accepted before the call is persisted; rejects if a write fails. */
  flush(): Promise<void>;
  /**
   * Back-pressure for a caller whose write() returned false: resolves as soon as the buffer has room
   * for a batch again (the writer took one), without waiting for everything buffered to be stored
   * as flush() does. Rejects after stop().
   */
  whenWritable(): Promise<void>;
  /** Flushes what is left, then refuses further writes. Rejects if the final flush failed. */
  stop(): Promise<void>;
  stats(): LogWriterStats;
}

/** drizzle's errors quote every bind parameter, i.e. the whole batch: keep log lines short. */
function brief(err: unknown): string {
  const msg = (err as Error)?.message ?? String(err);
  return msg.length > 300 ? `${msg.slice(0, 300)}…` : msg;
}

/**
 * Batches log lines into appendLogs calls: a batch goes out when it reaches maxBatch lines or
 * flushMs after its first line, whichever comes first, with at most one call in flight so lines
 * are stored in the order they were written and the database sees one writer. Never one round
 * trip per line.
 */
export function createLogWriter(opts: LogWriterOptions): LogWriter {
  const maxBatch = opts.maxBatch ?? 20000;
  const flushMs = opts.flushMs ?? 200;
  const maxBuffered = opts.maxBuffered ?? 50_000;
  const maxRetryDelayMs = opts.maxRetryDelayMs ?? 5_000;
  const pipeline = Math.max(1, Math.floor(opts.pipeline ?? 1));
  const isPermanent = opts.isPermanent ?? isPermanentLogFailure;
  if (maxBatch < 1 || maxBuffered < 1) throw new Error('maxBatch and maxBuffered must be at least 1');

  // Dropped debug lines become holes (null) so dropping is O(1); holes are skipped when a batch is
  // taken. `debugScan` only moves forward, so finding the oldest debug line is amortised O(1).
  let buf: (LogRecord | null)[] = [];
  let head = 0; // index of the first slot not yet taken into a batch
  let live = 0; // non-null slots from head on
  let debugLive = 0;
  let debugScan = 0;
  // Slots ever queued / ever settled (written, or a dropped hole passed). The queue is FIFO, so
  // flush() is done once `settled` reaches the `queued` it saw, however busy the writers are.
  let queued = 0;
  let settled = 0;

  let inFlight: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let retryDelay = 0;
  let stopped = false;
  // whenWritable() resolves once the buffer is down to this: room for a batch (or half of it).
  const roomAt = maxBuffered - Math.min(maxBatch, Math.floor(maxBuffered / 2));
  let roomWaiters: { res: () => void; rej: (e: Error) => void }[] = [];

  // Settles after every appendLogs call (rejects when it failed). flush() waits on it rather than on
  // the pump loop as a whole, which under a steady inflow (writers woken by whenWritable) may not end.
  let batchEnd = deferred();
  function deferred() {
    let res!: () => void;
    let rej!: (err: unknown) => void;
    const promise = new Promise<void>((a, b) => {
      res = a;
      rej = b;
    });
    promise.catch(() => undefined); // a failure nobody waits for is not unhandled
    return { promise, res, rej };
  }
  function batchSettled(err?: unknown): void {
    const d = batchEnd;
    batchEnd = deferred();
    if (err === undefined) d.res();
    else d.rej(err);
  }

  function wakeWriters(): void {
    if (roomWaiters.length === 0 || live > roomAt) return;
    const waiting = roomWaiters;
    roomWaiters = [];
    for (const w of waiting) w.res();
  }
  const stats = { written: 0, dropped: 0, refused: 0, unstorable: 0, setAside: 0 };

  function dropOldestDebug(): boolean {
    if (debugLive === 0) return false;
    for (debugScan = Math.max(debugScan, head); debugScan < buf.length; debugScan++) {
      const l = buf[debugScan];
      if (l && l.level === 'debug') {
        buf[debugScan] = null;
        live--;
        debugLive--;
        stats.dropped++;
        return true;
      }
    }
    return false;
  }

  function takeBatch(): { batch: LogRecord[]; slots: (LogRecord | null)[] } {
    const batch: LogRecord[] = [];
    const from = head;
    while (head < buf.length && batch.length < maxBatch) {
      const l = buf[head++];
      if (l) {
        batch.push(l);
        if (l.level === 'debug') debugLive--;
      }
    }
    const slots = buf.slice(from, head);
    live -= batch.length;
    // Compact once the taken prefix dominates, so the array does not grow without end.
    if (head > 1024 && head * 2 > buf.length) {
      buf = buf.slice(head);
      debugScan = Math.max(0, debugScan - head);
      head = 0;
    }
    return { batch, slots };
  }

  function putBack(batch: LogRecord[], slots: (LogRecord | null)[]): void {
    // A failed batch goes back in front, in order, holes included (they keep `settled` a prefix).
    buf = [...slots, ...buf.slice(head)];
    head = 0;
    debugScan = 0;
    live += batch.length;
    for (const l of batch) if (l.level === 'debug') debugLive++;
  }

  async function setAside(lines: LogRecord[], err: unknown): Promise<void> {
    const reason = brief(err);
    stats.setAside += lines.length;
    try {
      await opts.deadLetter?.(lines, reason);
    } catch (e) {
      opts.logger?.error({ err: brief(e), lines: lines.length }, 'log lines could not be set aside: dropped');
    }
    opts.onSetAside?.({ lines, reason });
  }

  /** Pieces of a failing batch tried apart before the rest is set aside whole: bounds the round trips. */
  const ISOLATE_CALLS = 48;

  /**
   * A batch that failed for good, written in halves until the failing lines are found (set aside)
   * and the others stored, in order. Returns the lines not yet written when a failure that may go
   * away interrupts it (they are retried as usual), else [].
   */
  async function isolate(batch: LogRecord[], first: unknown): Promise<{ left: LogRecord[]; err?: unknown }> {
    let calls = 0;
    const pieces: { lines: LogRecord[]; err?: unknown }[] = [{ lines: batch, err: first }];
    while (pieces.length > 0) {
      const piece = pieces.shift()!;
      let err = piece.err;
      if (err === undefined) {
        calls++;
        try {
          await opts.store.appendLogs(piece.lines);
          stats.written += piece.lines.length;
          continue;
        } catch (e) {
          err = e;
        }
      }
      if (!isPermanent(err)) return { left: [piece.lines, ...pieces.map((p) => p.lines)].flat(), err };
      if (piece.lines.length === 1 || calls >= ISOLATE_CALLS) {
        await setAside(piece.lines, err);
        continue;
      }
      const mid = piece.lines.length >> 1;
      pieces.unshift({ lines: piece.lines.slice(0, mid) }, { lines: piece.lines.slice(mid) });
    }
    return { left: [] };
  }

  function schedule(delay: number): void {
    if (timer || inFlight || stopped) return;
    timer = setTimeout(() => {
      timer = null;
      pump(true).catch(() => undefined);
    }, delay);
    // A pending flush must not keep the process alive; stop() is what guarantees delivery.
    timer.unref?.();
  }

  /**
   * Writes full batches, and with `due` (timer fired, flush, stop) also the partial one at the end,
   * so a burst's remainder waits for the timer and picks up company. One call in flight at a time.
   */
  function pump(due: boolean): Promise<void> {
    if (inFlight) return inFlight;
    const more = () => live >= maxBatch || (due && live > 0);
    if (!more()) return Promise.resolve();
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    inFlight = (async () => {
      type Call = { batch: LogRecord[]; slots: (LogRecord | null)[]; done: Promise<void> };
      const calls: Call[] = [];
      const failed: Call[] = [];
      let failure: unknown;
      try {
        for (;;) {
          while (failure === undefined && calls.length < (retryDelay > 0 ? 1 : pipeline) && more()) {
            const { batch, slots } = takeBatch();
            wakeWriters();
            const done = opts.store.appendLogs(batch);
            done.catch(() => undefined); // awaited below, in order
            calls.push({ batch, slots, done });
          }
          const call = calls.shift();
          if (!call) break;
          try {
            await call.done;
          } catch (err) {
            failed.push(call);
            failure ??= err;
            continue;
          }
          // In order: a call after a failed one failed too (see `pipeline`), so this is a prefix.
          stats.written += call.batch.length;
          settled += call.slots.length;
          retryDelay = 0;
          batchSettled();
        }
        if (failure !== undefined && isPermanent(failure)) {
          // The first failed call failed for its own lines; the ones after it failed behind it.
          const [poison, ...behind] = failed;
          for (const call of [...behind].reverse()) putBack(call.batch, call.slots);
          const { left, err } = await isolate(poison!.batch, failure);
          if (left.length > 0) putBack(left, left);
          settled += poison!.slots.length - left.length;
          failed.length = 0;
          if (left.length === 0) {
            // Set aside: nothing holds the lines behind it back. They go again at once.
            failure = undefined;
            retryDelay = 0;
            batchSettled();
          } else {
            // Interrupted by a failure that may go away: retried like any other (already put back).
            failure = err;
            failed.push({ batch: left, slots: [], done: Promise.resolve() });
          }
        }
        if (failure !== undefined) {
          // Back in front, the earliest first: put back in reverse (unless already put back).
          for (const call of [...failed].reverse())
            if (call.slots.length > 0) putBack(call.batch, call.slots);
          retryDelay = Math.min(maxRetryDelayMs, Math.max(flushMs, retryDelay * 2 || flushMs));
          opts.logger?.warn(
            {
              err: brief(failure),
              lines: failed.reduce((n, c) => n + c.batch.length, 0),
              retryInMs: retryDelay,
            },
            'writing log lines failed; retrying',
          );
          batchSettled(failure);
          throw failure;
        }
      } finally {
        inFlight = null;
      }
    })();
    inFlight.then(
      () => {
        // Lines that arrived during the last write wait for their own timer.
        if (live > 0) schedule(live >= maxBatch ? 0 : flushMs);
      },
      () => schedule(retryDelay),
    );
    return inFlight;
  }

  return {
    write(line) {
      if (stopped) return false;
      if (unstorableLogLine(line) !== null) {
        // Never stored, so never waited for: dropped and counted, and the pipeline moves on.
        stats.unstorable++;
        return true;
      }
      if (live >= maxBuffered && !dropOldestDebug()) {
        if (line.level === 'debug') {
          stats.dropped++;
          return true;
        }
        stats.refused++;
        return false;
      }
      buf.push(line);
      queued++;
      live++;
      if (line.level === 'debug') debugLive++;
      if (live >= maxBatch && !inFlight && retryDelay === 0) {
        // A full batch goes now, not at the timer; queueMicrotask lets a burst of writes in this
        // tick join it.
        if (timer) clearTimeout(timer);
        timer = null;
        queueMicrotask(() => void pump(false).catch(() => undefined));
      } else {
        schedule(flushMs);
      }
      return true;
    },

    async flush() {
      const target = queued;
      while (settled < target) {
        if (inFlight) await batchEnd.promise;
        else if (live === 0)
          return; // only dropped holes were left
        else await pump(true);
      }
    },

    whenWritable() {
      if (stopped) return Promise.reject(new Error('the log writer is stopped'));
      if (live <= roomAt) return Promise.resolve();
      return new Promise<void>((res, rej) => roomWaiters.push({ res, rej }));
    },

    async stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      stopped = true;
      for (const w of roomWaiters.splice(0)) w.rej(new Error('the log writer is stopped'));
      try {
        for (;;) {
          if (inFlight) await inFlight.catch(() => undefined);
          if (live === 0) return;
          await pump(true);
        }
      } catch (err) {
        opts.logger?.error({ err: brief(err), lost: live }, 'log lines could not be written at stop');
        throw err;
      }
    },

    stats() {
      return { buffered: live, ...stats };
    },
  };
}
