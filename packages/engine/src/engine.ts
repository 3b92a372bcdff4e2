import {
  actionId as makeActionId,
  canTransitionRun,
  isTerminalRun,
  MSG,
  type ActionStatus,
  type MessageKey,
  type Plan,
  type PlanStep,
  type RunStatus,
} from '@rollgate/domain';
import type { ActionOp } from '@rollgate/domain';
import type {
  ActionRecord,
  AgentBus,
  Clock,
  EngineStore,
  LbMode,
  LoadBalancerPort,
  LogLevel,
  LogRecord,
  RunRecord,
  StepRecord,
} from './ports';

/** The structured logger the engine writes its own diagnostics to (pino satisfies it). */
export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EngineOptions {
  store: EngineStore;
  bus: AgentBus;
  clock: Clock;
  /** Receives the run's log records (batched into the store by the caller). */
  emit: (record: LogRecord) => void;
  log: EngineLogger;
  /** Makes a new run id; injected so the engine stays free of randomness. */
  newRunId: () => string;
  /** The load balancer in front of the clusters; default none (the agents' gates alone). */
  lb?: LoadBalancerPort;
  /** How often every active run is re-evaluated, in ms; default 250 (drains are timed by it). */
  tickMs?: number;
  /** How long a step may be held by the capacity floor before the run pauses, in ms; default 120000. */
  capacityHoldMs?: number;
}

/** An engine-level refusal with a message meant for the operator. */
export class EngineError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'PRECONDITION_FAILED' | 'CONFLICT',
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface ActionUpdateInput {
  actionId: string;
  status: Exclude<ActionStatus, 'pending' | 'dispatched'>;
  reason: string;
  atMs: number;
}

export interface Engine {
  start(): Promise<void>;
  stop(): Promise<void>;
  createRun(plan: Plan, actor: string): Promise<RunRecord>;
  pause(runId: string, actor: string, reason?: string): Promise<RunRecord>;
  resume(runId: string, actor: string): Promise<RunRecord>;
  abort(runId: string, actor: string, reason?: string): Promise<RunRecord>;
  signOff(runId: string, decision: 'approve' | 'reject', comment: string, actor: string): Promise<RunRecord>;
  onActionUpdate(update: ActionUpdateInput): Promise<void>;
  onAgentConnected(serverId: string): Promise<void>;
  onAgentLost(serverId: string): Promise<void>;
  /** Ends the drain of a server that is stuck with sessions (the operator's call; audited). */
  skipDrain(runId: string, serverId: string, actor: string): Promise<void>;
  /** Re-evaluates a run now (and serially with every other change to it). */
  kick(runId: string): Promise<void>;
}

const ACTIVE: RunStatus[] = ['running', 'waiting-approval', 'paused'];

/**
 * Executes plans durably. Every transition is persisted before its side effect is dispatched;
 * action ids are deterministic, so re-sending after a restart is safe (agents answer from their
 * journal). All changes to one run are serialised through a per-run queue.
 */
