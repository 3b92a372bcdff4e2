import { isLbUnreachableFailure } from '@rollgate/domain';
import type { FailurePolicy } from './failure-policy';
import type { LeaseKeeper } from './leases';
import { describeRun } from './new-run';
import type { Clock, EngineStore, RunRecord } from './ports';
import type { Emit } from './run-log';
import type { RunQueue } from './run-queue';
import type { RunRecords } from './run-records';

export interface TickContext {
  store: Pick<EngineStore, 'getRun' | 'listRuns'>;
  clock: Clock;
  emit: Emit;
  records: Pick<RunRecords, 'transition'>;
  queue: Pick<RunQueue, 'serial'>;
  leases: Pick<LeaseKeeper, 'lead'>;
  failure: Pick<FailurePolicy, 'resumeIfLbBack' | 'maybePropose'>;
  kick: (runId: string) => Promise<void>;
  /** Why a due scheduled run must not start (a freeze window, an unmet readiness gate), or null. */
  precheck: ((run: RunRecord) => Promise<string | null>) | undefined;
}

/**
 * The engine's periodic look at every run that may need one: running runs are evaluated (drains
 * are timed by it), due scheduled runs start, paused runs go on once their balancer answers or
 * propose a rollback as their window runs short.
 */
export function createTick(ctx: TickContext): () => Promise<void> {
  const { store, clock, emit, records, queue, leases, failure, kick, precheck } = ctx;

  /** A scheduled run that is due starts now, unless its precheck (freeze, readiness) refuses. */
  async function startDue(run: RunRecord): Promise<void> {
    await queue.serial(run.id, async () => {
      const current = await store.getRun(run.id);
      if (!current || current.status !== 'pending' || (current.scheduledAt ?? 0) > clock.now()) return;
      if (!(await leases.lead(run.id))) return;
      const refusal = precheck ? await precheck(current) : null;
      if (refusal) {
        await records.transition(current, 'aborted', {
          finishedAt: clock.now(),
          failure: `scheduled start refused: ${refusal}`,
        });
        emit(run.id, 'scheduledStartRefused', refusal);
        return;
      }
      await records.transition(current, 'running', { startedAt: clock.now() });
      emit(run.id, 'runStarted', `scheduled start: ${describeRun(current.plan)}`);
    });
    await kick(run.id);
  }

  async function tick(): Promise<void> {
    const runs = await store.listRuns({ statuses: ['running', 'pending', 'paused'] });
    const now = clock.now();
    await Promise.all(
      runs.map(async (r) => {
        if (r.status === 'running') return kick(r.id);
        if (r.status === 'pending' && r.scheduledAt !== null && r.scheduledAt <= now) return startDue(r);
        if (r.status === 'paused' && isLbUnreachableFailure(r.failure)) return failure.resumeIfLbBack(r);
        // A paused run's window keeps running out: propose a rollback when it gets short.
        if (r.status === 'paused' && r.options.windowEndsAt !== null && !r.proposal) {
          return queue.serial(r.id, async () => {
            if (!(await leases.lead(r.id))) return;
            const current = await store.getRun(r.id);
            if (current) await failure.maybePropose(current);
          });
        }
        return undefined;
      }),
    );
  }

  return tick;
}
