// An `install` of a small archive in a worker thread of the agent instead of a child process
// (docs/adr/0047). A thread starts in about half a process's time (no second node to boot), and
// staging an edition is on every rollout's path. It is still off the agent's event loop (issue 13:
// "a child process (or worker)"), in its own V8 heap with a hard limit, under a deadline, and only
// for inputs the caller declared small: past THREAD_MAX_INPUT_BYTES the input is refused, past
// THREAD_MAX_EXPANDED_BYTES the unpack is refused (the caller then unpacks the verified file in a
// process, under the agent's configured limits). `tar` is loaded in the thread's heap only, and
// freed with it.
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HeavyAnswer, HeavyJob, HeavyResults } from './heavy-jobs';

/** Largest declared input a thread takes, bytes (a typical service edition is well under). */
export const THREAD_MAX_INPUT_BYTES = 8 * 1024 * 1024;
/** Most bytes a thread unpacks; the caller unpacks a larger (verified) archive in a process. */
export const THREAD_MAX_EXPANDED_BYTES = 64 * 1024 * 1024;
/** The thread's V8 heap, MiB: `tar` streams, so a small archive needs a few MiB. */
const THREAD_HEAP_MB = 64;

export interface ThreadRunOptions {
  signal?: AbortSignal;
  /** The job's deadline, ms (the client's limits.workerTimeoutMs unless the op has its own). */
  timeoutMs: number;
  input?: AsyncIterable<Uint8Array>;
}

export interface ThreadWorker {
  /** The worker file (heavy-worker.ts, or rollgate-agent-worker.cjs beside the bundle). */
  file: string;
  /** True for the bundle's .cjs file; false for the .ts source (loaded through tsx). */
  bundled: boolean;
  /** Turns a failure answer back into its error class. */
  rebuild: (e: Extract<HeavyAnswer, { ok: false }>['error']) => Error;
}

function startThread(w: ThreadWorker, job: HeavyJob): Worker {
  const options = {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB, maxYoungGenerationSizeMb: 16 },
    stdout: true,
    stderr: true,
  };
  if (w.bundled) return new Worker(w.file, options);
  // From the sources (tests, `npm start`): a thread does not inherit tsx's loader, so it registers
  // it first (resolved here: the agent's working directory need not see node_modules).
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const url = JSON.stringify(pathToFileURL(w.file).href);
  return new Worker(`import(${tsx}).then((m) => { m.register(); return import(${url}); })`, {
    ...options,
    eval: true,
  });
}

/**
 * Runs an install job in a thread: the same job as the process runs (heavy-run.ts), bounded by the
 * thread's own limits. Resolves on the answer; a failure waits for the thread to end first, so a
 * caller's cleanup never races it.
 */
export function runInThread(
  job: Extract<HeavyJob, { kind: 'install' }>,
  opts: ThreadRunOptions,
  w: ThreadWorker,
): Promise<HeavyResults['install']> {
  const bounded: HeavyJob = {
    ...job,
    limits: {
      ...job.limits,
      maxExpandedBytes: Math.min(job.limits.maxExpandedBytes, THREAD_MAX_EXPANDED_BYTES),
    },
  };
  const worker = startThread(w, bounded);
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString('utf8')).slice(-8192));
  worker.stdout.on('data', keep);
  worker.stderr.on('data', keep);
  let stoppedFor: string | undefined;
  let threadError: Error | undefined;
  let inputError: unknown;
  const stop = (why: string) => {
    stoppedFor ??= why;
    void worker.terminate();
  };
  return new Promise((resolve, reject) => {
    let answer: HeavyAnswer | undefined;
    const timer = setTimeout(
      () =>
        stop(
          `it did not finish within ${Math.round(opts.timeoutMs / 1000)} s (limits.workerTimeoutMs in the agent config)`,
        ),
      opts.timeoutMs,
    );
    const onAbort = () => stop('it was cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (m: HeavyAnswer) => {
      answer = m;
      if (m.ok) resolve(m.result as HeavyResults['install']);
    });
    // An uncaught error or the heap limit (ERR_WORKER_OUT_OF_MEMORY); the exit follows.
    worker.once('error', (err) => (threadError = err));
    worker.once('exit', () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (answer?.ok) return;
      if (opts.signal?.aborted) return reject(opts.signal.reason as Error);
      // The input's own error is the caller's to name (a labelled digest, a skipped offset).
      if (inputError !== undefined) return reject(inputError as Error);
      if (answer && !answer.ok) return reject(w.rebuild(answer.error));
      const oom = (threadError as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      const why =
        stoppedFor ??
        (threadError
          ? `it failed: ${threadError.message}${oom ? ` (its heap is ${THREAD_HEAP_MB} MiB)` : ''}`
          : 'it ended without an answer');
      const tail = output.trim().split('\n').slice(-3).join(' | ');
      reject(
        new Error(
          `the agent's work thread for ${job.kind} was stopped: ${why}${tail ? `; its last output: ${tail}` : ''}`,
        ),
      );
    });
    void (async () => {
      let bytes = 0;
      try {
        for await (const chunk of opts.input ?? []) {
          if (answer !== undefined || stoppedFor !== undefined) return;
          bytes += chunk.length;
          if (bytes > THREAD_MAX_INPUT_BYTES) {
            return stop(
              `its input passed ${THREAD_MAX_INPUT_BYTES} bytes, more than the size it was declared with`,
            );
          }
          // A copy: the chunk may be a view of a pooled buffer, which a transfer would detach.
          const copy = new Uint8Array(chunk);
          worker.postMessage({ chunk: copy }, [copy.buffer]);
        }
        worker.postMessage({ end: true });
      } catch (err) {
        inputError = err;
        stop('its input failed');
      }
    })();
  });
}
