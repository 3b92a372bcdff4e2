// The agent stream's log path (issue 17 items 2 and 4, docs/adr/0019): every field of a LogLine is
// range-checked (a line that cannot be stored is dropped and counted, never retried), lines and
// batches are bounded (refused with a line the operator reads), and each agent has its own quota:
// past it, only THAT agent's stream is read more slowly (HTTP/2 flow control holds it back); the
// other agents' streams, and the shared log buffer, are never held by one agent's flood.
import { MSG, parseActionId } from '@rollgate/domain';
import type { Clock, LogRecord } from '@rollgate/engine';
import type { LogLine__Output } from '@rollgate/protocol';
import type { Logger } from '@rollgate/logger';
import { fromWireLevel } from './wire';

export interface LogLimits {
  /** Lines per second one agent may send, on average. Default 5 000. */
  linesPerSecond: number;
  /** Characters of log messages per second one agent may send, on average. Default 4 000 000. */
  charsPerSecond: number;
  /** Seconds of quota an agent may use at once (a burst) after a quiet spell. Default 2. */
  burstSeconds: number;
  /** Longest message of one line, in characters; a longer line is refused. Default 16 384. */
  maxLineChars: number;
  /** Most lines in one LogBatch; a larger batch is refused whole. Default 1 000 (agents send 50). */
  maxBatchLines: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = {
  linesPerSecond: 5000,
  charsPerSecond: 4_000_000,
  burstSeconds: 2,
  maxLineChars: 16_384,
  maxBatchLines: 1000,
};

/** A stored message is cut to this many characters (a refused line is longer than maxLineChars). */
const STORED_MESSAGE_CHARS = 4000;
/** An agent's line may say it happened at most this far in the future (its clock may be off). */
const MAX_FUTURE_MS = 86_400_000;
/** Refusals and slow-downs are told to the operator at most this often per stream. */
const NOTE_EVERY_MS = 10_000;
/** A stream id is an agent's own token: bounded like the other ids. */
const MAX_STREAM_ID = 128;

/** Why a line was refused; the counts an operator sees. */
type Refusal =
  | 'out of range'
  | 'longer than the line limit'
  | 'in a batch over the batch limit'
  | 'with a stream id over 128 characters';

/** One agent stream's quota and refusal counts. */
export interface LogStreamState {
  agentId: string;
  /** Quota left, in lines and characters (a token bucket refilled at the agent's rates). */
  lines: number;
  chars: number;
  refilledAt: number;
  /** True while the stream waits for quota or for room in the shared buffer: not lost, held. */
  held: boolean;
  /** Lines refused since the last note, by reason, and in all. */
  refused: Map<Refusal, number>;
  refusedTotal: number;
  /** Times this stream was slowed since the last note, and in all. */
  slowed: number;
  slowedTotal: number;
  notedAt: number;
}

export interface LogIntakeOptions {
  logs: {
    write(record: LogRecord): boolean | void;
    flush(): Promise<void>;
    whenWritable?(): Promise<void>;
  };
  clock: Clock;
  log: Logger;
  limits?: Partial<LogLimits>;
  /** True once the gateway stops: a line not yet accepted is then left to the agent to resend. */
  stopped(): boolean;
  /** Waits `ms` (a test may make time pass faster). Default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

export function createLogIntake(opts: LogIntakeOptions) {
  const limits: LogLimits = { ...DEFAULT_LOG_LIMITS, ...opts.limits };
  const { clock, log } = opts;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxLines = Math.max(limits.linesPerSecond * limits.burstSeconds, limits.maxBatchLines);
  const maxChars = Math.max(
    limits.charsPerSecond * limits.burstSeconds,
    limits.maxBatchLines * Math.min(limits.maxLineChars, STORED_MESSAGE_CHARS),
  );

  function open(agentId: string): LogStreamState {
    return {
      agentId,
      lines: maxLines,
      chars: maxChars,
      refilledAt: clock.now(),
      held: false,
      refused: new Map(),
      refusedTotal: 0,
      slowed: 0,
      slowedTotal: 0,
      notedAt: 0,
    };
  }

  function coordinatorLine(s: LogStreamState, key: keyof typeof MSG, detail: string): void {
    const m = MSG[key];
    opts.logs.write({
      runId: null,
      actionId: null,
      serverId: s.agentId,
      stepIndex: null,
      at: clock.now(),
      level: 'warn',
      code: m.code,
      message: `${m.text}: ${detail}`,
      source: 'coordinator',
    });
  }

  /** Tells the operator what was refused or slowed since the last note: at most every NOTE_EVERY_MS. */
  function note(s: LogStreamState, force = false): void {
    const now = clock.now();
    if (!force && now - s.notedAt < NOTE_EVERY_MS) return;
    if (s.refused.size > 0) {
      const counts = [...s.refused].map(([why, n]) => `${n} ${why}`).join(', ');
      const detail =
        `${counts} from ${s.agentId} (${s.refusedTotal} since it connected); limits: a line at most ` +
        `${limits.maxLineChars} characters, a LogBatch at most ${limits.maxBatchLines} lines, times and seqs ` +
        'integers from 0 to 2^53. These lines are not stored: fix what the agent sends.';
      log.warn({ agentId: s.agentId, refused: Object.fromEntries(s.refused), total: s.refusedTotal }, detail);
      coordinatorLine(s, 'logLinesRefused', detail);
      s.refused.clear();
      s.notedAt = now;
    }
    if (s.slowed > 0) {
      const detail =
        `${s.agentId} sends more than ${limits.linesPerSecond} lines or ${limits.charsPerSecond} characters ` +
        `per second: its stream was read more slowly ${s.slowed} times (${s.slowedTotal} since it connected). ` +
        'Its lines are kept; raise ROLLGATE_AGENT_LOG_LINES_PER_S if this rate is expected.';
      log.warn({ agentId: s.agentId, slowed: s.slowed, total: s.slowedTotal }, detail);
      coordinatorLine(s, 'logQuotaReached', detail);
      s.slowed = 0;
      s.notedAt = now;
    }
  }

