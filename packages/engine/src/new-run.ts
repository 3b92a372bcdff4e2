import type { Plan } from '@rollgate/domain';
import type { CreateRunOptions } from './engine-types';
import {
  DEFAULT_RUN_OPTIONS,
  type Clock,
  type EngineStore,
  type RunKind,
  type RunRecord,
  type StepRecord,
} from './ports';
import { RUN_KIND } from './rollback';
import type { Emit } from './run-log';
import type { RunRecords } from './run-records';

export interface NewRunContext {
  store: Pick<EngineStore, 'createRun'>;
  clock: Clock;
  emit: Emit;
  audit: RunRecords['audit'];
  /** Makes a new run id; injected so the engine stays free of randomness. */
  newRunId: () => string;
}

/** Records a new run with its pending steps, audited and announced; it does not evaluate it. */
export type NewRun = (plan: Plan, actor: string, o?: CreateRunOptions) => Promise<RunRecord>;

export function createNewRun({ store, clock, emit, audit, newRunId }: NewRunContext): NewRun {
  return async (plan, actor, o = {}) => {
    const now = clock.now();
    const scheduled = o.scheduledAt != null && o.scheduledAt > now;
    const run: RunRecord = {
      id: newRunId(),
      kind: RUN_KIND[plan.procedure] satisfies RunKind,
      status: scheduled ? 'pending' : 'running',
      plan,
      currentStep: 0,
      failure: null,
      createdBy: actor,
      createdAt: now,
      startedAt: scheduled ? null : now,
      finishedAt: null,
      version: 1,
      scheduledAt: o.scheduledAt ?? null,
      options: { ...DEFAULT_RUN_OPTIONS, ...o.options },
      readiness: o.readiness ?? [],
      excluded: [],
      proposal: null,
      parentRunId: o.parentRunId ?? null,
    };
    const steps: StepRecord[] = plan.steps.map((s) => ({
      runId: run.id,
      index: s.index,
      status: 'pending',
      attempt: 0,
      startedAt: null,
      finishedAt: null,
      error: null,
    }));
    await store.createRun(run, steps);
    await audit(actor, plan.procedure === 'rollback' ? 'run.rollback.start' : 'run.start', run.id, {
      cluster: plan.cluster,
      service: plan.service,
      edition: plan.toEdition.name,
      procedure: plan.procedure,
      ...(scheduled ? { scheduledAt: new Date(o.scheduledAt!).toISOString() } : {}),
      ...(run.parentRunId ? { parentRun: run.parentRunId } : {}),
    });
    for (const g of run.readiness.filter((x) => x.status === 'waived')) {
      emit(run.id, 'gateWaived', `${g.gate} by ${g.by ?? actor}: ${g.reason ?? ''}`);
    }
    if (scheduled) {
      emit(
        run.id,
        'runScheduled',
        `${describeRun(plan)}; starts at ${new Date(o.scheduledAt!).toISOString()}`,
      );
    } else {
      emit(run.id, plan.procedure === 'rollback' ? 'rollbackStarted' : 'runStarted', describeRun(plan));
    }
    return run;
  };
}

/** One line that says what a run will do, for its log's first line. */
export function describeRun(plan: Plan): string {
  const what =
    plan.procedure === 'rollback'
      ? `rollback (${plan.rollback?.method ?? '?'}) of run ${plan.rollback?.ofRun ?? '?'} to ${plan.service} ${plan.toEdition.name}`
      : `${plan.procedure} upgrade of ${plan.service} to ${plan.toEdition.name}`;
  return `${what} on cluster ${plan.cluster}: ${plan.steps.length} steps, ${plan.groups.length} server groups, announced window ${plan.window.atRiskMinutes} min${plan.window.downtimeMinutes > 0 ? ` (downtime ${plan.window.downtimeMinutes} min)` : ''}`;
}
