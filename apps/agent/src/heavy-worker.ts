// The agent's heavy-work child: started by heavy-client.ts for one job (unpack, checksum, receive
// a download, archive a backup), it does it and exits, so whatever the job costs (CPU, memory a
// hostile archive makes it allocate, `tar` and zlib loaded) never touches the agent's own event
// loop and is returned to the system when it ends (docs/adr/0016). The resident agent never
// imports this file nor archive.ts; the packaged agent ships it beside itself
// (rollgate-agent-worker.cjs, tools/agent-bundle/build.mjs).
import type { HeavyAnswer, HeavyJob } from './heavy-jobs';
import { runHeavyJob } from './heavy-run';

function answer(a: HeavyAnswer): void {
  // Exit only once the answer is out: the parent reads it before it sees the exit.
  process.send?.(a, () => process.exit(0));
}

process.once('message', (job: HeavyJob) => {
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
