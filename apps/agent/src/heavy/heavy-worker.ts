// The agent's heavy-work child: started by heavy-client.ts for one job (unpack, checksum, receive
// a download, archive a backup), it does it and exits, so whatever the job costs (CPU, memory a
// hostile archive makes it allocate, `tar` and zlib loaded) never touches the agent's own event
// loop and is returned to the system when it ends (docs/adr/0016). The resident agent never
// imports this file nor archive.ts; the packaged agent ships it beside itself
// (rollgate-agent-worker.cjs, tools/agent-bundle/build.mjs).
import { setPriority } from 'node:os';
import type { HeavyAnswer, HeavyJob } from './heavy-jobs';
import { runHeavyJob } from './heavy-run';

function answer(a: HeavyAnswer): void {
  // Exit only once the answer is out: the parent reads it before it sees the exit.
  process.send?.(a, () => process.exit(0));
}

/** Niceness of the work itself: on a busy server the scheduler runs the agent's loop first. */
const WORK_NICENESS = 10;

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
    (err: unknown) => {
      const e = err as Error & { limit?: string; code?: unknown };
      answer({
        ok: false,
        error: {
          name: e?.name ?? 'Error',
          message: e?.message ?? String(err),
          ...(e?.limit !== undefined ? { limit: e.limit } : {}),
          ...(typeof e?.code === 'string' || typeof e?.code === 'number' ? { code: e.code } : {}),
        },
      });
    },
  );
});
// Orphaned (the agent died): nothing to answer to, stop.
process.once('disconnect', () => process.exit(1));
