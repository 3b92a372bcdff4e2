// Runs heavy work (heavy-jobs.ts) in a child process, one child per job, so the agent's own event
// loop (the gate, the HAProxy agent-check, heartbeats) never waits behind an unpack, a checksum of
// a GiB or a decompression bomb (docs/adr/0016). Each child is bounded: a V8 heap limit
// (--max-old-space-size), a resident-memory watchdog (external buffers are outside the V8 heap),
// a deadline, and only the last 8 KiB of its output is kept. It exits when its job is done, so the
// agent returns to its resting memory.
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArchiveLimitError, ArchiveRefusedError, type LimitName } from './archive-errors';
import type { HeavyAnswer, HeavyJob, HeavyResults } from './heavy-jobs';
import { runInThread } from './heavy-thread';

/** Set by the bundle build (tools/agent-bundle/build.mjs): the worker's file name beside the bundle. */
declare const ROLLGATE_AGENT_WORKER_FILE: string | undefined;

/** Bounds on one child; the agent config's `limits` (config.ts). */
export interface WorkerLimits {
  /** Resident memory a child may reach before it is killed, MiB; its V8 heap gets 3/4 of it. Default 512. */
  workerMemoryMb: number;
  /** Longest a child may run, ms, unless the job says otherwise. Default 30 min. */
  workerTimeoutMs: number;
}

export const DEFAULT_WORKER_LIMITS: WorkerLimits = { workerMemoryMb: 512, workerTimeoutMs: 30 * 60_000 };

const OUTPUT_TAIL = 8192;
const WATCH_MS = 200;

export interface RunOptions {
  signal?: AbortSignal;
  /**
   * Runs an `install` of a small archive in a worker thread instead of a process (heavy-thread.ts,
   * docs/adr/0047): it starts in about half the time. Only for inputs the caller knows are at most
   * THREAD_MAX_INPUT_BYTES; the thread's own bounds apply. Default false.
   */
  inThread?: boolean;
  /** Overrides limits.workerTimeoutMs (an op with its own timeout). */
  timeoutMs?: number;
  /** Bytes piped to the child's stdin (the `receive` job); an error here kills the child and is rethrown. */
  input?: AsyncIterable<Uint8Array>;
}

export interface HeavyClient {
  run<K extends HeavyJob['kind']>(
    job: Extract<HeavyJob, { kind: K }>,
    opts?: RunOptions,
  ): Promise<HeavyResults[K]>;
}

/** Where the worker is and how to start it: beside the bundle, or the .ts source under tsx. */
function workerCommand(): { file: string; execArgv: string[]; bundled: boolean } {
  // Flags that tune the resident agent (or would clash, like a debugger port) are not the child's.
  const inherited = process.execArgv.filter(
    (a) =>
      !/^--(max-old-space-size|max-semi-space-size|lite-mode|inspect|inspect-brk|inspect-port)\b/.test(a),
  );
  if (typeof ROLLGATE_AGENT_WORKER_FILE === 'string') {
    return {
      file: join(dirname(fileURLToPath(import.meta.url)), ROLLGATE_AGENT_WORKER_FILE),
      execArgv: inherited,
      bundled: true,
    };
  }
  const file = fileURLToPath(new URL('./heavy-worker.ts', import.meta.url));
  const hasTsx = inherited.some((a) => a.includes('tsx'));
  return { file, execArgv: hasTsx ? inherited : [...inherited, '--import', 'tsx'], bundled: false };
}

async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The error a job's failure answer describes, with its class (a limit refusal keeps its limit). */
function rebuild(e: Extract<HeavyAnswer, { ok: false }>['error']): Error {
  let err: Error;
  if (e.name === 'ArchiveLimitError') err = new ArchiveLimitError(e.message, e.limit as LimitName);
  else if (e.name === 'ArchiveRefusedError') err = new ArchiveRefusedError(e.message);
  else err = new Error(e.message);
  if (e.code !== undefined) (err as Error & { code?: unknown }).code = e.code;
  return err;
}

