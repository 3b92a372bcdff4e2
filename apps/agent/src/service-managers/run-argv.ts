// Runs one program with its arguments: never through a shell (an argument is never re-parsed),
// with a timeout that stops the whole process group, and with its output capped. The result comes
// at the program's exit, not when its pipes close: a start script that leaves a daemon behind
// holding stdout must not hang the agent.
import { spawn } from 'node:child_process';
import { errorMessage } from '../lib/fs-util';
import { atNicenessZero } from '../lib/niceness';

export interface RunOptions {
  cwd?: string;
  /** The child's whole environment; default the agent's (process.env). */
  env?: Record<string, string>;
  /** SIGTERM to the group after this, SIGKILL 2 s later. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last OUTPUT_CAP bytes of stdout. */
  stdout: string;
  /** The last OUTPUT_CAP bytes of stderr. */
  stderr: string;
  timedOut: boolean;
}

/** What a manager runs: injected so unit tests can check the exact argv without running it. */
export type Runner = (argv: readonly string[], opts: RunOptions) => Promise<RunResult>;

/** Bytes of each stream kept (the end of it): enough for a status line or an error. */
export const OUTPUT_CAP = 16 * 1024;

function keepTail(prev: string, chunk: Buffer): string {
  const next = prev + chunk.toString('utf8');
  return next.length > OUTPUT_CAP ? next.slice(next.length - OUTPUT_CAP) : next;
}

function killGroup(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** The real runner. Throws only when the program cannot be started at all (e.g. not installed). */
export const runArgv: Runner = (argv, opts) => {
  const [command, ...args] = argv;
  if (!command) return Promise.reject(new Error('empty command'));
  return new Promise<RunResult>((resolve, reject) => {
    const run = atNicenessZero(command, args);
    const child = spawn(run.command, run.args, {
      cwd: opts.cwd,
      env: opts.env ?? (process.env as Record<string, string>),
      shell: false,
      detached: true, // own group: a timeout also stops what the command started in the foreground
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => (stdout = keepTail(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = keepTail(stderr, c)));
    const stopIt = () => {
      if (child.pid === undefined) return;
      const pid = child.pid;
      killGroup(pid, 'SIGTERM');
      setTimeout(() => killGroup(pid, 'SIGKILL'), 2000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stopIt();
    }, opts.timeoutMs);
    const onAbort = () => stopIt();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err) => {
      done();
      reject(new Error(`could not run ${command}: ${errorMessage(err)}`));
    });
    let exit: [number | null, NodeJS.Signals | null] | undefined;
    let settled = false;
    const finish = () => {
      if (settled || !exit) return;
      settled = true;
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code: exit[0], signal: exit[1], stdout, stderr, timedOut });
    };
    child.once('close', finish);
    child.once('exit', (code, sig) => {
      done();
      exit = [code, sig];
      // Normally 'close' follows at once; a daemon left holding the pipes is cut off after 200 ms.
      setTimeout(finish, 200);
    });
  });
};

/** The last non-empty line of a result's output (stderr first: that is where errors go). */
export function lastLine(r: Pick<RunResult, 'stdout' | 'stderr'>): string {
  const pick = (s: string) => s.trimEnd().split('\n').pop()?.trim() ?? '';
  return (pick(r.stderr) || pick(r.stdout)).slice(0, 300);
}

/** "exited with code 3", "was killed by SIGKILL", "did not finish within 30.0 s". */
export function howItEnded(r: RunResult, timeoutMs: number): string {
  if (r.timedOut) return `did not finish within ${(timeoutMs / 1000).toFixed(1)} s and was stopped`;
  if (r.code === null) return `was killed by ${r.signal ?? 'a signal'}`;
  return `exited with code ${r.code}`;
}
