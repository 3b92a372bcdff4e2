import { isTerminalRun } from '@rollgate/domain';
import { EngineError, type Engine } from './engine-types';
import type { FailurePolicy } from './failure-policy';
import type { LbChoreography } from './lb-choreography';
import type { LeaseKeeper } from './leases';
import type { NewRun } from './new-run';
import { StaleLeaseError, type AgentBus, type Clock, type EngineStore } from './ports';
import { rollbackChoices } from './rollback';
import type { Emit } from './run-log';
import type { RunQueue } from './run-queue';
import { withGate, type RunRecords } from './run-records';

export interface CommandsContext {
  store: EngineStore;
  bus: Pick<AgentBus, 'cancel'>;
  clock: Clock;
  emit: Emit;
  records: RunRecords;
  queue: Pick<RunQueue, 'serial'>;
  leases: Pick<LeaseKeeper, 'lead' | 'lost'>;
  failure: Pick<FailurePolicy, 'doRollback' | 'putBackOrReport'>;
  lbc: Pick<LbChoreography, 'modeFor' | 'drainMsOf' | 'skipDrain'>;
  newRun: NewRun;
  kick: (runId: string) => Promise<void>;
}

/** What operators (and the customer, for sign-off and rollback decisions) can do to a run. */
export type Commands = Pick<
  Engine,
  | 'createRun'
  | 'pause'
  | 'resume'
  | 'abort'
  | 'skipServer'
  | 'exclude'
  | 'rollbackOptions'
  | 'rollback'
  | 'decideRollback'
  | 'recordGate'
  | 'signOff'
  | 'skipDrain'
>;

/**
 * The operators' commands. Each is audited, logged, and run serially with everything else that
 * changes the run, on the coordinator that received it (see command()).
 */
