import { besideOwner, type ActionOp, type PlanStep } from '@rollgate/domain';
import type { EngineLogger } from './engine-types';
import type {
  ActionRecord,
  AgentBus,
  Clock,
  LbMode,
  LbServerStatus,
  LoadBalancerPort,
  RunRecord,
  StepRecord,
} from './ports';
import type { Emit } from './run-log';
import { activeServers } from './run-records';
import type { Readmission } from './readmission';
import { stepKey, type StepTimings } from './step-timing';
import type { WakeUps } from './wake-ups';

export interface LbChoreographyContext {
  /** The load balancer in front of the clusters; none: the agents' gates alone. */
  lb: LoadBalancerPort | undefined;
  bus: Pick<AgentBus, 'setGate'>;
  clock: Clock;
  log: EngineLogger;
  emit: Emit;
  wake: Pick<WakeUps, 'watchLb' | 'wakeAt'>;
  timings: StepTimings;
  /** Reports first served requests from the LB state this unit reads anyway (readmission.ts). */
  served: Pick<Readmission, 'noteServed' | 'servedWatch'>;
  /** The failure policy's pause (failure-policy.ts): a switch the LB never confirms. */
  pauseOnFailure: (run: RunRecord, step: StepRecord, planStep: PlanStep, why: string) => Promise<void>;
}

/**
 * The load-balancer choreography of a step up to its agents' work: leave and drain at the LB, park
 * stopped servers in maint, the atomic switch (re-admission is readmission.ts). What this process has done
 * already is remembered here (every call is idempotent, so a coordinator that takes a run over
 * simply does it again).
 */
