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
import { fmtMs, type Emit } from './run-log';
import { activeServers } from './run-records';
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
  /** The failure policy's pause (failure-policy.ts): a switch or re-admission the LB never confirms. */
  pauseOnFailure: (run: RunRecord, step: StepRecord, planStep: PlanStep, why: string) => Promise<void>;
}

/**
 * The load-balancer choreography of a step: leave and drain at the LB, park stopped servers in
 * maint, the atomic switch, re-admission and the first served request. What this process has done
 * already is remembered here (every call is idempotent, so a coordinator that takes a run over
 * simply does it again).
 */
export function createLbChoreography(ctx: LbChoreographyContext) {
  const { lb, bus, clock, log, emit, wake, timings, pauseOnFailure } = ctx;
  /** Drains whose servers this process has already set to drain at the LB (idempotent anyway). */
  const leftAtLb = new Set<string>();
  /** Atomic switches this process has made (again after a restart: the exchange is idempotent). */
  const switchedAt = new Map<string, number>();
  /** Switches whose old half has drained and whose agent-checks were resumed. */
  const switchDone = new Set<string>();
  const drainReported = new Map<string, number>();
  const skipDrainFor = new Set<string>();
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
  /** Steps (run:index:attempt) whose stopping servers were parked in maint at the LB. */
  const parked = new Set<string>();

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
    modeFor,
    opsFor,
    drainMsOf,
    leaveAtLb,
    drainedAtLb,
    switched,
    parkAtLb,
    readmitted,
    reportServedAtEnd,
    /** The operator ended a server's drain (skipDrain): the next look at the drain lets it go. */
    skipDrain(runId: string, serverId: string) {
      skipDrainFor.add(`${runId}:${serverId}`);
    },
    /** The step's re-admission is over (it succeeded): a retry would start a new one. */
    readmitDone(runId: string, index: number) {
      readmitting.delete(`${runId}:${index}`);
    },
  };
}

export type LbChoreography = ReturnType<typeof createLbChoreography>;
