import { LbUnreachableError } from '@rollgate/domain';
import type { EngineLogger } from './engine-types';
import type { LeaseKeeper } from './leases';
import { StaleLeaseError, type EngineStore } from './ports';
import type { Emit } from './run-log';
import type { RunQueue } from './run-queue';

export interface KickContext {
  store: Pick<EngineStore, 'getRun'>;
  log: EngineLogger;
  emit: Emit;
  queue: Pick<RunQueue, 'serial'>;
  leases: Pick<LeaseKeeper, 'leadsNow' | 'lead' | 'lost'>;
  /** This engine's name as a lease holder, named when it takes a run over. */
  holder: string;
  evaluate: (runId: string) => Promise<void>;
  /** A balancer did not answer during the evaluation (failure-policy.ts). */
  pauseForLb: (runId: string, err: LbUnreachableError) => Promise<void>;
}

/**
 * Re-evaluates a run now, serially with every other change to it. A burst of agent updates needs
 * only one evaluation; a run another coordinator led is taken over when its lease is free; the
 * evaluation's errors end here (a lost lease, an unreachable balancer, anything else logged).
 */
export function createKick(ctx: KickContext): (runId: string) => Promise<void> {
  const { store, log, emit, queue, leases, holder, evaluate, pauseForLb } = ctx;
  /** Evaluations already queued per run: a burst of agent updates needs only one of them. */
  const queuedKicks = new Map<string, Promise<void>>();

  return function kick(runId) {
    const queued = queuedKicks.get(runId);
    if (queued) return queued;
    const next = queue
      .serial(runId, async () => {
        // From here on a new update needs a new evaluation: this one may have read before it.
        queuedKicks.delete(runId);
        if (!leases.leadsNow(runId)) {
          // Only running runs are worth a lease attempt (a round trip); others need no evaluation.
          const run = await store.getRun(runId);
          if (run?.status !== 'running') return;
          const got = await leases.lead(runId);
          if (!got) return;
          if (got !== 'held' && got.token > 1) {
            emit(
              runId,
              'runRecovered',
              `at step ${run.currentStep + 1}/${run.plan.steps.length} by coordinator ${holder} (lease token ${got.token})`,
            );
          }
        }
        return evaluate(runId);
      })
      .catch(async (err: unknown) => {
        if (err instanceof StaleLeaseError) leases.lost(runId, err.message, err.token);
        else if (err instanceof LbUnreachableError) await pauseForLb(runId, err);
        else log.error({ err, runId }, 'run evaluation failed');
      });
    queuedKicks.set(runId, next);
    return next;
  };
}