export function createEngine(opts: EngineOptions): Engine {
  const { store, bus, clock, log } = opts;
  const tickMs = opts.tickMs ?? 250;
  const lb = opts.lb;
  /** Drains whose servers this process has already set to drain at the LB (idempotent anyway). */
  const leftAtLb = new Set<string>();
  const drainReported = new Map<string, number>();
  const skipDrainFor = new Set<string>();
  /** Re-admissions in progress: when the LB was told, and each server's session count then. */
  const rejoining = new Map<string, { at: number; baseline: Map<string, number> }>();
  const capacityHoldMs = opts.capacityHoldMs ?? 120_000;
  const queues = new Map<string, Promise<unknown>>();
  const heldSince = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** Waiting on the load balancer: look again soon rather than at the next tick. */
  function recheckSoon(runId: string, ms = 50) {
    if (stopped) return;
    setTimeout(() => void kick(runId), ms).unref();
  }

  function emit(
    run: string | null,
    key: MessageKey,
    detail: string,
    extra: { level?: LogLevel; serverId?: string; stepIndex?: number; actionId?: string } = {},
  ): void {
    const m = MSG[key];
    const level: LogLevel =
      extra.level ?? (m.code.endsWith('E') ? 'error' : m.code.endsWith('W') ? 'warn' : 'info');
    opts.emit({
      runId: run,
      actionId: extra.actionId ?? null,
      serverId: extra.serverId ?? null,
      stepIndex: extra.stepIndex ?? null,
      at: clock.now(),
      level,
      code: m.code,
      message: detail ? `${m.text}: ${detail}` : m.text,
      source: 'engine',
    });
  }

  /** Runs fn after everything already queued for this run; errors are logged, not lost. */
  function serial<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(runId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    queues.set(runId, settled);
    void settled.then(() => {
      if (queues.get(runId) === settled) queues.delete(runId);
    });
    return next;
  }

  async function mustGetRun(runId: string): Promise<RunRecord> {
    const run = await store.getRun(runId);
    if (!run) throw new EngineError('NOT_FOUND', `No run "${runId}".`);
    return run;
  }

  async function transition(
    run: RunRecord,
    to: RunStatus,
    patch: Partial<Omit<RunRecord, 'id' | 'version'>> = {},
  ): Promise<RunRecord> {
    if (run.status !== to && !canTransitionRun(run.status, to)) {
      throw new EngineError('PRECONDITION_FAILED', `Run ${run.id} is ${run.status}; it cannot become ${to}.`);
    }
    const updated = await store.updateRun(run.id, run.version, { ...patch, status: to });
    if (!updated) {
      throw new EngineError('CONFLICT', `Run ${run.id} changed while this request was handled; try again.`);
    }
    return updated;
  }

  async function dispatch(run: RunRecord, action: ActionRecord): Promise<void> {
    const sent = bus.dispatch(action.serverId, {
      actionId: action.id,
      runId: action.runId,
      stepIndex: action.stepIndex,
      attempt: action.attempt,
      ops: action.ops,
    });
    if (sent && action.status === 'pending') {
      await store.updateAction(action.id, ['pending'], { status: 'dispatched', dispatchedAt: clock.now() });
      emit(run.id, 'actionDispatched', action.id, {
        serverId: action.serverId,
        stepIndex: action.stepIndex,
        actionId: action.id,
      });
    }
  }

  /** Checks the capacity floor before a step takes servers out of rotation; returns why not, or null. */
  async function capacityProblem(run: RunRecord, step: PlanStep): Promise<string | null> {
    if (step.leavesRotation.length === 0) return null;
    const open = await store.openLedger();
    const out = new Set(open.map((l) => l.serverId));
    for (const s of step.leavesRotation) out.add(s);
    if (out.size > run.plan.maxOutOfRotation) {
      return `${out.size} servers would be out of rotation (${[...out].join(', ')}); at most ${run.plan.maxOutOfRotation} may be`;
    }
    const servers = await store.listServers({ cluster: run.plan.cluster });
    const roles = new Set(servers.filter((s) => step.leavesRotation.includes(s.id)).map((s) => s.role));
    for (const role of roles) {
      const serving = servers.filter(
        (s) => s.role === role && !out.has(s.id) && s.status === 'connected' && s.gateOpen,
      );
      if (serving.length === 0) {
        return `no other healthy "${role}" server is in rotation, so taking ${step.leavesRotation.join(', ')} out would stop the service`;
      }
    }
    return null;
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
      if (healthy && bus.setGate(entry.serverId, true, `run ${run.id} aborted: back in rotation`)) {
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
      if (mode?.mode === 'runtime') await lb!.rejoin(run.plan.cluster, back);
      const at = clock.now();
      for (const id of back) {
        await store.reopenLedger(run.id, id, at);
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
    await store.updateStep(run.id, step.index, { status: 'failed', finishedAt: clock.now(), error: why });
    const failure = `Step ${step.index + 1} "${planStep.title}" failed: ${why}. Fix the cause, then \`rollgate upgrade resume ${run.id}\` to retry the step, or \`rollgate upgrade abort ${run.id}\`.`;
    await transition(run, 'paused', { failure });
    emit(run.id, 'stepFailed', `${planStep.title}: ${why}`, { stepIndex: step.index });
    emit(run.id, 'runFailedPaused', failure, { stepIndex: step.index });
    const out = await store.openLedger(run.id);
    if (out.length > 0) {
      emit(run.id, 'gateLeftClosed', out.map((l) => l.serverId).join(', '), { level: 'warn' });
    }
  }

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

  const drainMsOf = (step: PlanStep) => step.ops.find((op) => op.op === 'drain')?.maxWaitMs ?? 0;

  async function leaveAtLb(run: RunRecord, step: StepRecord, planStep: PlanStep) {
    const key = `${run.id}:${step.index}:${step.attempt}`;
    // Close the gates first: an HAProxy agent-check answering "ready" would otherwise undo the drain.
    for (const id of planStep.leavesRotation) {
      if (!bus.setGate(id, false, `run ${run.id}: leaving rotation`)) {
        log.warn(
          { runId: run.id, serverId: id },
          'agent not connected: its gate closes when the action reaches it',
        );
      }
    }
    await lb!.leave(run.plan.cluster, planStep.leavesRotation);
    if (!leftAtLb.has(key)) {
      leftAtLb.add(key);
      emit(
        run.id,
        'quiescing',
        `${planStep.leavesRotation.join(', ')} set to drain at the load balancer; waiting up to ${Math.round(drainMsOf(planStep) / 1000)} s for their sessions to end`,
        { stepIndex: step.index },
      );
    }
  }

  /** Runtime mode: true once every leaving server has no sessions, its drain was skipped, or time is up. */
  async function drainedAtLb(run: RunRecord, step: StepRecord, planStep: PlanStep): Promise<boolean> {
    const key = `${run.id}:${step.index}:${step.attempt}`;
    if (!leftAtLb.has(key)) await leaveAtLb(run, step, planStep); // after a restart: idempotent
    const stats = await lb!.status(run.plan.cluster, planStep.leavesRotation);
    const now = clock.now();
    const started = step.startedAt ?? now;
    const elapsed = now - started;
    const busy = planStep.leavesRotation.filter(
      (id) => (stats.get(id)?.sessions ?? 0) > 0 && !skipDrainFor.has(`${run.id}:${id}`),
    );
    if (busy.length > 0 && elapsed < drainMsOf(planStep)) {
      recheckSoon(run.id, 100);
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
    for (const id of planStep.leavesRotation) {
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

  /**
   * A server counts as back only when the load balancer has it up and it has served a request
   * (runtime), or when the LB has had time to see its open gate (gate-only).
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
    if (mode.mode === 'gate-only') {
      const done = Math.max(...actions.map((a) => a.finishedAt ?? now));
      return now >= done + mode.readmitMs;
    }
    const key = `${run.id}:${step.index}`;
    let state = rejoining.get(key);
    if (!state) {
      const before = await lb!.status(run.plan.cluster, ids);
      // Health was verified by the action (waitHealthy) before the LB is told to send traffic.
      await lb!.rejoin(run.plan.cluster, ids);
      state = { at: now, baseline: new Map(ids.map((id) => [id, before.get(id)?.totalSessions ?? 0])) };
      rejoining.set(key, state);
      recheckSoon(run.id);
      emit(
        run.id,
        'gateOpened',
        `${ids.join(', ')} set ready at the load balancer; waiting for each to serve a request`,
        { stepIndex: step.index },
      );
      return false;
    }
    const baseline = state.baseline;
    const stats = await lb!.status(run.plan.cluster, ids);
    const waiting = ids.filter((id) => {
      const st = stats.get(id);
      return !st || !st.up || st.totalSessions <= (baseline.get(id) ?? 0);
    });
    if (waiting.length === 0) return true;
    if (now - state.at < mode.readmitTimeoutMs) {
      recheckSoon(run.id);
      return false;
    }
    const down = waiting.filter((id) => !stats.get(id)?.up);
    if (down.length > 0) {
      rejoining.delete(key);
      await pauseOnFailure(
        run,
        step,
        planStep,
        `the load balancer does not report ${down.join(', ')} up ${Math.round((now - state.at) / 1000)} s after re-admission`,
      );
      return false;
    }
    emit(
      run.id,
      'gateOpened',
      `${waiting.join(', ')} up at the load balancer but served no request within ${Math.round(mode.readmitTimeoutMs / 1000)} s (no traffic?); continuing`,
      { stepIndex: step.index, level: 'warn' },
    );
    return true;
  }

  async function evaluate(runId: string): Promise<void> {
    for (let guard = 0; guard < 1000; guard++) {
      const run = await store.getRun(runId);
      if (!run || run.status !== 'running') return;
      const steps = await store.getSteps(runId);
      const step = steps.find((s) => s.index === run.currentStep);
      const planStep = run.plan.steps[run.currentStep];
      if (!step || !planStep) {
        await transition(run, 'succeeded', { finishedAt: clock.now(), failure: null });
        emit(
          run.id,
          'runCompleted',
          `${run.plan.service} ${run.plan.toEdition.name} on cluster ${run.plan.cluster}`,
        );
        return;
      }
      if (step.status === 'succeeded' || step.status === 'skipped') {
        await transition(run, 'running', { currentStep: run.currentStep + 1 });
        continue;
      }
      if (step.status === 'failed') {
        await transition(run, 'paused', { failure: run.failure ?? step.error ?? 'step failed' });
        return;
      }
      if (step.status === 'pending') {
        if (planStep.kind === 'sign-off') {
          await store.updateStep(run.id, step.index, { status: 'running', startedAt: clock.now() });
          await transition(run, 'waiting-approval');
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
            await pauseOnFailure(
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
        const lbMode = await modeFor(run, planStep);
        const ops = opsFor(planStep.ops, lbMode);
        const actions: ActionRecord[] = planStep.servers.map((serverId) => ({
          id: makeActionId(run.id, step.index, serverId, attempt),
          runId: run.id,
          stepIndex: step.index,
          serverId,
          attempt,
          ops,
          status: 'pending',
          error: null,
          createdAt: now,
          dispatchedAt: null,
          finishedAt: null,
        }));
        const ledger = planStep.leavesRotation.map((serverId) => ({
          runId: run.id,
          serverId,
          stepIndex: step.index,
          closedAt: now,
          reopenedAt: null,
        }));
        // Durable before effect: the step, its actions and the ledger are committed first.
        await store.startStep(run.id, step.index, attempt, now, actions, ledger);
        emit(run.id, 'stepStarted', `${step.index + 1}/${run.plan.steps.length} ${planStep.title}`, {
          stepIndex: step.index,
        });
        for (const serverId of planStep.leavesRotation) {
          emit(run.id, 'gateClosed', serverId, { serverId, stepIndex: step.index });
        }
        if (lbMode?.mode === 'runtime' && planStep.leavesRotation.length > 0) {
          // The engine drains at the load balancer first; the actions go out once sessions are 0.
          await leaveAtLb(run, { ...step, attempt, startedAt: now }, planStep);
          continue;
        }
        for (const a of actions) await dispatch(run, a);
        if (actions.length > 0) return;
        continue; // a step without agent work (none today) completes at once
      }
      // running
      const actions = (await store.getActions(run.id, step.index)).filter((a) => a.attempt === step.attempt);
      const failed = actions.find((a) => a.status === 'failed' || a.status === 'cancelled');
      if (failed) {
        await pauseOnFailure(run, step, planStep, `${failed.serverId}: ${failed.error ?? failed.status}`);
        return;
      }
      const lbMode = await modeFor(run, planStep);
      if (
        lbMode?.mode === 'runtime' &&
        planStep.leavesRotation.length > 0 &&
        actions.some((a) => a.status === 'pending')
      ) {
        if (!(await drainedAtLb(run, step, planStep))) return;
        for (const a of actions) if (a.status === 'pending') await dispatch(run, a);
        return;
      }
      if (actions.length > 0 && actions.every((a) => a.status === 'succeeded')) {
        if (
          planStep.rejoinsRotation.length > 0 &&
          lbMode &&
          !(await readmitted(run, step, planStep, actions, lbMode))
        ) {
          return;
        }
        rejoining.delete(`${run.id}:${step.index}`);
        const now = clock.now();
        // A server back in rotation closes every open entry about it, also those an earlier
        // (aborted) run left, so the capacity floor counts it as serving again.
        const stillOut = await store.openLedger();
        for (const serverId of planStep.rejoinsRotation) {
          for (const e of stillOut)
            if (e.serverId === serverId && e.runId !== run.id)
              await store.reopenLedger(e.runId, serverId, now);
          await store.reopenLedger(run.id, serverId, now);
          emit(run.id, 'gateOpened', serverId, { serverId, stepIndex: step.index });
        }
        await store.updateStep(run.id, step.index, { status: 'succeeded', finishedAt: now, error: null });
        emit(run.id, 'stepSucceeded', planStep.title, { stepIndex: step.index });
        await transition(run, 'running', { currentStep: run.currentStep + 1 });
        continue;
      }
      // Still waiting: make sure nothing persisted is left unsent (e.g. after a restart).
      for (const a of actions) if (a.status === 'pending') await dispatch(run, a);
      return;
    }
  }

  /** Evaluations already queued per run: a burst of agent updates needs only one of them. */
  const queuedKicks = new Map<string, Promise<void>>();

  function kick(runId: string): Promise<void> {
    const queued = queuedKicks.get(runId);
    if (queued) return queued;
    const next = serial(runId, () => {
      // From here on a new update needs a new evaluation: this one may have read before it.
      queuedKicks.delete(runId);
      return evaluate(runId);
    }).catch((err: unknown) => {
      log.error({ err, runId }, 'run evaluation failed');
    });
    queuedKicks.set(runId, next);
    return next;
  }

  async function tick(): Promise<void> {
    const runs = await store.listRuns({ statuses: ['running'] });
    await Promise.all(runs.map((r) => kick(r.id)));
  }

  async function audit(actor: string, action: string, target: string, details: Record<string, unknown> = {}) {
    await store.appendAudit({ at: clock.now(), actor, action, target, details });
  }

  return {
    async start() {
      stopped = false;
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
          emit(r.id, 'runRecovered', `at step ${r.currentStep + 1}/${r.plan.steps.length}`);
          void kick(r.id);
        }
      }
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
      await Promise.all([...queues.values()]);
    },

    async createRun(plan, actor) {
      const now = clock.now();
      const run: RunRecord = {
        id: opts.newRunId(),
        kind: 'minor-upgrade',
        status: 'running',
        plan,
        currentStep: 0,
        failure: null,
        createdBy: actor,
        createdAt: now,
        startedAt: now,
        finishedAt: null,
        version: 1,
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
      await audit(actor, 'run.start', run.id, {
        cluster: plan.cluster,
        service: plan.service,
        edition: plan.toEdition.name,
      });
      emit(
        run.id,
        'runStarted',
        `${plan.procedure} upgrade of ${plan.service} to ${plan.toEdition.name} on cluster ${plan.cluster}: ${plan.steps.length} steps, ${plan.groups.length} server groups, announced window ${plan.window.atRiskMinutes} min`,
      );
      await kick(run.id);
      return (await store.getRun(run.id)) ?? run;
    },

    pause(runId, actor, reason) {
      return serial(runId, async () => {
        const run = await mustGetRun(runId);
        if (run.status === 'paused') return run;
        const updated = await transition(run, 'paused', {
          failure: reason ? `paused by ${actor}: ${reason}` : `paused by ${actor}`,
        });
        await audit(actor, 'run.pause', runId, { reason: reason ?? '' });
        emit(runId, 'runPaused', `by ${actor}${reason ? `: ${reason}` : ''}`);
        return updated;
      });
    },

    async resume(runId, actor) {
      const updated = await serial(runId, async () => {
        const run = await mustGetRun(runId);
        if (run.status !== 'paused') {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} is ${run.status}, not paused; nothing to resume.`,
          );
        }
        const step = (await store.getSteps(runId)).find((s) => s.index === run.currentStep);
        if (step?.status === 'failed') {
          // Retry: the step starts again with the next attempt number, so new action ids.
          await store.updateStep(runId, step.index, { status: 'pending', error: null, finishedAt: null });
        }
        const next = await transition(run, 'running', { failure: null });
        await audit(actor, 'run.resume', runId);
        emit(runId, 'runResumed', `by ${actor}`);
        return next;
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? updated;
    },

    abort(runId, actor, reason) {
      return serial(runId, async () => {
        const run = await mustGetRun(runId);
        if (isTerminalRun(run.status)) {
          throw new EngineError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
        }
        const updated = await transition(run, 'aborted', {
          finishedAt: clock.now(),
          failure: `aborted by ${actor}${reason ? `: ${reason}` : ''}`,
        });
        for (const a of await store.getActions(runId)) {
          if (a.status === 'pending') {
            await store.updateAction(a.id, ['pending'], { status: 'cancelled', finishedAt: clock.now() });
          } else if (a.status === 'dispatched' || a.status === 'accepted' || a.status === 'running') {
            bus.cancel(a.serverId, a.id, `run aborted by ${actor}`);
          }
        }
        await audit(actor, 'run.abort', runId, { reason: reason ?? '' });
        emit(runId, 'runAborted', `by ${actor}${reason ? `: ${reason}` : ''}`);
        await putBackOrReport(updated);
        return updated;
      });
    },

    async signOff(runId, decision, comment, actor) {
      const result = await serial(runId, async () => {
        const run = await mustGetRun(runId);
        const planStep = run.plan.steps[run.currentStep];
        if (run.status !== 'waiting-approval' || planStep?.kind !== 'sign-off') {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} is ${run.status}; sign-off is possible only when it waits for the customer's verification.`,
          );
        }
        const now = clock.now();
        await audit(actor, `run.sign-off.${decision}`, runId, { comment });
        if (decision === 'approve') {
          await store.updateStep(runId, run.currentStep, {
            status: 'succeeded',
            finishedAt: now,
            error: null,
          });
          emit(runId, 'signedOff', `by ${actor}${comment ? `: ${comment}` : ''}`, {
            stepIndex: run.currentStep,
          });
          return transition(run, 'running', { currentStep: run.currentStep + 1 });
        }
        const why = `customer rejected the upgrade${comment ? `: ${comment}` : ''}`;
        await store.updateStep(runId, run.currentStep, { status: 'failed', finishedAt: now, error: why });
        emit(runId, 'signOffRejected', `by ${actor}${comment ? `: ${comment}` : ''}`, {
          stepIndex: run.currentStep,
        });
        return transition(run, 'failed', {
          finishedAt: now,
          failure: `${why}. Roll back or start a new run.`,
        });
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? result;
    },

    async onActionUpdate(u) {
      const action = await store.getAction(u.actionId);
      if (!action) {
        log.warn({ actionId: u.actionId }, 'update for an unknown action ignored');
        return;
      }
      await serial(action.runId, async () => {
        const current = await store.getAction(u.actionId);
        if (!current) return;
        const terminal = u.status === 'succeeded' || u.status === 'failed' || u.status === 'cancelled';
        const from: ActionStatus[] = (
          ['pending', 'dispatched', 'accepted', 'running'] as ActionStatus[]
        ).filter((s) => s !== u.status && (terminal || ['pending', 'dispatched', 'accepted'].includes(s)));
        const updated = await store.updateAction(u.actionId, from, {
          status: u.status,
          error: u.reason || null,
          ...(terminal ? { finishedAt: u.atMs || clock.now() } : {}),
        });
        if (!updated) return; // a duplicate or late report: the action already moved on
        const ids = { serverId: current.serverId, stepIndex: current.stepIndex, actionId: current.id };
        if (u.status === 'succeeded') emit(current.runId, 'actionSucceeded', current.id, ids);
        else if (u.status === 'failed' || u.status === 'cancelled')
          emit(current.runId, 'actionFailed', `${current.serverId}: ${u.reason || u.status}`, ids);
        else if (u.status === 'accepted')
          emit(current.runId, 'actionAccepted', current.id, { ...ids, level: 'debug' });
      });
      await kick(action.runId);
    },

    async onAgentConnected(serverId) {
      const outstanding = await store.getOutstandingActions(serverId);
      for (const runId of new Set(outstanding.map((a) => a.runId))) {
        emit(
          runId,
          'agentBack',
          `${serverId}: resending its outstanding actions (its journal answers any it already ran)`,
          {
            serverId,
          },
        );
      }
      for (const a of outstanding) {
        await serial(a.runId, async () => {
          const run = await store.getRun(a.runId);
          if (!run || isTerminalRun(run.status)) return;
          await dispatch(run, a);
        });
      }
    },

    async onAgentLost(serverId) {
      const outstanding = await store.getOutstandingActions(serverId);
      for (const runId of new Set(outstanding.map((a) => a.runId))) {
        emit(
          runId,
          'agentLost',
          `${serverId}: waiting for it to reconnect; its journal will settle the action`,
          {
            serverId,
          },
        );
      }
    },

    async skipDrain(runId, serverId, actor) {
      const run = await mustGetRun(runId);
      const step = run.plan.steps[run.currentStep];
      if (run.status !== 'running' || !step?.leavesRotation.includes(serverId)) {
        throw new EngineError(
          'PRECONDITION_FAILED',
          `${serverId} is not draining in run ${runId} (current step: ${step ? `${run.currentStep + 1} ${step.title}` : 'none'}, run ${run.status}).`,
        );
      }
      const mode = await modeFor(run, step);
      if (mode?.mode !== 'runtime') {
        throw new EngineError(
          'PRECONDITION_FAILED',
          `Skipping a drain needs the load balancer's runtime API (rollgate lb configure --socket …); here ${serverId}'s own agent drains it and stops waiting after the drainage interval (${Math.round(drainMsOf(step) / 1000)} s).`,
        );
      }
      skipDrainFor.add(`${runId}:${serverId}`);
      await audit(actor, 'run.skip-drain', runId, { serverId });
      emit(runId, 'draining', `${serverId}: drain skipped by ${actor}`, { serverId, level: 'warn' });
      await kick(runId);
    },

    kick,
  };
}