export function createHeavyClient(limits: WorkerLimits = DEFAULT_WORKER_LIMITS): HeavyClient {
  return {
    run(job, opts = {}) {
      const j = job as HeavyJob;
      if (opts.inThread && j.kind === 'install') {
        const timeoutMs = opts.timeoutMs ?? limits.workerTimeoutMs;
        return runInThread(j, { ...opts, timeoutMs }, { ...workerCommand(), rebuild }) as Promise<never>;
      }
      const { file, execArgv } = workerCommand();
      const timeoutMs = opts.timeoutMs ?? limits.workerTimeoutMs;
      const heapMb = Math.max(32, Math.floor((limits.workerMemoryMb * 3) / 4));
      const child: ChildProcess = fork(file, [], {
        execArgv: [...execArgv, `--max-old-space-size=${heapMb}`],
        stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
      // The child lowers its own priority (niceness +10, heavy-worker.ts) once it is loaded.
      let output = '';
      const keep = (d: Buffer) => {
        output = (output + d.toString('utf8')).slice(-OUTPUT_TAIL);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      let killedFor: string | undefined;
      let inputError: unknown;
      const kill = (why: string) => {
        killedFor ??= why;
        child.kill('SIGKILL');
      };
      return new Promise<never>((resolve, reject) => {
        let answer: HeavyAnswer | undefined;
        const timer = setTimeout(
          () =>
            kill(
              `it did not finish within ${Math.round(timeoutMs / 1000)} s (limits.workerTimeoutMs in the agent config)`,
            ),
          timeoutMs,
        );
        const watch = setInterval(() => {
          if (child.pid === undefined) return;
          void rssMb(child.pid).then((mb) => {
            if (mb !== undefined && mb > limits.workerMemoryMb) {
              kill(
                `it used ${Math.round(mb)} MiB of memory (limit ${limits.workerMemoryMb} MiB, limits.workerMemoryMb in the agent config)`,
              );
            }
          });
        }, WATCH_MS);
        const onAbort = () => kill('it was cancelled');
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        child.once('message', (m: HeavyAnswer) => {
          answer = m;
          // Its work is done and its files closed: no need to wait for the process to exit (0.2-0.8 s
          // on a busy machine, docs/adr/0044). A failure still waits for the exit (below), so a
          // caller's cleanup never races a child still writing.
          if (m.ok) resolve(m.result as never);
        });
        child.once('error', (err) => kill(`it could not run: ${err.message}`));
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          clearInterval(watch);
          opts.signal?.removeEventListener('abort', onAbort);
          if (opts.signal?.aborted) return reject(opts.signal.reason as Error);
          if (inputError !== undefined) return reject(inputError as Error);
          if (answer?.ok) return resolve(answer.result as never);
          if (answer && !answer.ok) return reject(rebuild(answer.error));
          const tail = output.trim().split('\n').slice(-3).join(' | ');
          reject(
            new Error(
              `the agent's work process for ${job.kind} ${killedFor !== undefined ? `was stopped: ${killedFor}` : `exited (${signal ?? `code ${code}`}) without an answer`}${tail ? `; its last output: ${tail}` : ''}`,
            ),
          );
        });
        child.send(job);
        const stdin = child.stdin;
        if (!stdin) return;
        if (!opts.input) {
          stdin.end();
          return;
        }
        stdin.on('error', () => {}); // the child died: its exit reports why
        void (async () => {
          try {
            for await (const chunk of opts.input!) {
              if (child.exitCode !== null || child.signalCode !== null) return;
              if (!stdin.write(chunk)) {
                await new Promise<void>((r) => {
                  const done = () => {
                    stdin.off('drain', done);
                    child.off('exit', done);
                    r();
                  };
                  stdin.once('drain', done);
                  child.once('exit', done);
                });
              }
            }
            stdin.end();
          } catch (err) {
            inputError = err;
            kill('its input failed');
          }
        })();
      });
    },
  };
}
