import { canTransitionRun, type ActionStatus, type GateRecord, type RunStatus } from '@rollgate/domain';
import { EngineError } from './engine-types';
import type { ActionRecord, Clock, EngineStore, Fence, RunRecord, StepRecord } from './ports';

type RunPatch = Partial<Omit<RunRecord, 'id' | 'version'>>;

export interface RunRecordsContext {
  store: EngineStore;
  clock: Clock;
  /** The fence of a write for a run (leases.ts); throws when this engine does not lead it. */
  fenceOf: (runId: string) => Fence | undefined;
}

/** The engine's writes for a run, each carrying the run's fence, and the run's state machine. */
export interface RunRecords {
  updateStep(
    runId: string,
    index: number,
    patch: Partial<Omit<StepRecord, 'runId' | 'index'>>,
  ): Promise<void>;
  updateAction(
    runId: string,
    id: string,
    from: ActionStatus[],
    patch: Parameters<EngineStore['updateAction']>[2],
  ): Promise<ActionRecord | null>;
  /** `runId` is the run doing the write (whose lease fences it); `of` the run of the entry. */
  reopenLedger(runId: string, of: string, serverId: string, at: number): Promise<void>;
  /** Moves the run to `to` (refused when the state machine forbids it or the run changed meanwhile). */
  transition(run: RunRecord, to: RunStatus, patch?: RunPatch): Promise<RunRecord>;
  /**
   * A step that succeeded, in one write where the store can (docs/adr/0050): the ledger entries
   * of `reopen` closed, the step succeeded, `runPatch` on the run (optimistic lock as transition()).
   */
  completeStep(
    run: RunRecord,
    index: number,
    finishedAt: number,
    reopen: { runId: string; serverId: string }[],
    runPatch: RunPatch,
  ): Promise<RunRecord>;
  /** Persists fields of a run without changing its status (optimistic lock as transition()). */
  patchRun(run: RunRecord, patch: RunPatch): Promise<RunRecord>;
  mustGetRun(runId: string): Promise<RunRecord>;
  audit(actor: string, action: string, target: string, details?: Record<string, unknown>): Promise<void>;
}

export function createRunRecords({ store, clock, fenceOf }: RunRecordsContext): RunRecords {
  async function transition(run: RunRecord, to: RunStatus, patch: RunPatch = {}): Promise<RunRecord> {
    if (run.status !== to && !canTransitionRun(run.status, to)) {
      throw new EngineError('PRECONDITION_FAILED', `Run ${run.id} is ${run.status}; it cannot become ${to}.`);
    }
    const updated = await store.updateRun(run.id, run.version, { ...patch, status: to }, fenceOf(run.id));
    if (!updated) {
      throw new EngineError('CONFLICT', `Run ${run.id} changed while this request was handled; try again.`);
    }
    return updated;
  }

  async function completeStep(
    run: RunRecord,
    index: number,
    finishedAt: number,
    reopen: { runId: string; serverId: string }[],
    runPatch: RunPatch,
  ): Promise<RunRecord> {
    const fence = fenceOf(run.id);
    if (!store.completeStep) {
      for (const e of reopen) await store.reopenLedger(e.runId, e.serverId, finishedAt, fence);
      await store.updateStep(run.id, index, { status: 'succeeded', finishedAt, error: null }, fence);
      return transition(run, run.status, runPatch);
    }
    const updated = await store.completeStep(
      { runId: run.id, index, finishedAt, reopen, expectedVersion: run.version, runPatch },
      fence,
    );
    if (!updated) {
      throw new EngineError('CONFLICT', `Run ${run.id} changed while this request was handled; try again.`);
    }
    return updated;
  }

  return {
    completeStep,
    updateStep: (runId, index, patch) => store.updateStep(runId, index, patch, fenceOf(runId)),
    updateAction: (runId, id, from, patch) => store.updateAction(id, from, patch, fenceOf(runId)),
    reopenLedger: (runId, of, serverId, at) => store.reopenLedger(of, serverId, at, fenceOf(runId)),
    transition,
    patchRun: (run, patch) => transition(run, run.status, patch),
    async mustGetRun(runId) {
      const run = await store.getRun(runId);
      if (!run) throw new EngineError('NOT_FOUND', `No run "${runId}".`);
      return run;
    },
    async audit(actor, action, target, details = {}) {
      await store.appendAudit({ at: clock.now(), actor, action, target, details });
    },
  };
}

/** The servers of a list that the run still works on (not excluded by an operator). */
export function activeServers(run: RunRecord, ids: string[]): string[] {
  return run.excluded.length === 0 ? ids : ids.filter((id) => !run.excluded.includes(id));
}

/** Sets a readiness gate's record on the run (replacing the one for the same gate). */
export function withGate(run: RunRecord, record: GateRecord): GateRecord[] {
  return [...run.readiness.filter((g) => g.gate !== record.gate), record];
}
