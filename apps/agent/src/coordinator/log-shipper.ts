// Ships op progress and service output to the coordinator in LogBatch messages. Lines are batched
// (one gRPC message per line caps out near 34k lines/s; tens per message reach ~1M) and buffered
// while the coordinator is unreachable, bounded so a long outage cannot exhaust memory.
export type ShipLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ShippedLine {
  actionId: string;
  atMs: number;
  level: ShipLevel;
  code: string;
  message: string;
  /** Position in this shipper's stream, from 1. */
  seq: number;
}

export interface LogShipperOptions {
  /**
   * Sends one batch; returns false when there is no connection (the batch is kept and retried).
   */
  send: (lines: ShippedLine[], streamId: string) => boolean;
  /** Identifies this process's stream of lines (LogBatch.stream_id). */
  streamId: string;
  /** Flush at least this often while lines are waiting, ms; default 100. */
  flushIntervalMs?: number;
  /** Flush as soon as this many lines wait; also the largest batch; default 50. */
  maxBatch?: number;
  /** Unacknowledged lines kept (sent or not); the oldest are dropped beyond this; default 10_000. */
  maxBuffered?: number;
  /** Clock; default Date.now. */
  now?: () => number;
}

export interface LogShipper {
  push(level: ShipLevel, code: string, message: string, actionId?: string): void;
  /** Sends what is waiting now (e.g. right after reconnecting). */
  flush(): void;
  /** The coordinator stored every line up to and including `upToSeq`: forget them. */
  ack(streamId: string, upToSeq: number): void;
  /**
   * After a reconnect: lines sent but never acknowledged may have died with the old connection
   * (or the old coordinator), so they are sent again; the coordinator stores each seq once.
   */
  resendUnacknowledged(): void;
  /** Lines not yet acknowledged. */
  readonly pending: number;
  /** Unsent lines dropped since the last warning was queued. */
  readonly dropped: number;
  stop(): void;
}

/**
 * At-least-once delivery with acknowledgements: lines stay buffered until the coordinator says
 * they are stored (LogAck), and the (streamId, seq) pair makes a resend harmless.
 */
export function createLogShipper(opts: LogShipperOptions): LogShipper {
  const flushIntervalMs = opts.flushIntervalMs ?? 100;
  const maxBatch = opts.maxBatch ?? 50;
  const maxBuffered = opts.maxBuffered ?? 10_000;
  const now = opts.now ?? Date.now;
  let buf: ShippedLine[] = [];
  let head = 0; // index of the oldest unacknowledged line; avoids O(n) shifts
  let sent = 0; // index of the oldest line not sent on the current connection
  let seq = 0;
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const size = () => buf.length - head;

  function compact() {
    if (head > 1024 && head * 2 > buf.length) {
      buf = buf.slice(head);
      sent -= head;
      head = 0;
    }
  }

  function append(line: Omit<ShippedLine, 'seq'>) {
    buf.push({ ...line, seq: ++seq });
    if (size() > maxBuffered) {
      const excess = size() - maxBuffered;
      const unsentLost = Math.max(0, head + excess - Math.max(sent, head));
      dropped += unsentLost;
      head += excess;
      if (sent < head) sent = head;
      compact();
    }
  }

  function flush() {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    const warnDropped = () => {
      // One line tells the operator there is a gap, rather than silently losing history. It is
      // added only once a send went through, so a failing connection does not breed warnings.
      if (dropped === 0) return;
      const n = dropped;
      dropped = 0;
      append({
        actionId: '',
        atMs: now(),
        level: 'warn',
        code: '',
        message: `agent log buffer full while disconnected: ${n} older log lines were dropped`,
      });
    };
    while (sent < buf.length) {
      const batch = buf.slice(sent, sent + maxBatch);
      if (!opts.send(batch, opts.streamId)) return schedule();
      sent += batch.length;
      warnDropped();
    }
  }

  function schedule() {
    if (!timer && !stopped && (sent < buf.length || dropped > 0)) {
      timer = setTimeout(flush, flushIntervalMs);
      timer.unref();
    }
  }

  return {
    push(level, code, message, actionId = '') {
      if (stopped) return;
      append({ actionId, atMs: now(), level, code, message });
      if (buf.length - sent >= maxBatch) flush();
      else schedule();
    },
    flush,
    ack(streamId, upToSeq) {
      if (streamId !== opts.streamId) return;
      while (head < buf.length && buf[head]!.seq <= upToSeq) head++;
      if (sent < head) sent = head;
      if (head === buf.length) {
        buf = [];
        head = 0;
        sent = 0;
      } else compact();
    },
    resendUnacknowledged() {
      sent = head;
    },
    get pending() {
      return size();
    },
    get dropped() {
      return dropped;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
