import { MSG, type MessageKey } from '@rollgate/domain';
import type { Clock, LogLevel, LogRecord } from './ports';

/** Where a run's log line belongs besides its run; every field is optional. */
export interface EmitExtra {
  /** Default: from the message code's suffix (E error, W warn, else info). */
  level?: LogLevel;
  serverId?: string;
  stepIndex?: number;
  actionId?: string;
}

/** Writes one line of a run's log under a stable message code (RG0010I, …). */
export type Emit = (run: string | null, key: MessageKey, detail: string, extra?: EmitExtra) => void;

export interface RunLogContext {
  clock: Clock;
  /** Receives every record (the caller batches them into the store). */
  sink: (record: LogRecord) => void;
}

/**
 * The run's log as the engine writes it: the message catalogue's code and text, so the console,
 * the CLI and the logs say the same thing.
 */
export function createRunLog({ clock, sink }: RunLogContext): Emit {
  return (run, key, detail, extra = {}) => {
    const m = MSG[key];
    const level: LogLevel =
      extra.level ?? (m.code.endsWith('E') ? 'error' : m.code.endsWith('W') ? 'warn' : 'info');
    sink({
      runId: run,
      actionId: extra.actionId ?? null,
      serverId: extra.serverId ?? null,
      stepIndex: extra.stepIndex ?? null,
      at: clock.now(),
      level,
      code: m.code,
      message: detail ? `${m.text}: ${detail}` : m.text,
      source: 'engine',
    });
  };
}

/** "6 ms" under a second, "1.02 s" from there. */
export function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