export function createLbChoreography(ctx: LbChoreographyContext) {
  const { lb, bus, clock, log, emit, wake, timings, pauseOnFailure } = ctx;
  const { noteServed, servedWatch } = ctx.served;
  /** Drains whose servers this process has already set to drain at the LB (idempotent anyway). */
  const leftAtLb = new Set<string>();
  /** Atomic switches this process has made (again after a restart: the exchange is idempotent). */
  const switchedAt = new Map<string, number>();
  /** Switches whose old half has drained and whose agent-checks were resumed. */
  const switchDone = new Set<string>();
  const drainReported = new Map<string, number>();
  const skipDrainFor = new Set<string>();
  /** Steps (run:index:attempt) whose stopping servers were parked in maint at the LB. */
  const parked = new Set<string>();

  async function modeFor(run: RunRecord, step: PlanStep): Promise<LbMode | null> {
    if (!lb || (step.leavesRotation.length === 0 && step.rejoinsRotation.length === 0)) return null;
    return lb.mode(run.plan.cluster);
  }

  /**
   * The ops an action carries, by how the LB is reached: with the runtime API the engine drains at
   * the LB itself (sessions read from the LB), so the agent does not wait again; with gate-only
   * health checks the agent's drain first waits for the LB to notice the closed gate.
   */
  function opsFor(ops: ActionOp[], mode: LbMode | null): ActionOp[] {
    if (mode?.mode === 'runtime') return ops.filter((op) => op.op !== 'drain');
    if (mode?.mode === 'gate-only') {
      return ops.map((op) => (op.op === 'drain' ? { ...op, minWaitMs: mode.detectMs } : op));
    }
    return ops;
  }

  /** How long a step's leaving servers may drain: its drain op's, or the rollout's for a switch. */
  const drainMsOf = (run: RunRecord, step: PlanStep) =>
    step.ops.find((op) => op.op === 'drain')?.maxWaitMs ??
    (step.kind === 'switch' ? (run.plan.rollout?.drainageIntervalSec ?? 30) * 1000 : 0);

  async function leaveAtLb(run: RunRecord, step: StepRecord, planStep: PlanStep) {
    const key = `${run.id}:${step.index}:${step.attempt}`;
    // Close the gates first: an HAProxy agent-check answering "ready" would otherwise undo the drain.
    for (const id of activeServers(run, planStep.leavesRotation)) {
      if (!(await bus.setGate(id, false, `run ${run.id}: leaving rotation`))) {
        log.warn(
          { runId: run.id, serverId: id },
          'agent not connected: its gate closes when the action reaches it',
        );
      }
    }
    await timings.timed(key, () => lb!.leave(run.plan.cluster, activeServers(run, planStep.leavesRotation)));
    if (!leftAtLb.has(key)) {
      leftAtLb.add(key);
      timings.of(key).leftAt = clock.now();
      emit(
        run.id,
        'quiescing',
        `${activeServers(run, planStep.leavesRotation).join(', ')} set to drain at the load balancer; waiting up to ${Math.round(drainMsOf(run, planStep) / 1000)} s for their sessions to end`,
        { stepIndex: step.index },
      );
    }
  }

  /** Runtime mode: true once every leaving server has no sessions, its drain was skipped, or time is up. */
  async function drainedAtLb(run: RunRecord, step: StepRecord, planStep: PlanStep): Promise<boolean> {
    const key = `${run.id}:${step.index}:${step.attempt}`;
    if (!leftAtLb.has(key)) await leaveAtLb(run, step, planStep); // after a restart: idempotent
    const leaving = activeServers(run, planStep.leavesRotation);
    const stats = await lb!.status(run.plan.cluster, [...new Set([...leaving, ...servedWatch(run.id)])]);
    noteServed(run.id, stats);
    const now = clock.now();
    const started = step.startedAt ?? now;
    const elapsed = now - started;
    const busyIn = (st: Map<string, LbServerStatus>) =>
      leaving.filter((id) => (st.get(id)?.sessions ?? 0) > 0 && !skipDrainFor.has(`${run.id}:${id}`));
    const busy = busyIn(stats);
    if (busy.length > 0 && elapsed < drainMsOf(run, planStep)) {
      // Sessions end on their own: watch only the LB's count, and evaluate the moment it is 0.
      wake.watchLb(
        run.id,
        `drain:${key}`,
        started + drainMsOf(run, planStep),
        async () => busyIn(await lb!.status(run.plan.cluster, leaving)).length === 0,
      );
      const last = drainReported.get(key) ?? started;
      if (now - last >= 5000) {
        drainReported.set(key, now);
        emit(
          run.id,
          'draining',
          `${busy.map((id) => `${id} (${stats.get(id)?.sessions ?? 0} sessions)`).join(', ')} after ${Math.round(elapsed / 1000)} s`,
          { stepIndex: step.index },
        );
      }
      return false;
    }
    drainReported.delete(key);
    const timing = timings.of(key);
    if (timing.drainedAt === null) timing.drainedAt = now;
    for (const id of leaving) {
      const left = stats.get(id)?.sessions ?? 0;
      const how = skipDrainFor.delete(`${run.id}:${id}`)
        ? `drain skipped by an operator with ${left} sessions`
        : left > 0
          ? `drainage interval ended with ${left} sessions still open`
          : 'no sessions left';
      emit(run.id, 'draining', `${id} drained in ${(elapsed / 1000).toFixed(1)} s (${how})`, {
        serverId: id,
        stepIndex: step.index,
        level: left > 0 ? 'warn' : 'info',
      });
    }
    return true;
  }

  const isAgent = (id: string) => besideOwner(id) === null;

  /**
   * The atomic strategy's switch. The incoming half (already on the new edition, drained at the LB)
   * gets its gates opened so that the LB's health checks pass while it still gets no traffic; once
   * the LB reports every one of them healthy, ONE runtime-API exchange sets them ready and the
   * outgoing half drained. Then the outgoing half drains its sessions. Every call is idempotent,
   * so a coordinator that took the run over repeats it safely. True once the old half has drained.
   */
  async function switched(
    run: RunRecord,
    step: StepRecord,
    planStep: PlanStep,
    mode: LbMode | null,
  ): Promise<boolean> {
    if (mode?.mode !== 'runtime' || !lb?.switchOver) {
      await pauseOnFailure(
        run,
        step,
        planStep,
        "the atomic switch needs the load balancer's runtime API (rollgate lb configure --socket ...)",
      );
      return false;
    }
    const key = `${run.id}:${step.index}:${step.attempt}`;
    const cluster = run.plan.cluster;
    const incoming = activeServers(run, planStep.rejoinsRotation);
    const outgoing = activeServers(run, planStep.leavesRotation);
    const both = [...incoming, ...outgoing];
    if (!switchedAt.has(key)) {
      // An agent-check answering "ready" to an open gate would put half 1 in early (and, until its
      // gate closes, half 2 back): the LB stops asking until the old half has drained.
      await lb.holdAgentChecks?.(cluster, both, true);
      // A second instance has no gate of its own: the agent checked it healthy before the switch.
      for (const id of incoming.filter(isAgent))
        await bus.setGate(id, true, `run ${run.id}: healthy and drained, ready for the switch`);
      const stats = await lb.status(cluster, incoming);
      const unhealthy = incoming.filter((id) => {
        const st = stats.get(id);
        return !st || !(st.healthy ?? st.up);
      });
      const now = clock.now();
      if (unhealthy.length > 0) {
        if (now - (step.startedAt ?? now) > mode.readmitTimeoutMs) {
          await pauseOnFailure(
            run,
            step,
            planStep,
            `the load balancer does not report ${unhealthy.join(', ')} healthy ${Math.round((now - (step.startedAt ?? now)) / 1000)} s after their gates opened; the switch was NOT made (${outgoing.join(', ')} still serve)`,
          );
          return false;
        }
        wake.watchLb(
          run.id,
          `switch:${key}`,
          (step.startedAt ?? now) + mode.readmitTimeoutMs + 1,
          async () => {
            const st = await lb.status(cluster, incoming);
            return incoming.every((id) => {
              const x = st.get(id);
              return x !== undefined && (x.healthy ?? x.up);
            });
          },
        );
        return false;
      }
      await lb.switchOver(cluster, incoming, outgoing);
      switchedAt.set(key, now);
      // The exchange drained the outgoing half itself: what remains is to wait for its sessions.
      leftAtLb.add(key);
      for (const id of outgoing.filter(isAgent)) await bus.setGate(id, false, `run ${run.id}: switched out`);
      for (const id of outgoing) emit(run.id, 'gateClosed', id, { serverId: id, stepIndex: step.index });
      emit(
        run.id,
        'switched',
        `${incoming.join(', ')} ready and ${outgoing.join(', ')} drained in one exchange: every new request gets ${run.plan.toEdition.name}; waiting up to ${Math.round(drainMsOf(run, planStep) / 1000)} s for the old half's sessions to end`,
        { stepIndex: step.index },
      );
    }
    if (switchDone.has(key)) return true;
    if (!(await drainedAtLb(run, step, planStep))) return false;
    // Only the incoming half answers again. The old half's agents may not have taken the closed
    // wish in yet (it travels on their stream, then is journaled): an agent-check asked before
    // that answers "ready" and puts the old edition back in rotation (seen under load: requests
    // to 1.0 for 100 ms after the switch). The old half's checks resume when it is re-admitted,
    // or put back by an abort.
    await lb.holdAgentChecks?.(cluster, incoming, false);
    switchDone.add(key);
    return true;
  }

  /**
   * Runtime mode, after the drain and before the stop goes out: the servers whose service this
   * step stops are set to maint at the LB, so it stops health-checking a service stopped on
   * purpose (never marks it DOWN) and re-admission needs no `rise` checks. Not a server that a
   * later switch brings back: the switch waits for the LB's own checks to find it healthy, which
   * maint would prevent (its re-admission then relies on `health up`).
   */
  async function parkAtLb(run: RunRecord, step: StepRecord, planStep: PlanStep, actions: ActionRecord[]) {
    const key = stepKey(run.id, step.index, step.attempt);
    if (!lb?.park || parked.has(key)) return;
    const stops = (id: string) =>
      actions.some((a) => a.serverId === id && a.ops.some((op) => op.op === 'stop'));
    const viaSwitch = (id: string) =>
      run.plan.steps.some(
        (s) => s.kind === 'switch' && s.index > step.index && s.rejoinsRotation.includes(id),
      );
    const ids = activeServers(run, planStep.leavesRotation).filter(
      (id) => isAgent(id) && stops(id) && !viaSwitch(id),
    );
    if (ids.length > 0) {
      // An agent-check answer ("drain" while the gate is closed) would take the server out of
      // maint again, and its check would then mark the stopped service DOWN: the LB stops asking
      // until re-admission.
      await timings.timed(key, () => lb.holdAgentChecks?.(run.plan.cluster, ids, true) ?? Promise.resolve());
      await timings.timed(key, () => lb.park!(run.plan.cluster, ids));
      emit(
        run.id,
        'parked',
        `${ids.join(', ')}: drained, set to maint before the service stops (no health checks of a service stopped on purpose; back UP at once when re-admitted)`,
        { stepIndex: step.index },
      );
    }
    parked.add(key);
  }

  return {
    modeFor,
    opsFor,
    drainMsOf,
    leaveAtLb,
    drainedAtLb,
    switched,
    parkAtLb,
    /** The operator ended a server's drain (skipDrain): the next look at the drain lets it go. */
    skipDrain(runId: string, serverId: string) {
      skipDrainFor.add(`${runId}:${serverId}`);
    },
  };
}

export type LbChoreography = ReturnType<typeof createLbChoreography>;
