import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they appear in the logged object. */
export const REDACTED_KEYS = [
  'password',
  'token',
  'secret',
  'authorization',
  'cookie',
  'privateKey',
  'databaseUrl',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.cookie',
  '*.privateKey',
  '*.databaseUrl',
];

export interface CreateLoggerOptions {
  /** Logger name, e.g. 'coordinator' or 'agent'. */
  name: string;
  /** pino level; default 'info'. */
  level?: LoggerOptions['level'];
  /** Where JSON lines go; default: stdout. */
  destination?: NodeJS.WritableStream;
  /** Fixed fields on every line, e.g. { agentId }. */
  base?: Record<string, unknown>;
}

/**
 * A pino JSON logger with the object first: `log.info({ runId, serverId }, 'gate closed')`.
 * Secrets listed in REDACTED_KEYS are replaced with "[redacted]".
 */
export function createLogger(opts: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    name: opts.name,
    level: opts.level ?? 'info',
    base: { pid: process.pid, ...(opts.base ?? {}) },
    redact: { paths: REDACTED_KEYS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}
