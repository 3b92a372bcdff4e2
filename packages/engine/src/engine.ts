import { isTerminalRun, type RunStatus } from '@rollgate/domain';
import { createAgentEvents } from './agent-events';
import { createCommands } from './commands';
import { createDispatch } from './dispatch';
import type { Engine, EngineOptions } from './engine-types';
import { createEvaluate } from './evaluate';
import { createEvidenceOf } from './evidence';
import { createFailurePolicy } from './failure-policy';
import { createKick } from './kick';
import { createLbChoreography } from './lb-choreography';
import { createLeaseKeeper } from './leases';
import { createLiveCapacity } from './live-capacity';
import { createNewRun } from './new-run';
import { createReadmission } from './readmission';
import { createRunLog } from './run-log';
import { createRunQueue } from './run-queue';
import { createRunRecords } from './run-records';
import { createStepTimings } from './step-timing';
import { createTick } from './tick';
import { createWakeUps } from './wake-ups';

export {
  EngineError,
  type ActionUpdateInput,
  type CreateRunOptions,
  type Engine,
  type EngineLogger,
  type EngineOptions,
} from './engine-types';

const ACTIVE: RunStatus[] = ['running', 'waiting-approval', 'paused'];

/**
 * Executes plans durably. Every transition is persisted before its side effect is dispatched;
 * action ids are deterministic, so re-sending after a restart is safe (agents answer from their
 * journal). All changes to one run are serialised through a per-run queue (run-queue.ts).
 *
 * This function only wires the units; each one reads alone: leases.ts (who leads a run),
 * run-queue.ts and kick.ts (one change at a time per run), evaluate.ts (moving a run on),
 * live-capacity.ts (the capacity floor, a domain rule), lb-choreography.ts and readmission.ts (the
 * load balancer's part of a step), failure-policy.ts (pause, roll back, put back), commands.ts (operators),
 * agent-events.ts (agents), tick.ts (the periodic look).
 */
export function createEngine(opts: EngineOptions): Engine {
  const { store, bus, clock, log, lb } = opts;
  const tickMs = opts.tickMs ?? 250;
  const holder = opts.holder ?? 'local';
  const leaseRenewMs = opts.leaseRenewMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  const emit = createRunLog({ clock, sink: opts.emit });
  const queue = createRunQueue();
  const leases = createLeaseKeeper({
    leases: opts.leases,
    holder,
    ttlMs: opts.leaseTtlMs ?? 3000,
    clock,
    log,
    store,
    busy: queue.busy,
  });
  const records = createRunRecords({ store, clock, fenceOf: leases.fenceOf });
  // The units that re-evaluate a run are made before kick itself, which needs them: bound late.
  const kick = (runId: string) => kickRun(runId);
  const wake = createWakeUps({ clock, kick });
  const newRun = createNewRun({ store, clock, emit, audit: records.audit, newRunId: opts.newRunId });
  const dispatch = createDispatch({ store, bus, clock, emit, fenceOf: leases.fenceOf });
  const timings = createStepTimings({ clock, emit });
  const failure = createFailurePolicy({
    store,
    bus,
    lb,
    clock,
    log,
    emit,
    records,
    queue,
    leases,
    wake,
    newRun,
    kick,
    agentLostTimeoutMs: opts.agentLostTimeoutMs ?? 300_000,
  });
  const pauseOnFailure = failure.pauseOnFailure;
  const readmission = createReadmission({ lb, clock, emit, wake, timings, pauseOnFailure });
  const lbc = createLbChoreography({
    lb,
    bus,
    clock,
    log,
    emit,
    wake,
    timings,
    served: readmission,
    pauseOnFailure,
  });
  const evaluate = createEvaluate({
    store,
    clock,
    emit,
    records,
    fenceOf: leases.fenceOf,
    capacityProblem: createLiveCapacity({ store, bus, lb }),
    capacityHoldMs: opts.capacityHoldMs ?? 120_000,
    lbc,
    readmission,
    failure,
    dispatch,
    timings,
    evidenceOf: createEvidenceOf({ clock, emit }),
  });
  const kickRun = createKick({
    store,
    log,
    emit,
    queue,
    leases,
    holder,
    evaluate,
    pauseForLb: failure.pauseForLb,
  });
  const tick = createTick({
    store,
    clock,
    emit,
    records,
    queue,
    leases,
    failure,
    kick,
    precheck: opts.precheck,
  });
  const commands = createCommands({
    store,
    bus,
    clock,
    emit,
    records,
    queue,
    leases,
    failure,
    lbc,
    newRun,
    kick,
  });
  const agentEvents = createAgentEvents({
    store,
    bus,
    clock,
    emit,
    queue,
    leases,
    dispatch,
    kick,
    notifyLeader: opts.notifyLeader,
  });

  return {
    async start() {
      stopped = false;
      wake.start();
      for (const entry of await store.openLedger()) {
        const owner = await store.getRun(entry.runId);
        if (owner && isTerminalRun(owner.status)) {
          emit(
            entry.runId,
            'gateLeftClosed',
            `${entry.serverId}: still out of rotation since run ${entry.runId} ended (${owner.status})`,
            { serverId: entry.serverId },
          );
          log.warn(
            { runId: entry.runId, serverId: entry.serverId },
            'server left out of rotation by an ended run',
          );
        }
      }
      const runs = await store.listRuns({ statuses: ACTIVE });
      for (const r of runs) {
        if (r.status === 'running') {
          // With leases, the coordinator that takes the run over says so (see kick.ts).
          if (!opts.leases) emit(r.id, 'runRecovered', `at step ${r.currentStep + 1}/${r.plan.steps.length}`);
          void kick(r.id);
        }
      }
      const renewLoop = () => {
        if (stopped || !opts.leases) return;
        renewTimer = setTimeout(() => {
          leases
            .renew()
            .catch((err: unknown) => log.error({ err }, 'run lease renewal failed'))
            .finally(renewLoop);
        }, leaseRenewMs);
      };
      renewLoop();
      const loop = () => {
        if (stopped) return;
        timer = setTimeout(() => {
          tick()
            .catch((err: unknown) => log.error({ err }, 'engine tick failed'))
            .finally(loop);
        }, tickMs);
      };
      loop();
    },

    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake.stop();
      if (renewTimer) clearTimeout(renewTimer);
      await queue.idle();
      // A clean stop hands the runs over at once instead of after the lease's TTL.
      await leases.releaseAll();
    },

    leads: leases.leadsNow,
    settled: queue.settled,
    ...commands,
    ...agentEvents,
    kick,
  };
}
