// The agent's heavy-work child: started by heavy-client.ts for one job (unpack, checksum, receive
// a download, archive a backup), it does it and exits, so whatever the job costs (CPU, memory a
// hostile archive makes it allocate, `tar` and zlib loaded) never touches the agent's own event
// loop and is returned to the system when it ends (docs/adr/0016). The resident agent never
// imports this file nor archive.ts; the packaged agent ships it beside itself
// (rollgate-agent-worker.cjs, tools/agent-bundle/build.mjs). The same file is the body of a worker
// thread for a small install (heavy-thread.ts, docs/adr/0047): the job then comes as workerData
// and its input as posted chunks.
import { setPriority } from 'node:os';
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { HeavyAnswer, HeavyJob } from './heavy-jobs';
import { runHeavyJob } from './heavy-run';

/** Niceness of the work itself: on a busy server the scheduler runs the agent's loop first. */
const WORK_NICENESS = 10;

function failure(err: unknown): HeavyAnswer {
  const e = err as Error & { limit?: string; code?: unknown };
  return {
    ok: false,
    error: {
      name: e?.name ?? 'Error',
      message: e?.message ?? String(err),
      ...(e?.limit !== undefined ? { limit: e.limit } : {}),
      ...(typeof e?.code === 'string' || typeof e?.code === 'number' ? { code: e.code } : {}),
    },
  };
}

/** The input of a thread's job: chunks the agent posts, then `{ end: true }` (heavy-thread.ts). */
async function* postedInput(port: MessagePort): AsyncIterable<Uint8Array> {
  const queue: Uint8Array[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  port.on('message', (m: { chunk?: Uint8Array; end?: boolean }) => {
    if (m.chunk) queue.push(m.chunk);
    if (m.end) ended = true;
    wake?.();
  });
  for (;;) {
    const next = queue.shift();
    if (next) yield next;
    else if (ended) return;
    else await new Promise<void>((r) => (wake = r));
  }
}

if (!isMainThread && parentPort) {
  // A worker thread of the agent (small installs, docs/adr/0047): the job came with the thread.
  const port = parentPort;
  void runHeavyJob(workerData as HeavyJob, postedInput(port))
    .then(
      (result) => port.postMessage({ ok: true, result } satisfies HeavyAnswer),
      (err: unknown) => port.postMessage(failure(err)),
    )
    .finally(() => port.close());
} else {
  process.once('message', (job: HeavyJob) => {
    // Lowered here, once loaded, not at the fork: a start niced +10 on a busy 2-core machine took
    // 0.4-1.2 s of an install's 2 s (docs/adr/0044); the start is small and the same for every job.
    try {
      setPriority(WORK_NICENESS);
    } catch {
      // not permitted here (a container's seccomp policy): the job still runs
    }
    runHeavyJob(job).then(
      (result) => answer({ ok: true, result }),
      (err: unknown) => answer(failure(err)),
    );
  });
  // Orphaned (the agent died): nothing to answer to, stop.
  process.once('disconnect', () => process.exit(1));
}

function answer(a: HeavyAnswer): void {
  // Exit only once the answer is out: the parent reads it before it sees the exit.
  process.send?.(a, () => process.exit(0));
}
