import type { PlanStep } from '@rollgate/domain';
import type { ActionRecord, Clock, RunRecord, StepRecord } from './ports';
import { fmtMs, type Emit } from './run-log';
import { activeServers } from './run-records';

/** What one step spent where, as this process saw it (ms since the epoch, ms). */
export interface StepTiming {
  /** Time inside load-balancer calls that change state (leave, park). */
  lbMs: number;
  leftAt: number | null;
  drainedAt: number | null;
  readmitAt: number | null;
  readmittedAt: number | null;
}

export interface StepTimingsContext {
  clock: Clock;
  emit: Emit;
}

/** Where each step's time went in this process, keyed by stepKey(), for its RG0119I line. */
export interface StepTimings {
  /** The step's figures so far (created empty on first use). */
  of(key: string): StepTiming;
  /** Runs an LB call and counts its time as the step's LB exchange time. */
  timed<T>(key: string, call: () => Promise<T>): Promise<T>;
  /** Emits a finished step's timing line and forgets its figures. */
  report(run: RunRecord, step: StepRecord, planStep: PlanStep, actions: ActionRecord[], now: number): void;
  /** Forgets every figure of an ended run. */
  forgetRun(runId: string): void;
}

/** A step attempt's key in the engine's in-memory maps. */
export const stepKey = (runId: string, index: number, attempt: number) => `${runId}:${index}:${attempt}`;

export function createStepTimings({ clock, emit }: StepTimingsContext): StepTimings {
  const timings = new Map<string, StepTiming>();

  function of(key: string): StepTiming {
    let t = timings.get(key);
    if (!t) {
      t = { lbMs: 0, leftAt: null, drainedAt: null, readmitAt: null, readmittedAt: null };
      timings.set(key, t);
    }
    return t;
  }

  return {
    of,

    async timed(key, call) {
      const t0 = clock.now();
      try {
        return await call();
      } finally {
        of(key).lbMs += clock.now() - t0;
      }
    },

    /**
     * Words for people, then ` | ` and a JSON object for tools (docs/adr/0025 documents its
     * fields). Figures this process did not see (a step it took over after a restart) are 0 and
     * `partial` is true.
     */
    report(run, step, planStep, actions, now) {
      const key = stepKey(run.id, step.index, step.attempt);
      const t = timings.get(key);
      timings.delete(key);
      const startedAt = step.startedAt ?? now;
      const totalMs = Math.max(0, now - startedAt);
      const drainMs = t?.leftAt != null && t.drainedAt != null ? Math.max(0, t.drainedAt - t.leftAt) : 0;
      const dispatched = actions.map((a) => a.dispatchedAt).filter((x): x is number => x !== null);
      const finished = actions.map((a) => a.finishedAt).filter((x): x is number => x !== null);
      const agentMs =
        dispatched.length > 0 && finished.length > 0
          ? Math.min(
              Math.max(0, Math.max(...finished) - Math.min(...dispatched)),
              Math.max(0, now - Math.min(...dispatched)),
            )
          : 0;
      const readmitMs =
        t?.readmitAt != null && t.readmittedAt != null ? Math.max(0, t.readmittedAt - t.readmitAt) : 0;
      const lbMs = t?.lbMs ?? 0;
      const engineMs = Math.max(0, totalMs - lbMs - drainMs - agentMs - readmitMs);
      const figures = {
        v: 1,
        step: step.index,
        key: planStep.key,
        group: planStep.group,
        servers: activeServers(run, planStep.servers),
        totalMs,
        lbMs,
        drainMs,
        agentMs,
        readmitMs,
        engineMs,
        partial: t === undefined,
      };
      emit(
        run.id,
        'stepTiming',
        `${planStep.title}: lb ${fmtMs(lbMs)}, drain ${fmtMs(drainMs)}, agent ${fmtMs(agentMs)}, readmit ${fmtMs(readmitMs)}, engine ${fmtMs(engineMs)}, total ${fmtMs(totalMs)} | ${JSON.stringify(figures)}`,
        { stepIndex: step.index },
      );
    },

    forgetRun(runId) {
      for (const k of [...timings.keys()]) if (k.startsWith(`${runId}:`)) timings.delete(k);
    },
  };
}
