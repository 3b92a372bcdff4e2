import type { PlanStep } from '@rollgate/domain';
import type {
  ActionRecord,
  Clock,
  LbMode,
  LbServerStatus,
  LoadBalancerPort,
  RunRecord,
  StepRecord,
} from './ports';
import { fmtMs, type Emit } from './run-log';
import { stepKey, type StepTimings } from './step-timing';
import type { WakeUps } from './wake-ups';

export interface ReadmissionContext {
  /** The load balancer in front of the clusters; none: nothing to re-admit at (gates alone). */
  lb: LoadBalancerPort | undefined;
  clock: Clock;
  emit: Emit;
  wake: Pick<WakeUps, 'watchLb' | 'wakeAt'>;
  timings: StepTimings;
  /** The failure policy's pause (failure-policy.ts): a re-admission the LB never confirms. */
  pauseOnFailure: (run: RunRecord, step: StepRecord, planStep: PlanStep, why: string) => Promise<void>;
}

/**
 * The end of a step at the load balancer: servers back in rotation (UP), and the first request
 * each re-admitted server served, reported from LB state read anyway rather than waited for
 * (unless readmitWait is "served").
 */
export function createReadmission(ctx: ReadmissionContext) {
  const { lb, clock, emit, wake, timings, pauseOnFailure } = ctx;
  /**
   * Re-admissions in progress: when the LB was told, and (readmitWait "served") each server's
   * session count just before.
   */
  const readmitting = new Map<string, { at: number; baseline: Map<string, number> | null }>();
  /**
   * Re-admitted servers whose first served request is still to be reported, per run: a report read
   * from LB state the engine fetches anyway, never a wait.
   */
  const servedPending = new Map<string, Map<string, { baseline: number; at: number; stepIndex: number }>>();

  /**
   * Reports the first request each re-admitted server served, from LB state read anyway (the
   * drain of the next group, the re-admission of the next); never waited for.
   */
  function noteServed(runId: string, stats: Map<string, LbServerStatus>) {
    const pending = servedPending.get(runId);
    if (!pending) return;
    const now = clock.now();
    for (const [id, p] of pending) {
      const st = stats.get(id);
      if (!st || st.totalSessions <= p.baseline) continue;
      pending.delete(id);
      emit(
        runId,
        'gateOpened',
        `${id} served its first request within ${fmtMs(now - p.at)} of re-admission`,
        {
          serverId: id,
          stepIndex: p.stepIndex,
        },
      );
    }
    if (pending.size === 0) servedPending.delete(runId);
  }

  /** The servers whose first request is still to be reported, to read along with other LB state. */
  const servedWatch = (runId: string) => [...(servedPending.get(runId)?.keys() ?? [])];

  /**
   * A server counts as back once the load balancer reports it UP (runtime: re-admitted in one
   * exchange after the agent verified its health, then confirmed by one read, waited for only as
   * long as it is not UP yet, up to readmitTimeoutMs), or once the LB has had time to see its open
   * gate (gate-only). A first served request is waited for only with readmitWait "served";
   * otherwise it is reported when seen.
   */
  async function readmitted(
    run: RunRecord,
    step: StepRecord,
    planStep: PlanStep,
    actions: ActionRecord[],
    mode: LbMode,
  ): Promise<boolean> {
    const now = clock.now();
    const ids = planStep.rejoinsRotation;
    const timing = timings.of(stepKey(run.id, step.index, step.attempt));
    if (timing.readmitAt === null) timing.readmitAt = now;
    if (mode.mode === 'gate-only') {
      // The agent's clock says when its gate opened; one ahead of ours must not stretch the wait.
      const done = Math.min(now, Math.max(...actions.map((a) => a.finishedAt ?? now)));
      const left = done + mode.readmitMs - now;
      if (left > 0) {
        wake.wakeAt(run.id, left);
        return false;
      }
      timing.readmittedAt = now;
      return true;
    }
    const key = `${run.id}:${step.index}`;
    const cluster = run.plan.cluster;
    const served = mode.readmitWait === 'served';
    let state = readmitting.get(key);
    if (!state) {
      // The "served" baseline is read before the LB is told, so no first request is missed.
      const before = served ? await lb!.status(cluster, ids) : null;
      const at = clock.now();
      timing.readmitAt = at;
      // Health was verified by the action (waitHealthy) before the LB is told to send traffic.
      await lb!.rejoin(cluster, ids);
      // Agent-checks held while parked (or for a switch) answer again; idempotent, so also after a
      // restart that forgot whether they were held. The gate is open by now: they answer "ready".
      if (planStep.kind !== 'switch') await lb!.holdAgentChecks?.(cluster, ids, false);
      state = {
        at,
        baseline: before ? new Map(ids.map((id) => [id, before.get(id)?.totalSessions ?? 0])) : null,
      };
      readmitting.set(key, state);
    }
    const stats = await lb!.status(cluster, [...new Set([...ids, ...servedWatch(run.id)])]);
    noteServed(run.id, stats);
    const t = clock.now();
    const since = t - state.at;
    const down = ids.filter((id) => !stats.get(id)?.up);
    if (down.length > 0) {
      if (since >= mode.readmitTimeoutMs) {
        readmitting.delete(key);
        await pauseOnFailure(
          run,
          step,
          planStep,
          `the load balancer does not report ${down.join(', ')} UP ${fmtMs(since)} after re-admission (health up and ready were sent after the agent found the service healthy; readmitTimeoutMs ${mode.readmitTimeoutMs}). Check the server in HAProxy (show servers state, show stat) and its health check`,
        );
        return false;
      }
      wake.watchLb(run.id, `readmit:${key}`, state.at + mode.readmitTimeoutMs, async () => {
        const st = await lb!.status(cluster, ids);
        return ids.every((id) => st.get(id)?.up);
      });
      return false;
    }
    if (served && state.baseline) {
      const baseline = state.baseline;
      const waiting = ids.filter((id) => (stats.get(id)?.totalSessions ?? 0) <= (baseline.get(id) ?? 0));
      if (waiting.length > 0 && since < mode.readmitTimeoutMs) {
        wake.watchLb(run.id, `served:${key}`, state.at + mode.readmitTimeoutMs, async () => {
          const st = await lb!.status(cluster, waiting);
          return waiting.every((id) => (st.get(id)?.totalSessions ?? 0) > (baseline.get(id) ?? 0));
        });
        return false;
      }
      emit(
        run.id,
        'gateOpened',
        waiting.length > 0
          ? `${waiting.join(', ')} UP at the load balancer but served no request within ${fmtMs(mode.readmitTimeoutMs)} (no traffic?); continuing`
          : `${ids.join(', ')} UP at the load balancer and served a request ${fmtMs(since)} after re-admission`,
        { stepIndex: step.index, level: waiting.length > 0 ? 'warn' : 'info' },
      );
    } else {
      emit(
        run.id,
        'gateOpened',
        `${ids.join(', ')} UP at the load balancer ${fmtMs(since)} after health up and ready in one exchange; a first served request is reported when seen`,
        { stepIndex: step.index },
      );
      const pending = servedPending.get(run.id) ?? new Map();
      for (const id of ids)
        pending.set(id, { baseline: stats.get(id)?.totalSessions ?? 0, at: state.at, stepIndex: step.index });
      servedPending.set(run.id, pending);
    }
    timing.readmittedAt = t;
    return true;
  }

  /** At a run's end: the first requests not reported yet, from one last read (never waited for). */
  async function reportServedAtEnd(run: RunRecord) {
    const ids = servedWatch(run.id);
    if (ids.length === 0 || !lb) return;
    try {
      noteServed(run.id, await lb.status(run.plan.cluster, ids));
    } catch {
      // A report only: the LB's absence here changes nothing of the run.
    }
    const left = servedWatch(run.id);
    servedPending.delete(run.id);
    if (left.length > 0)
      emit(
        run.id,
        'gateOpened',
        `${left.join(', ')}: UP, no request served yet since re-admission (no traffic?)`,
        {
          level: 'info',
        },
      );
  }

  return {
    readmitted,
    reportServedAtEnd,
    noteServed,
    servedWatch,
    /** The step's re-admission is over (it succeeded): a retry would start a new one. */
    readmitDone(runId: string, index: number) {
      readmitting.delete(`${runId}:${index}`);
    },
  };
}

export type Readmission = ReturnType<typeof createReadmission>;
