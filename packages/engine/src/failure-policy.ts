import {
  isLbUnreachableFailure,
  isTerminalRun,
  type GateRecord,
  type LbUnreachableError,
  type PlanStep,
  type RollbackMethod,
} from '@rollgate/domain';
import { EngineError, type EngineLogger } from './engine-types';
import type { LeaseKeeper } from './leases';
import type { NewRun } from './new-run';
import type {
  ActionRecord,
  AgentBus,
  Clock,
  EngineStore,
  LoadBalancerPort,
  RunRecord,
  StepRecord,
} from './ports';
import { planRollback, rollbackChoices } from './rollback';
import type { Emit } from './run-log';
import type { RunQueue } from './run-queue';
import { withGate, type RunRecords } from './run-records';
import type { WakeUps } from './wake-ups';

export interface FailurePolicyContext {
  store: EngineStore;
  bus: Pick<AgentBus, 'isConnected' | 'setGate' | 'cancel'>;
  lb: LoadBalancerPort | undefined;
  clock: Clock;
  log: EngineLogger;
  emit: Emit;
  records: RunRecords;
  queue: Pick<RunQueue, 'serial'>;
  leases: Pick<LeaseKeeper, 'lead'>;
  wake: Pick<WakeUps, 'recheckSoon'>;
  newRun: NewRun;
  /** Evaluates a run (the rollback run just started, a run its balancer let go on). */
  kick: (runId: string) => Promise<void>;
  /** How long an agent may stay lost with an action of a running step before it counts as failed, ms. */
  agentLostTimeoutMs: number;
}

/**
 * What happens when something goes wrong: a lost agent's action fails after a while, a failed
 * step pauses the run (and rolls back by policy, or proposes a rollback when the window runs
 * short), an abort puts back what the run took out, an unreachable balancer pauses the run until
 * it answers again.
 */
