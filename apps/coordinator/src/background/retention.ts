// The pruning job (issue 17 item 4, docs/adr/0019): every `intervalMs`, log lines and dead letters
// older than the retention, expired sessions and expired portal links are deleted. Every coordinator
// runs it; one at a time prunes (an advisory lock in pruneExpired), and the deletes are idempotent.
import { pruneExpired, type Db, type PruneResult } from '@rollgate/db';
import type { Logger } from '@rollgate/logger';

export interface RetentionOptions {
  db: Db;
  log: Logger;
  /** Days log lines and dead letters are kept (ROLLGATE_LOG_RETENTION_DAYS); default 90. */
  logRetentionDays?: number;
  /** How often a round runs (ROLLGATE_PRUNE_INTERVAL_MS); default 1 h. The first runs 5 s after start(). */
  intervalMs?: number;
  /** Default Date.now. */
  now?: () => number;
}

const DAY_MS = 86_400_000;

export function createRetention(opts: RetentionOptions) {
  const now = opts.now ?? Date.now;
  const days = opts.logRetentionDays ?? 90;
  const intervalMs = opts.intervalMs ?? 3_600_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function runOnce(): Promise<PruneResult> {
    const t = now();
    const r = await pruneExpired(opts.db, { logsBefore: t - days * DAY_MS, expiredBefore: t });
    if (r.logChunks + r.deadLetters + r.sessions + r.portalTokens > 0) {
      opts.log.info(
        { ...r, logRetentionDays: days },
        'pruned old log lines, expired sessions and expired portal links',
      );
    }
    return r;
  }

  return {
    runOnce,
    start() {
      if (timer) return;
      const loop = (delay: number) => {
        timer = setTimeout(() => {
          running = runOnce()
            .catch((err: unknown) => opts.log.error({ err }, 'pruning failed; the next round tries again'))
            .finally(() => {
              if (timer) loop(intervalMs);
            });
        }, delay);
        timer.unref();
      };
      loop(Math.min(5000, intervalMs));
    },
    async stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