export function createCommands(ctx: CommandsContext): Commands {
  const { store, bus, clock, emit, records, queue, leases, failure, lbc, newRun, kick } = ctx;

  /**
   * An operator's command on a run: it runs where it was received, so that coordinator takes the
   * run's lease over first (the previous leader's writes are refused from then on).
   */
  function command<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    return queue.serial(runId, async () => {
      // An unknown run is refused as before, and leaves no lease behind.
      await records.mustGetRun(runId);
      await leases.lead(runId, true);
      try {
        return await fn();
      } catch (err) {
        if (err instanceof StaleLeaseError) {
          leases.lost(runId, err.message, err.token);
          throw new EngineError(
            'CONFLICT',
            `Run ${runId} was taken over by another coordinator while this command ran; try again.`,
          );
        }
        throw err;
      }
    });
  }

  return {
    async createRun(plan, actor, o) {
      const run = await newRun(plan, actor, o);
      await kick(run.id);
      return (await store.getRun(run.id)) ?? run;
    },

    pause(runId, actor, reason) {
      return command(runId, async () => {
        const run = await records.mustGetRun(runId);
        if (run.status === 'paused') return run;
        const updated = await records.transition(run, 'paused', {
          failure: reason ? `paused by ${actor}: ${reason}` : `paused by ${actor}`,
        });
        await records.audit(actor, 'run.pause', runId, { reason: reason ?? '' });
        emit(runId, 'runPaused', `by ${actor}${reason ? `: ${reason}` : ''}`);
        return updated;
      });
    },

    async resume(runId, actor) {
      const updated = await command(runId, async () => {
        const run = await records.mustGetRun(runId);
        if (run.status !== 'paused') {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} is ${run.status}, not paused; nothing to resume.`,
          );
        }
        const step = (await store.getSteps(runId)).find((s) => s.index === run.currentStep);
        if (step?.status === 'failed') {
          // Retry: the step starts again with the next attempt number, so new action ids.
          await records.updateStep(runId, step.index, { status: 'pending', error: null, finishedAt: null });
        }
        const next = await records.transition(run, 'running', { failure: null });
        await records.audit(actor, 'run.resume', runId);
        emit(runId, 'runResumed', `by ${actor}`);
        return next;
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? updated;
    },

    abort(runId, actor, reason) {
      return command(runId, async () => {
        const run = await records.mustGetRun(runId);
        if (isTerminalRun(run.status)) {
          throw new EngineError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
        }
        const updated = await records.transition(run, 'aborted', {
          finishedAt: clock.now(),
          failure: `aborted by ${actor}${reason ? `: ${reason}` : ''}`,
        });
        for (const a of await store.getActions(runId)) {
          if (a.status === 'pending') {
            await records.updateAction(runId, a.id, ['pending'], {
              status: 'cancelled',
              finishedAt: clock.now(),
            });
          } else if (a.status === 'dispatched' || a.status === 'accepted' || a.status === 'running') {
            bus.cancel(a.serverId, a.id, `run aborted by ${actor}`);
          }
        }
        await records.audit(actor, 'run.abort', runId, { reason: reason ?? '' });
        emit(runId, 'runAborted', `by ${actor}${reason ? `: ${reason}` : ''}`);
        await failure.putBackOrReport(updated);
        return updated;
      });
    },

    async skipServer(runId, serverId, actor) {
      const updated = await command(runId, async () => {
        const run = await records.mustGetRun(runId);
        const planStep = run.plan.steps[run.currentStep];
        if (run.status !== 'paused' || !planStep) {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} is ${run.status}; a server can be skipped only when the run paused on a failed step.`,
          );
        }
        const step = (await store.getSteps(runId)).find((x) => x.index === run.currentStep);
        const action = (await store.getActions(runId, run.currentStep)).find(
          (a) => a.serverId === serverId && a.attempt === step?.attempt,
        );
        if (!step || !action || (action.status !== 'failed' && action.status !== 'cancelled')) {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `${serverId} has no failed action in step ${run.currentStep + 1} "${planStep.title}"; nothing to skip. Failed servers are named in the run's failure.`,
          );
        }
        await records.updateAction(runId, action.id, ['failed', 'cancelled'], { status: 'skipped' });
        await records.updateStep(runId, step.index, { status: 'running', error: null, finishedAt: null });
        await records.audit(actor, 'run.skip-server', runId, { serverId, step: step.index });
        emit(
          runId,
          'serverSkipped',
          `${serverId} in step ${step.index + 1} "${planStep.title}" by ${actor}`,
          {
            serverId,
            stepIndex: step.index,
          },
        );
        return records.transition(run, 'running', { failure: null });
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? updated;
    },

    async exclude(runId, serverId, actor) {
      const updated = await command(runId, async () => {
        const run = await records.mustGetRun(runId);
        if (run.status !== 'paused') {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} is ${run.status}; pause it (\`rollgate upgrade pause ${runId}\`) before excluding a server.`,
          );
        }
        const member = run.plan.groups.some((g) => g.servers.some((m) => m.id === serverId));
        if (!member) {
          throw new EngineError('NOT_FOUND', `${serverId} is not one of run ${runId}'s servers.`);
        }
        if (run.excluded.includes(serverId)) return run;
        const step = (await store.getSteps(runId)).find((x) => x.index === run.currentStep);
        if (step) {
          for (const a of await store.getActions(runId, step.index)) {
            if (a.serverId === serverId && a.attempt === step.attempt && a.status !== 'succeeded') {
              await records.updateAction(
                runId,
                a.id,
                ['pending', 'dispatched', 'accepted', 'running', 'failed', 'cancelled'],
                {
                  status: 'skipped',
                },
              );
              if (a.status !== 'failed' && a.status !== 'cancelled' && a.status !== 'pending')
                bus.cancel(serverId, a.id, `${serverId} excluded from run ${runId} by ${actor}`);
            }
          }
          if (step.status === 'failed') {
            await records.updateStep(runId, step.index, { status: 'running', error: null, finishedAt: null });
          }
        }
        await records.audit(actor, 'run.exclude', runId, { serverId });
        const out = (await store.openLedger(runId)).some((l) => l.serverId === serverId);
        emit(
          runId,
          'serverExcluded',
          `${serverId} by ${actor}; ${out ? 'it stays out of rotation: repair or rebuild it, then rejoin it' : 'it keeps its current edition and stays in rotation'}`,
          { serverId },
        );
        return records.patchRun(run, { excluded: [...run.excluded, serverId] });
      });
      return updated;
    },

    async rollbackOptions(runId) {
      return rollbackChoices(store, await records.mustGetRun(runId));
    },

    async rollback(runId, actor, method, reason) {
      return command(runId, async () =>
        failure.doRollback(await records.mustGetRun(runId), actor, method, reason),
      );
    },

    async decideRollback(runId, decision, comment, actor) {
      return command(runId, async () => {
        const run = await records.mustGetRun(runId);
        if (!run.proposal || run.proposal.status !== 'awaiting') {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} has no rollback waiting for authorisation${run.proposal ? ` (it was ${run.proposal.status} by ${run.proposal.decidedBy})` : ''}.`,
          );
        }
        const decided = await records.patchRun(run, {
          proposal: {
            ...run.proposal,
            status: decision === 'authorise' ? 'authorised' : 'declined',
            decidedBy: actor,
            decidedAt: clock.now(),
            comment,
          },
        });
        await records.audit(actor, `run.rollback.${decision}`, runId, {
          method: run.proposal.method,
          comment,
        });
        emit(
          runId,
          'rollbackDecided',
          `${decision === 'authorise' ? 'authorised' : 'declined'} by ${actor}${comment ? `: ${comment}` : ''}`,
        );
        if (decision === 'decline') return decided;
        await failure.doRollback(decided, actor, run.proposal.method, `authorised by ${actor}`);
        return (await store.getRun(runId)) ?? decided;
      });
    },

    async recordGate(runId, record, actor) {
      const updated = await command(runId, async () => {
        const run = await records.mustGetRun(runId);
        if (isTerminalRun(run.status)) {
          throw new EngineError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
        }
        let next = await records.patchRun(run, { readiness: withGate(run, record) });
        await records.audit(actor, `run.gate.${record.status}`, runId, {
          gate: record.gate,
          reason: record.reason ?? '',
        });
        emit(
          runId,
          record.status === 'waived' ? 'gateWaived' : record.status === 'met' ? 'gateMet' : 'gateFailed',
          `${record.gate} by ${actor}${record.reason ? `: ${record.reason}` : ''}`,
        );
        // Waiving the gate of the failed preparation step it paused on: skip that step and go on.
        const planStep = run.plan.steps[run.currentStep];
        if (record.status === 'waived' && run.status === 'paused' && planStep?.gate === record.gate) {
          await records.updateStep(runId, run.currentStep, {
            status: 'skipped',
            error: null,
            finishedAt: clock.now(),
          });
          next = await records.transition(next, 'running', { failure: null });
        }
        return next;
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? updated;
    },

    async signOff(runId, decision, comment, actor) {
      const result = await command(runId, async () => {
        const run = await records.mustGetRun(runId);
        const planStep = run.plan.steps[run.currentStep];
        if (run.status !== 'waiting-approval' || planStep?.kind !== 'sign-off') {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} is ${run.status}; sign-off is possible only when it waits for the customer's verification.`,
          );
        }
        const now = clock.now();
        await records.audit(actor, `run.sign-off.${decision}`, runId, { comment });
        if (decision === 'approve') {
          await records.updateStep(runId, run.currentStep, {
            status: 'succeeded',
            finishedAt: now,
            error: null,
          });
          emit(runId, 'signedOff', `by ${actor}${comment ? `: ${comment}` : ''}`, {
            stepIndex: run.currentStep,
          });
          return records.transition(run, 'running', { currentStep: run.currentStep + 1 });
        }
        const why = `customer rejected the upgrade${comment ? `: ${comment}` : ''}`;
        await records.updateStep(runId, run.currentStep, { status: 'failed', finishedAt: now, error: why });
        emit(runId, 'signOffRejected', `by ${actor}${comment ? `: ${comment}` : ''}`, {
          stepIndex: run.currentStep,
        });
        return records.transition(run, 'failed', {
          finishedAt: now,
          failure: `${why}. Roll back or start a new run.`,
        });
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? result;
    },

    async skipDrain(runId, serverId, actor) {
      const run = await records.mustGetRun(runId);
      const step = run.plan.steps[run.currentStep];
      if (run.status !== 'running' || !step?.leavesRotation.includes(serverId)) {
        throw new EngineError(
          'PRECONDITION_FAILED',
          `${serverId} is not draining in run ${runId} (current step: ${step ? `${run.currentStep + 1} ${step.title}` : 'none'}, run ${run.status}).`,
        );
      }
      const mode = await lbc.modeFor(run, step);
      if (mode?.mode !== 'runtime') {
        throw new EngineError(
          'PRECONDITION_FAILED',
          `Skipping a drain needs the load balancer's runtime API (rollgate lb configure --socket …); here ${serverId}'s own agent drains it and stops waiting after the drainage interval (${Math.round(lbc.drainMsOf(run, step) / 1000)} s).`,
        );
      }
      // The drain is watched by the run's leader (in its memory): this coordinator becomes it.
      await command(runId, async () => undefined);
      lbc.skipDrain(runId, serverId);
      await records.audit(actor, 'run.skip-drain', runId, { serverId });
      emit(runId, 'draining', `${serverId}: drain skipped by ${actor}`, { serverId, level: 'warn' });
      await kick(runId);
    },
  };
}
