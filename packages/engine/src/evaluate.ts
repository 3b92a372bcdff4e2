import { actionId as makeActionId, besideOwner, PHASE_LABEL } from '@rollgate/domain';
import type { Dispatch } from './dispatch';
import { evidenceLine, type EvidenceOf } from './evidence';
import type { FailurePolicy } from './failure-policy';
import type { LbChoreography } from './lb-choreography';
import type { CapacityProblem } from './live-capacity';
import type { Readmission } from './readmission';
import type { ActionRecord, Clock, EngineStore, Fence, RunRecord } from './ports';
import type { Emit } from './run-log';
import { activeServers, type RunRecords } from './run-records';
import { stepKey, type StepTimings } from './step-timing';

export interface EvaluateContext {
  store: Pick<EngineStore, 'getRun' | 'getSteps' | 'getActions' | 'startStep' | 'openLedger'>;
  clock: Clock;
  emit: Emit;
  records: RunRecords;
  fenceOf: (runId: string) => Fence | undefined;
  capacityProblem: CapacityProblem;
  /** How long a step may be held by the capacity floor before the run pauses, ms. */
  capacityHoldMs: number;
  lbc: Pick<LbChoreography, 'modeFor' | 'opsFor' | 'leaveAtLb' | 'drainedAtLb' | 'switched' | 'parkAtLb'>;
  readmission: Pick<Readmission, 'readmitted' | 'readmitDone' | 'reportServedAtEnd'>;
  failure: Pick<FailurePolicy, 'pauseOnFailure' | 'failLostActions'>;
  dispatch: Dispatch;
  timings: StepTimings;
  evidenceOf: EvidenceOf;
}

/**
 * Moves a running run as far as it can go now: starts its next step (durable before effect),
 * waits on the capacity floor, the load balancer or the agents, and completes steps and the run.
 * Returns when the run has to wait; whatever it waits for evaluates it again.
 */