export function createFailurePolicy(ctx: FailurePolicyContext) {
  const { store, bus, lb, clock, log, emit, records, queue, leases, wake, newRun, kick } = ctx;
  const { agentLostTimeoutMs } = ctx;

  /**
   * An agent that went silent with an action of this step in hand (SIGKILL, a dead host, a long
   * partition) does not hold the run forever: once it has been lost for agentLostTimeoutMs the
   * action counts as failed, so the step's policy applies. Returns true when it failed one.
   */
  async function failLostActions(run: RunRecord, actions: ActionRecord[]): Promise<boolean> {
    const open = actions.filter((a) => ['dispatched', 'accepted', 'running'].includes(a.status));
    if (open.length === 0) return false;
    const now = clock.now();
    let failedOne = false;
    for (const a of open) {
      if (bus.isConnected(a.serverId)) continue;
      const server = await store.getServer(a.serverId);
      if (!server || server.status === 'connected') continue;
      const since = server.lastHeartbeatAt ?? a.dispatchedAt ?? a.createdAt;
      if (now - since < agentLostTimeoutMs) {
        wake.recheckSoon(run.id, Math.min(5000, agentLostTimeoutMs - (now - since) + 50));
        continue;
      }
      const why = `agent ${a.serverId} has been ${server.status} for ${Math.round((now - since) / 1000)} s while running this action; its journal will tell what happened when it is back`;
      if (
        await records.updateAction(run.id, a.id, ['dispatched', 'accepted', 'running'], {
          status: 'failed',
          error: why,
          finishedAt: now,
        })
      ) {
        emit(run.id, 'actionFailed', `${a.serverId}: ${why}`, {
          serverId: a.serverId,
          stepIndex: a.stepIndex,
          actionId: a.id,
        });
        failedOne = true;
      }
    }
    return failedOne;
  }

  /**
   * After an abort: every server this run took out of rotation goes back if its service is
   * healthy (gate opened, LB set ready); the others are reported as left out, loudly.
   */
  async function putBackOrReport(run: RunRecord) {
    const out = await store.openLedger(run.id);
    if (out.length === 0) return;
    const servers = new Map((await store.listServers({ cluster: run.plan.cluster })).map((s) => [s.id, s]));
    const back: string[] = [];
    const left: string[] = [];
    for (const entry of out) {
      const srv = servers.get(entry.serverId);
      const healthy =
        srv?.status === 'connected' &&
        srv.services.some((s) => s.name === run.plan.service && s.health === 'healthy');
      if (healthy && (await bus.setGate(entry.serverId, true, `run ${run.id} aborted: back in rotation`))) {
        back.push(entry.serverId);
      } else {
        const why =
          srv?.status !== 'connected'
            ? `agent ${srv?.status ?? 'unknown'}`
            : `${run.plan.service} not healthy`;
        left.push(`${entry.serverId} (${why})`);
      }
    }
    if (back.length > 0) {
      const mode = lb ? await lb.mode(run.plan.cluster) : null;
      if (mode?.mode === 'runtime') {
        await lb!.rejoin(run.plan.cluster, back);
        await lb!.holdAgentChecks?.(run.plan.cluster, back, false);
      }
      const at = clock.now();
      for (const id of back) {
        await records.reopenLedger(run.id, run.id, id, at);
        emit(run.id, 'gateOpened', `${id}: put back in rotation after the abort`, { serverId: id });
      }
    }
    if (left.length > 0) {
      emit(
        run.id,
        'gateLeftClosed',
        `${left.join(', ')}: left out of rotation by this run; start the service and rejoin it, or run the upgrade again`,
      );
    }
  }

  async function pauseOnFailure(
    run: RunRecord,
    step: StepRecord,
    planStep: PlanStep,
    why: string,
  ): Promise<void> {
    await records.updateStep(run.id, step.index, { status: 'failed', finishedAt: clock.now(), error: why });
    let latest = run;
    if (planStep.gate) {
      const record: GateRecord = {
        gate: planStep.gate,
        required: run.readiness.find((g) => g.gate === planStep.gate)?.required ?? true,
        status: 'failed',
        evidence: { step: planStep.key, error: why },
        by: 'rollgate',
        at: clock.now(),
      };
      latest = await records.patchRun(run, { readiness: withGate(run, record) });
      emit(run.id, 'gateFailed', `${planStep.gate}: ${why}`, { stepIndex: step.index });
    }
    const r = run.id;
    const choices = [
      `retry the step (\`rollgate upgrade resume ${r}\`)`,
      ...(planStep.servers.length > 0
        ? [
            `skip the failed server for this step (\`rollgate upgrade skip ${r} <server>\`)`,
            `exclude it from the rest of the run (\`rollgate upgrade exclude ${r} <server>\`)`,
          ]
        : []),
      ...(planStep.gate
        ? [
            `waive the "${planStep.gate}" gate with a reason (\`rollgate upgrade waive ${r} ${planStep.gate} --reason …\`)`,
          ]
        : []),
      ...(run.plan.procedure !== 'rollback' ? [`roll back (\`rollgate upgrade rollback ${r}\`)`] : []),
      `abort (\`rollgate upgrade abort ${r}\`)`,
    ];
    const failure = `Step ${step.index + 1} "${planStep.title}" failed: ${why}. Review the deployment log, correct the cause, then ${choices.join(', ')}.`;
    const paused = await records.transition(latest, 'paused', { failure });
    emit(run.id, 'stepFailed', `${planStep.title}: ${why}`, { stepIndex: step.index });
    emit(run.id, 'runFailedPaused', failure, { stepIndex: step.index });
    const out = await store.openLedger(run.id);
    if (out.length > 0) {
      emit(run.id, 'gateLeftClosed', out.map((l) => l.serverId).join(', '), { level: 'warn' });
    }
    // Preparation has touched nothing yet: there is nothing to roll back before the window begins.
    const touched = planStep.phase !== 'preparation';
    if (touched && paused.options.onFailure === 'rollback' && paused.plan.procedure !== 'rollback') {
      try {
        await doRollback(paused, 'rollgate (policy: roll back on failure)', undefined, why);
      } catch (err) {
        emit(run.id, 'runFailedPaused', `automatic rollback impossible: ${(err as Error).message}`, {
          stepIndex: step.index,
        });
      }
      return;
    }
    if (touched) await maybePropose(paused);
  }

  /**
   * The seed's rule: with less than an hour of the agreed window left (or less than the rollback
   * would take), a paused run proposes the recommended rollback and asks for authorisation.
   */
  async function maybePropose(run: RunRecord): Promise<void> {
    const end = run.options.windowEndsAt;
    if (run.status !== 'paused' || run.proposal || end === null || run.plan.procedure === 'rollback') return;
    const now = clock.now();
    const choice = (await rollbackChoices(store, run)).find((c) => c.recommended && c.applicable);
    if (!choice) return;
    const left = end - now;
    const threshold = Math.max(run.options.rollbackAlertMs, choice.estimateMinutes * 60_000);
    if (left >= threshold) return;
    const mins = Math.max(0, Math.floor(left / 60_000));
    const reason = `${mins} min of the upgrade window left (it ends at ${new Date(end).toISOString()}); rolling back by "${choice.method}" takes about ${choice.estimateMinutes} min`;
    await records.patchRun(run, {
      proposal: {
        method: choice.method,
        estimateMinutes: choice.estimateMinutes,
        reason,
        proposedAt: now,
        status: 'awaiting',
        decidedBy: null,
        decidedAt: null,
        comment: '',
        rollbackRunId: null,
      },
    });
    emit(run.id, 'windowLow', reason);
    emit(
      run.id,
      'rollbackProposed',
      `${choice.method} (~${choice.estimateMinutes} min): ${choice.why}. Authorise it with \`rollgate upgrade authorise-rollback ${run.id}\` or in the customer portal, or decline it to keep investigating`,
    );
  }

  /** Ends `run` (its servers stay where they are) and starts the rollback run that takes them over. */
  async function doRollback(
    run: RunRecord,
    actor: string,
    method: RollbackMethod | undefined,
    reason: string | undefined,
  ): Promise<RunRecord> {
    if (run.status === 'pending') {
      throw new EngineError('PRECONDITION_FAILED', `Run ${run.id} has not started; abort it instead.`);
    }
    const existing = (await store.listRuns({})).find((r) => r.parentRunId === run.id);
    if (existing) {
      throw new EngineError(
        'CONFLICT',
        `Run ${run.id} is already being rolled back by run ${existing.id} (${existing.status}).`,
      );
    }
    let planned: Awaited<ReturnType<typeof planRollback>>;
    try {
      planned = await planRollback(store, run, method);
    } catch (err) {
      throw new EngineError('PRECONDITION_FAILED', (err as Error).message);
    }
    const { plan, choice } = planned;
    for (const a of await store.getActions(run.id)) {
      if (a.status === 'pending') {
        await records.updateAction(run.id, a.id, ['pending'], {
          status: 'cancelled',
          finishedAt: clock.now(),
        });
      } else if (a.status === 'dispatched' || a.status === 'accepted' || a.status === 'running') {
        bus.cancel(a.serverId, a.id, `run rolled back by ${actor}`);
      }
    }
    const why = `rolled back by ${actor} (${choice.method})${reason ? `: ${reason}` : ''}`;
    const ended = isTerminalRun(run.status)
      ? run
      : await records.transition(run, 'aborted', { finishedAt: clock.now(), failure: why });
    const rb = await newRun(plan, actor, {
      parentRunId: run.id,
      options: { backupLabel: run.options.backupLabel, windowEndsAt: run.options.windowEndsAt },
    });
    if (ended.proposal) {
      await records
        .patchRun(ended, { proposal: { ...ended.proposal, rollbackRunId: rb.id } })
        .catch(() => undefined);
    }
    await records.audit(actor, 'run.rollback', run.id, {
      method: choice.method,
      rollbackRun: rb.id,
      estimateMinutes: choice.estimateMinutes,
      reason: reason ?? '',
    });
    emit(
      run.id,
      'rollbackStarted',
      `${why}; run ${rb.id} restores ${plan.toEdition.name} (~${choice.estimateMinutes} min estimated)`,
    );
    void kick(rb.id);
    return rb;
  }

  /**
   * A balancer did not answer: the run pauses with its message (which names it and what to do),
   * and tick() resumes it by itself once every balancer answers again (the LB calls are idempotent).
   */
  async function pauseForLb(runId: string, err: LbUnreachableError): Promise<void> {
    await queue
      .serial(runId, async () => {
        const run = await store.getRun(runId);
        if (run?.status !== 'running') return;
        await records.transition(run, 'paused', { failure: err.message });
        emit(runId, 'runPaused', err.message, { level: 'error' });
      })
      .catch((e: unknown) => log.error({ err: e, runId }, 'pausing the run for its load balancer failed'));
  }

  /** A run paused for an unreachable balancer goes on once the balancer answers (status succeeds). */
  async function resumeIfLbBack(run: RunRecord): Promise<void> {
    if (!lb) return;
    const resumed = await queue.serial(run.id, async () => {
      if (!(await leases.lead(run.id))) return false;
      const current = await store.getRun(run.id);
      if (current?.status !== 'paused' || !isLbUnreachableFailure(current.failure)) return false;
      const ids = current.plan.groups.flatMap((g) => g.servers.map((s) => s.id));
      try {
        await lb.status(current.plan.cluster, ids);
      } catch {
        return false; // still not answering (or not as configured): stay paused, ask again next tick
      }
      await records.transition(current, 'running', { failure: null });
      emit(run.id, 'runResumed', 'by rollgate: every load balancer answers again');
      return true;
    });
    if (resumed) await kick(run.id);
  }

  return {
    failLostActions,
    putBackOrReport,
    pauseOnFailure,
    maybePropose,
    doRollback,
    pauseForLb,
    resumeIfLbBack,
  };
}

export type FailurePolicy = ReturnType<typeof createFailurePolicy>;
