import { TRPCClientError } from '@trpc/client';

/**
 * Exit codes scripts can rely on. 3 and 4 come from the state of a run (status --watch, start
 * --wait), not from a failure of the CLI itself.
 */
export const EXIT = {
  ok: 0,
  /** Bad flags or input, or the coordinator refused the request (not found, conflict, …). */
  usage: 1,
  /** The coordinator could not be reached, did not answer in time, or is not a Rollgate coordinator. */
  connection: 2,
  /** The run is paused on a failure and waits for an operator. */
  paused: 3,
  /** The run failed or was aborted. */
  failed: 4,
} as const;

/** An error whose message is already written for the operator. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Input field names of the API mapped to the flags that fill them, so a validation error from the
 * coordinator points at what the operator typed.
 */
const FIELD_FLAGS: Record<string, string> = {
  cluster: '--cluster',
  app: '--app',
  edition: '--edition',
  drainageIntervalSec: '--drainage-interval',
  healthTimeoutSec: '--health-timeout',
  signOff: '--no-sign-off',
  probePath: '--probe-path',
  name: '--name',
  description: '--description',
  dbUpgradeCommand: '--db-upgrade-command',
  contentBase64: '--file',
  runId: '<runId>',
  serverId: '--server',
  stepIndex: '--step',
  code: '--code',
  limit: '--limit',
  reason: '--reason',
  comment: '--comment',
  decision: '--approve/--reject',
};

export interface FieldError {
  path: string;
  message: string;
}

/**
 * tRPC puts a zod failure's JSON (an array of issues) in the error message. Returns the issues as
 * `path: message` pairs, or null when the message is not that.
 */
export function parseZodMessage(message: string): FieldError[] | null {
  if (!message.trimStart().startsWith('[')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return null;
  const out: FieldError[] = [];
  for (const issue of parsed) {
    if (
      typeof issue !== 'object' ||
      issue === null ||
      typeof (issue as { message?: unknown }).message !== 'string'
    ) {
      return null;
    }
    const path = Array.isArray((issue as { path?: unknown }).path)
      ? ((issue as { path: unknown[] }).path as unknown[])
      : [];
    const first = path.length > 0 ? String(path[0]) : '';
    const flag = FIELD_FLAGS[first];
    const shown =
      path.length === 0 ? '(input)' : flag && path.length === 1 ? flag : path.map(String).join('.');
    out.push({ path: shown, message: (issue as { message: string }).message });
  }
  return out;
}

interface Issue {
  code: string;
  message: string;
  hint: string;
}

function issuesOf(data: unknown): Issue[] {
  const raw = (data as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(raw)) return [];
  return raw.filter(
    (i): i is Issue => typeof i === 'object' && i !== null && typeof (i as Issue).message === 'string',
  );
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The innermost cause's message, e.g. `connect ECONNREFUSED 127.0.0.1:7400` under `fetch failed`. */
function rootReason(err: unknown): { message: string; code: string | undefined; name: string | undefined } {
  let cur: unknown = err;
  for (let depth = 0; depth < 8; depth++) {
    const next = (cur as { cause?: unknown } | null)?.cause;
    if (next === undefined || next === null) break;
    cur = next;
  }
  const e = cur as { message?: unknown; code?: unknown; name?: unknown };
  return {
    message: typeof e?.message === 'string' ? e.message : String(cur),
    code: typeof e?.code === 'string' ? e.code : undefined,
    name: typeof e?.name === 'string' ? e.name : undefined,
  };
}

export interface Explained {
  message: string;
  exitCode: number;
}

const unreachable = (url: string, reason: string): Explained => ({
  message: `cannot reach the coordinator at ${url}: ${reason}. Start it with \`npm start\` or pass --url.`,
  exitCode: EXIT.connection,
});

/**
 * Turns anything a command throws into one message that says what is wrong and what to do, plus
 * the exit code. `url` is the coordinator base URL, named in connection errors.
 */
export function explainError(err: unknown, url: string): Explained {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };

  if (err instanceof TRPCClientError) {
    const data = err.data as { code?: string; httpStatus?: number; path?: string } | undefined;
    if (!data?.code) {
      // No tRPC error body: the request never got an answer from a tRPC server.
      const root = rootReason(err);
      if (root.name === 'TimeoutError') {
        return {
          message: `the coordinator at ${url} did not answer in time. Check that it is not overloaded or stuck, or pass --url.`,
          exitCode: EXIT.connection,
        };
      }
      if (root.name === 'SyntaxError') {
        return {
          message: `the server at ${url} did not answer like a Rollgate coordinator (${root.message}). Check --url.`,
          exitCode: EXIT.connection,
        };
      }
      if ((root.code && NETWORK_CODES.has(root.code)) || err.message === 'fetch failed') {
        return unreachable(url, root.message);
      }
      return unreachable(url, err.message);
    }
    switch (data.code) {
      case 'BAD_REQUEST': {
        const lines: string[] = [];
        const fields = parseZodMessage(err.message);
        const issues = issuesOf(err.data);
        if (fields) {
          lines.push('the coordinator rejected the request:');
          for (const f of fields) lines.push(`  ${f.path}: ${f.message}`);
        } else {
          // A plan validation error's message is its issues joined; print them once, with their hints.
          const joined = issues.map((i) => `${i.message} ${i.hint}`).join('\n');
          lines.push(
            issues.length > 0 && err.message === joined
              ? 'the coordinator rejected the request:'
              : err.message,
          );
          for (const i of issues) {
            lines.push(`  - ${i.message}`);
            if (i.hint) lines.push(`    ${i.hint}`);
          }
        }
        return { message: lines.join('\n'), exitCode: EXIT.usage };
      }
      case 'NOT_FOUND':
        if (/^No procedure found on path/.test(err.message)) {
          return {
            message: `the coordinator at ${url} does not know "${data.path ?? '?'}": it is probably older than this CLI. Upgrade the coordinator or use a matching CLI.`,
            exitCode: EXIT.connection,
          };
        }
        return { message: err.message, exitCode: EXIT.usage };
      case 'UNAUTHORIZED':
        return {
          message: `${err.message}${/rollgate login/.test(err.message) ? '' : ' Sign in with `rollgate login --username <you>`.'}`,
          exitCode: EXIT.usage,
        };
      case 'TOO_MANY_REQUESTS':
        return { message: err.message, exitCode: EXIT.usage };
      case 'CONFLICT':
      case 'PRECONDITION_FAILED':
      case 'FORBIDDEN': {
        const issues = issuesOf(err.data);
        const lines = [
          err.message,
          ...issues.flatMap((i) => [`  - ${i.message}`, ...(i.hint ? [`    ${i.hint}`] : [])]),
        ];
        return { message: lines.join('\n'), exitCode: EXIT.usage };
      }
      default:
        return {
          message: `the coordinator failed (${data.code}): ${err.message}. See the coordinator's log for details.`,
          exitCode: EXIT.usage,
        };
    }
  }

  const e = err as { code?: unknown; message?: unknown; path?: unknown };
  if (
    e &&
    (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') &&
    typeof e.path === 'string'
  ) {
    return { message: `cannot read ${e.path}: ${String(e.message)}`, exitCode: EXIT.usage };
  }
  return { message: err instanceof Error ? err.message : String(err), exitCode: EXIT.usage };
}

/**
 * True for failures worth retrying while following a run: no answer from a tRPC server at all (the
 * coordinator may be restarting, and a run survives that). An answer with an error code is final.
 */
export function isConnectionError(err: unknown): boolean {
  return err instanceof TRPCClientError && !(err.data as { code?: string } | undefined)?.code;
}