  function refuse(s: LogStreamState, why: Refusal, n = 1): void {
    s.refused.set(why, (s.refused.get(why) ?? 0) + n);
    s.refusedTotal += n;
  }

  /** Waits until the agent's quota covers `lines` and `chars`, then spends it. */
  async function spend(s: LogStreamState, lines: number, chars: number): Promise<void> {
    for (;;) {
      const now = clock.now();
      const dt = Math.max(0, now - s.refilledAt) / 1000;
      s.refilledAt = now;
      s.lines = Math.min(maxLines, s.lines + dt * limits.linesPerSecond);
      s.chars = Math.min(maxChars, s.chars + dt * limits.charsPerSecond);
      if (s.lines >= lines && s.chars >= chars) {
        s.lines -= lines;
        s.chars -= chars;
        return;
      }
      if (opts.stopped()) return;
      const waitMs = Math.max(
        ((lines - s.lines) / limits.linesPerSecond) * 1000,
        ((chars - s.chars) / limits.charsPerSecond) * 1000,
      );
      s.slowed++;
      s.slowedTotal++;
      note(s);
      s.held = true;
      try {
        await sleep(Math.min(1000, Math.max(1, Math.ceil(waitMs))));
      } finally {
        s.held = false;
      }
    }
  }

  /**
   * Takes one LogBatch of the stream `s`; `unacked` is the stream's highest seq to acknowledge per
   * agent stream id. A refused line is acknowledged too: it will never be stored, and an agent
   * resending it for ever would hold its later lines back.
   */
  async function take(
    s: LogStreamState,
    batch: { lines: LogLine__Output[]; streamId: string },
    unacked: Map<string, number>,
  ): Promise<void> {
    const now = clock.now();
    const { streamId } = batch;
    const lines = batch.lines;
    const ackUpTo = (seq: unknown) => {
      if (
        streamId &&
        typeof seq === 'number' &&
        Number.isSafeInteger(seq) &&
        seq > (unacked.get(streamId) ?? 0)
      )
        unacked.set(streamId, seq);
    };
    const tooMany = lines.length > limits.maxBatchLines;
    if (tooMany || streamId.length > MAX_STREAM_ID) {
      refuse(
        s,
        tooMany ? 'in a batch over the batch limit' : 'with a stream id over 128 characters',
        lines.length,
      );
      for (const l of lines) ackUpTo(l.seq);
      note(s, s.notedAt === 0);
      return;
    }
    let chars = 0;
    for (const l of lines) chars += l.message.length;
    await spend(s, lines.length, chars);

    // A batch's lines mostly share their action and code: each is parsed once per run of them.
    let actionId: string | undefined;
    let ref: ReturnType<typeof parseActionId> = null;
    let wireCode: string | undefined;
    let code: string = MSG.serviceOutput.code;
    const latest = now + MAX_FUTURE_MS;
    for (const line of lines) {
      const at = line.atMs;
      const seq = line.seq;
      // Numbers past 2^53 (a uint64 near 2^64, an int64 below 0) never reach the store.
      if (!Number.isSafeInteger(at) || at < 0 || at > latest || !Number.isSafeInteger(seq) || seq < 0) {
        refuse(s, 'out of range');
        continue;
      }
      if (line.message.length > limits.maxLineChars) {
        refuse(s, 'longer than the line limit');
        ackUpTo(seq);
        continue;
      }
      if (line.actionId !== actionId) {
        actionId = line.actionId;
        ref = parseActionId(actionId);
      }
      if (line.code !== wireCode) {
        wireCode = line.code;
        code = /^RG\d{4}[IWE]$/.test(wireCode) ? wireCode : MSG.serviceOutput.code;
      }
      const record: LogRecord = {
        runId: ref?.runId ?? null,
        actionId: ref ? line.actionId : null,
        serverId: s.agentId,
        stepIndex: ref?.stepIndex ?? null,
        at: at || now,
        level: fromWireLevel(line.level),
        code,
        message:
          line.message.length > STORED_MESSAGE_CHARS
            ? line.message.slice(0, STORED_MESSAGE_CHARS)
            : line.message,
        source: 'agent',
        ...(streamId && seq > 0 ? { streamId, seq } : {}),
      };
      // The shared buffer is full (the database is behind): wait for room, then write again.
      // Meanwhile this stream is not read, so HTTP/2 flow control holds the agent back, and a line
      // is acknowledged only once the writer has accepted it.
      while (opts.logs.write(record) === false) {
        if (opts.stopped()) return; // not acknowledged: the agent resends it to the next coordinator
        s.held = true;
        try {
          const room = opts.logs.whenWritable ? opts.logs.whenWritable() : opts.logs.flush();
          await room.catch(() => sleep(1000));
        } finally {
          s.held = false;
        }
      }
      ackUpTo(seq);
    }
    if (s.refused.size > 0 || s.slowed > 0) note(s, s.notedAt === 0);
  }

  return { open, take, limits };
}

export type LogIntake = ReturnType<typeof createLogIntake>;