export function createEvaluate(ctx: EvaluateContext): (runId: string) => Promise<void> {
  const { store, clock, emit, records, fenceOf, capacityProblem, capacityHoldMs } = ctx;
  const { lbc, readmission, failure, dispatch, timings, evidenceOf } = ctx;
  /** When each step (run:index) was first held by the capacity floor. */
  const heldSince = new Map<string, number>();

  /** Announces a new phase of the window when the next step belongs to another one. */
  function announcePhase(run: RunRecord, index: number) {
    const step = run.plan.steps[index];
    const prev = index > 0 ? run.plan.steps[index - 1] : undefined;
    if (step && step.phase !== prev?.phase) {
      emit(run.id, 'phaseBegins', PHASE_LABEL[step.phase], { stepIndex: index });
    }
  }

  async function evaluate(runId: string): Promise<void> {
    for (let guard = 0; guard < 1000; guard++) {
      const run = await store.getRun(runId);
      if (!run || run.status !== 'running') return;
      const steps = await store.getSteps(runId);
      const step = steps.find((s) => s.index === run.currentStep);
      const planStep = run.plan.steps[run.currentStep];
      if (!step || !planStep) {
        await readmission.reportServedAtEnd(run);
        timings.forgetRun(run.id);
        await records.transition(run, 'succeeded', { finishedAt: clock.now(), failure: null });
        if (run.plan.procedure === 'rollback') {
          emit(
            run.id,
            'runCompleted',
            `rollback of run ${run.parentRunId ?? '?'}: ${run.plan.service} back on ${run.plan.toEdition.name} on cluster ${run.plan.cluster}`,
          );
        } else {
          emit(run.id, 'phaseBegins', PHASE_LABEL['full-service-restored']);
          emit(
            run.id,
            'runCompleted',
            `${run.plan.service} ${run.plan.toEdition.name} on cluster ${run.plan.cluster}`,
          );
        }
        return;
      }
      if (step.status === 'succeeded' || step.status === 'skipped') {
        await records.transition(run, 'running', { currentStep: run.currentStep + 1 });
        continue;
      }
      if (step.status === 'failed') {
        await records.transition(run, 'paused', { failure: run.failure ?? step.error ?? 'step failed' });
        return;
      }
      if (step.status === 'pending') {
        if (step.attempt === 0) announcePhase(run, step.index);
        if (planStep.kind === 'sign-off') {
          await records.updateStep(run.id, step.index, { status: 'running', startedAt: clock.now() });
          await records.transition(run, 'waiting-approval');
          emit(run.id, 'stepWaitingSignOff', planStep.title, { stepIndex: step.index });
          return;
        }
        const problem = await capacityProblem(run, planStep);
        if (problem) {
          const key = `${run.id}:${step.index}`;
          const since = heldSince.get(key);
          if (since === undefined) {
            heldSince.set(key, clock.now());
            emit(run.id, 'capacityHeld', `${planStep.title}: ${problem}`, { stepIndex: step.index });
          } else if (clock.now() - since > capacityHoldMs) {
            heldSince.delete(key);
            await failure.pauseOnFailure(
              run,
              step,
              planStep,
              `capacity floor held for ${Math.round(capacityHoldMs / 1000)} s: ${problem}`,
            );
          }
          return;
        }
        heldSince.delete(`${run.id}:${step.index}`);
        const attempt = step.attempt + 1;
        const now = clock.now();
        const lbMode = await lbc.modeFor(run, planStep);
        const actions: ActionRecord[] = activeServers(run, planStep.servers).map((serverId) => ({
          id: makeActionId(run.id, step.index, serverId, attempt),
          runId: run.id,
          stepIndex: step.index,
          serverId,
          attempt,
          ops: lbc.opsFor(planStep.opsByServer?.[serverId] ?? planStep.ops, lbMode),
          status: 'pending',
          error: null,
          createdAt: now,
          dispatchedAt: null,
          finishedAt: null,
          results: [],
        }));
        const leaving = activeServers(run, planStep.leavesRotation);
        // A second instance leaving rotation goes back to idle: nothing to put back, no ledger entry.
        const ledger = leaving
          .filter((id) => besideOwner(id) === null)
          .map((serverId) => ({
            runId: run.id,
            serverId,
            stepIndex: step.index,
            closedAt: now,
            reopenedAt: null,
          }));
        // Durable before effect: the step, its actions and the ledger are committed first.
        await store.startStep(run.id, step.index, attempt, now, actions, ledger, fenceOf(run.id));
        timings.of(stepKey(run.id, step.index, attempt));
        emit(run.id, 'stepStarted', `${step.index + 1}/${run.plan.steps.length} ${planStep.title}`, {
          stepIndex: step.index,
        });
        if (planStep.kind === 'switch') continue; // gates and LB change at the switch itself
        for (const serverId of leaving) {
          emit(run.id, 'gateClosed', serverId, { serverId, stepIndex: step.index });
        }
        if (lbMode?.mode === 'runtime' && leaving.length > 0) {
          // The engine drains at the load balancer first; the actions go out once sessions are 0.
          await lbc.leaveAtLb(run, { ...step, attempt, startedAt: now }, planStep);
          continue;
        }
        await dispatch(run, actions);
        if (actions.length > 0) return;
        continue; // every server of the step was excluded: it completes at once
      }
      // running
      const actions = (await store.getActions(run.id, step.index)).filter((a) => a.attempt === step.attempt);
      if (await failure.failLostActions(run, actions)) continue;
      const failed = actions.find((a) => a.status === 'failed' || a.status === 'cancelled');
      if (failed) {
        if (planStep.kind === 'test') {
          const line = evidenceLine(actions.flatMap((a) => a.results));
          emit(run.id, 'testsFailed', `${planStep.title}: ${line ?? failed.error ?? 'failed'}`, {
            stepIndex: step.index,
          });
        }
        await failure.pauseOnFailure(
          run,
          step,
          planStep,
          `${failed.serverId}: ${failed.error ?? failed.status}`,
        );
        return;
      }
      const lbMode = await lbc.modeFor(run, planStep);
      if (planStep.kind === 'switch' && !(await lbc.switched(run, step, planStep, lbMode))) return;
      if (
        lbMode?.mode === 'runtime' &&
        activeServers(run, planStep.leavesRotation).length > 0 &&
        actions.some((a) => a.status === 'pending')
      ) {
        if (!(await lbc.drainedAtLb(run, step, planStep))) return;
        await lbc.parkAtLb(run, step, planStep, actions);
        await dispatch(
          run,
          actions.filter((a) => a.status === 'pending'),
        );
        return;
      }
      const done = (a: ActionRecord) => a.status === 'succeeded' || a.status === 'skipped';
      if (actions.every(done)) {
        const rejoining = activeServers(run, planStep.rejoinsRotation).filter(
          (id) =>
            planStep.kind === 'switch' || actions.some((a) => a.serverId === id && a.status === 'succeeded'),
        );
        if (
          rejoining.length > 0 &&
          lbMode &&
          !(await readmission.readmitted(
            run,
            step,
            { ...planStep, rejoinsRotation: rejoining },
            actions,
            lbMode,
          ))
        ) {
          return;
        }
        readmission.readmitDone(run.id, step.index);
        const now = clock.now();
        // A server back in rotation closes every open entry about it, also those an earlier
        // (aborted) run left, so the capacity floor counts it as serving again.
        const stillOut = rejoining.length > 0 ? await store.openLedger() : [];
        const reopen = rejoining.flatMap((serverId) => [
          ...stillOut
            .filter((e) => e.serverId === serverId && e.runId !== run.id)
            .map((e) => ({ runId: e.runId, serverId })),
          { runId: run.id, serverId },
        ]);
        const evidence = evidenceOf(run, planStep, actions);
        // The step's end is one commit: ledger, step, evidence and the next step's index together.
        await records.completeStep(run, step.index, now, reopen, {
          ...evidence.runPatch,
          currentStep: run.currentStep + 1,
        });
        for (const serverId of rejoining) {
          emit(run.id, 'gateOpened', serverId, { serverId, stepIndex: step.index });
        }
        emit(run.id, 'stepSucceeded', planStep.title, { stepIndex: step.index });
        if (actions.length > 0) timings.report(run, step, planStep, actions, now);
        evidence.announce();
        continue;
      }
      // Still waiting: make sure nothing persisted is left unsent (e.g. after a restart).
      await dispatch(
        run,
        actions.filter((a) => a.status === 'pending'),
      );
      return;
    }
  }

  return evaluate;
}
