import {
  actionId as makeActionId,
  besideId,
  besideOwner,
  canTransitionRun,
  isLbUnreachableFailure,
  isTerminalRun,
  LbUnreachableError,
  MSG,
  PHASE_LABEL,
  RESULT_KIND_OF_OP,
  type ActionResult,
  type ActionStatus,
  type GateRecord,
  type MessageKey,
  type Plan,
  type PlanStep,
  type RollbackMethod,
  type RunStatus,
} from '@rollgate/domain';
import type { ActionOp } from '@rollgate/domain';
import {
  DEFAULT_RUN_OPTIONS,
  type ActionRecord,
  type AgentBus,
  type Clock,
  type EngineStore,
  type Fence,
  type LbMode,
  type LbServerStatus,
  type Lease,
  StaleLeaseError,
  type RunLeases,
  type LoadBalancerPort,
  type LogLevel,
  type LogRecord,
  type RunKind,
  type RunOptions,
  type RunRecord,
  type StepRecord,
} from './ports';
import { planRollback, rollbackChoices, RUN_KIND, type RollbackChoice } from './rollback';

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
  /**
   * How long an agent may stay lost while it has an action of a running step before that action
   * counts as failed (the step's policy then applies: pause, or roll back), in ms; default 300000.
   * Shorter outages (a restart, a partition) are waited out: the agent's journal reports the
   * action's real result when it is back, and the run holds meanwhile.
   */
  agentLostTimeoutMs?: number;
  /**
   * Checked when a scheduled run is due: returns why it must not start (a freeze window, an unmet
   * readiness gate), or null. Default: always allowed.
   */
  precheck?: (run: RunRecord) => Promise<string | null>;
  /**
   * Leadership of runs among coordinators sharing one store. With it, the engine evaluates only
   * runs whose lease it holds, and every write it makes for a run carries the run's fencing token.
   * Default none: this engine is the only one and leads every run (no fences).
   */
  leases?: RunLeases;
  /** This engine's name as a lease holder (unique per coordinator); default 'local'. */
  holder?: string;
  /** How long a lease lasts without renewal, in ms (by the store's clock); default 3000. */
  leaseTtlMs?: number;
  /** How often held leases are renewed, in ms; default 1000 (well under leaseTtlMs). */
  leaseRenewMs?: number;
  /**
   * Tells the coordinator that leads a run to evaluate it now (e.g. an agent's result arrived at
   * a coordinator that does not lead it). Default: nothing (a single engine leads every run).
   */
  notifyLeader?: (runId: string) => void;
}

/** What a new run carries besides its plan; every field has a default. */
export interface CreateRunOptions {
  /** Start at this time (ms) instead of now: the run waits as 'pending'. Default now. */
  scheduledAt?: number | null;
  /** Default DEFAULT_RUN_OPTIONS (pause on failure, no window, alert at 1 h, no backups). */
  options?: Partial<RunOptions>;
  /** The readiness gates as confirmed so far. Default []. */
  readiness?: GateRecord[];
  /** For a rollback: the run it undoes. Default null. */
  parentRunId?: string | null;
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
  /** Terminal updates: what the action produced (ActionUpdate.result_json), if anything. */
  result?: ActionResult | null;
  /**
   * The server whose agent sent the update (its certificate's identity, docs/adr/0018). An update
   * is accepted only from the server the action belongs to.
   */
  serverId: string;
  /**
   * The sender's stream carried this action to it (the gateway saw it go out): accepted for an
   * action still recorded pending, whose "dispatched" write may commit after a fast agent answers.
   */
  sentToSender?: boolean;
}

export interface Engine {
  start(): Promise<void>;
  stop(): Promise<void>;
  createRun(plan: Plan, actor: string, opts?: CreateRunOptions): Promise<RunRecord>;
  /** Skips a failed server's action in the current step (the server stays in later steps). */
  skipServer(runId: string, serverId: string, actor: string): Promise<RunRecord>;
  /** Excludes a server from the rest of the run (it is left as it is and reported). */
  exclude(runId: string, serverId: string, actor: string): Promise<RunRecord>;
  /** The rollback methods that apply to a run now, with estimates and the recommended one. */
  rollbackOptions(runId: string): Promise<RollbackChoice[]>;
  /** Ends the run and starts a rollback run with `method` (default: the recommended one). */
  rollback(runId: string, actor: string, method?: RollbackMethod, reason?: string): Promise<RunRecord>;
  /** The decision on a proposed rollback (the customer's or an administrator's authorisation). */
  decideRollback(
    runId: string,
    decision: 'authorise' | 'decline',
    comment: string,
    actor: string,
  ): Promise<RunRecord>;
  /** Records a readiness gate's new state (confirmed, waived) on a run that has not ended. */
  recordGate(runId: string, record: GateRecord, actor: string): Promise<RunRecord>;
  pause(runId: string, actor: string, reason?: string): Promise<RunRecord>;
  resume(runId: string, actor: string): Promise<RunRecord>;
  abort(runId: string, actor: string, reason?: string): Promise<RunRecord>;
  signOff(runId: string, decision: 'approve' | 'reject', comment: string, actor: string): Promise<RunRecord>;
  /** null when the update was taken (or was a harmless repeat), else why it was refused. */
  onActionUpdate(update: ActionUpdateInput): Promise<string | null>;
  onAgentConnected(serverId: string): Promise<void>;
  onAgentLost(serverId: string): Promise<void>;
  /** Ends the drain of a server that is stuck with sessions (the operator's call; audited). */
  skipDrain(runId: string, serverId: string, actor: string): Promise<void>;
  /** Re-evaluates a run now (and serially with every other change to it). */
  kick(runId: string): Promise<void>;
  /** Whether this engine holds the run's lease now (always true without leases). */
  leads(runId: string): boolean;
}

const ACTIVE: RunStatus[] = ['running', 'waiting-approval', 'paused'];

/** How often the LB's own state is read while the rollout waits on it (sessions, UP), ms. */
const LB_POLL_MS = 25;

/** What one step spent where, as this process saw it (ms since the epoch, ms). */
interface StepTiming {
  /** Time inside load-balancer calls that change state (leave, park). */
  lbMs: number;
  leftAt: number | null;
  drainedAt: number | null;
  readmitAt: number | null;
  readmittedAt: number | null;
}

/** "6 ms" under a second, "1.02 s" from there. */
function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

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
  /** Waits on the load balancer alone (see watchLb), by what they wait for. */
  const lbWatches = new Map<string, NodeJS.Timeout>();
  /** One-shot wake-ups at a computed time (gate-only waits), by run. */
  const wakeUps = new Map<string, NodeJS.Timeout>();
  /** Where each step's time went in this process (run:index:attempt), for its timing line. */
  const timings = new Map<string, StepTiming>();
  const capacityHoldMs = opts.capacityHoldMs ?? 120_000;
  const queues = new Map<string, Promise<unknown>>();
  const heldSince = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const leases = opts.leases;
  const holder = opts.holder ?? 'local';
  const leaseTtlMs = opts.leaseTtlMs ?? 3000;
  const leaseRenewMs = opts.leaseRenewMs ?? 1000;
  /** Leases this engine holds, each valid locally until the last renewal's send time plus the TTL. */
  const held = new Map<string, { lease: Lease; validUntil: number }>();
  let renewTimer: NodeJS.Timeout | undefined;

  function leadsNow(runId: string): boolean {
    if (!leases) return true;
    const h = held.get(runId);
    // Measured from when the renewal was sent, so it lapses here no later than in the store.
    return h !== undefined && h.validUntil > clock.now();
  }

  /**
   * Makes sure this engine leads the run: 'held' (already), 'acquired' (just now, with a new
   * token) or null (another coordinator leads it). `force` takes it over whatever its state.
   */
  async function lead(runId: string, force = false): Promise<'held' | Lease | null> {
    if (!leases || leadsNow(runId)) return 'held';
    held.delete(runId);
    const sentAt = clock.now();
    const lease = await leases.acquireLease(runId, holder, leaseTtlMs, force);
    if (!lease) return null;
    held.set(runId, { lease, validUntil: sentAt + leaseTtlMs });
    log.info({ runId, holder, token: lease.token, force }, 'run lease acquired');
    return lease;
  }

  /** The fence of a write for `runId`: refused (StaleLeaseError) when this engine does not lead it. */
  function fenceOf(runId: string): Fence | undefined {
    if (!leases) return undefined;
    const h = held.get(runId);
    if (!h || h.validUntil <= clock.now()) throw new StaleLeaseError(runId, h?.lease.token ?? 0);
    return { runId, token: h.lease.token };
  }

  /**
   * Forgets a lease that the store refused or that lapsed: this engine stops evaluating the run.
   * A refusal of an older token than the one held now (a write that raced a re-acquisition) is not
   * a loss.
   */
  function lost(runId: string, why: string, token?: number) {
    const h = held.get(runId);
    if (!h || (token !== undefined && token !== 0 && h.lease.token !== token)) return;
    held.delete(runId);
    log.warn({ runId, holder, why }, 'run lease lost: another coordinator leads the run now');
  }

  async function renewLeases(): Promise<void> {
    if (!leases) return;
    for (const [runId, h] of [...held]) {
      const sentAt = clock.now();
      try {
        const run = await store.getRun(runId);
        if (!run || isTerminalRun(run.status)) {
          // Ended: let another coordinator take it at once should an operator act on it again.
          if (queues.has(runId)) continue;
          held.delete(runId);
          await leases.releaseLease(h.lease);
          continue;
        }
        if (await leases.renewLease(h.lease, leaseTtlMs)) {
          if (held.get(runId) === h) h.validUntil = sentAt + leaseTtlMs;
        } else lost(runId, 'renewal refused', h.lease.token);
      } catch (err) {
        // The store is unreachable: keep the lease until it lapses locally, then stop.
        log.warn({ err, runId }, 'run lease renewal failed');
      }
    }
  }

  /** The engine's writes for a run, each carrying the run's fence. */
  const w = {
    updateRun: (id: string, version: number, patch: Partial<Omit<RunRecord, 'id' | 'version'>>) =>
      store.updateRun(id, version, patch, fenceOf(id)),
    updateStep: (runId: string, index: number, patch: Partial<Omit<StepRecord, 'runId' | 'index'>>) =>
      store.updateStep(runId, index, patch, fenceOf(runId)),
    updateAction: (
      runId: string,
      id: string,
      from: ActionStatus[],
      patch: Parameters<EngineStore['updateAction']>[2],
    ) => store.updateAction(id, from, patch, fenceOf(runId)),
    /** `runId` is the run doing the write (whose lease fences it); `of` the run of the entry. */
    reopenLedger: (runId: string, of: string, serverId: string, at: number) =>
      store.reopenLedger(of, serverId, at, fenceOf(runId)),
  };

  const agentLostTimeoutMs = opts.agentLostTimeoutMs ?? 300_000;

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
        recheckSoon(run.id, Math.min(5000, agentLostTimeoutMs - (now - since) + 50));
        continue;
      }
      const why = `agent ${a.serverId} has been ${server.status} for ${Math.round((now - since) / 1000)} s while running this action; its journal will tell what happened when it is back`;
      if (
        await w.updateAction(run.id, a.id, ['dispatched', 'accepted', 'running'], {
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

  /** Waiting on an agent that may come back: look again later rather than at the next tick. */
  function recheckSoon(runId: string, ms = 50) {
    if (stopped) return;
    setTimeout(() => void kick(runId), ms).unref();
  }

  /** Evaluates the run once `ms` from now (a wait whose end is known: gate-only re-admission). */
  function wakeAt(runId: string, ms: number) {
    if (stopped || wakeUps.has(runId)) return;
    const t = setTimeout(
      () => {
        wakeUps.delete(runId);
        void kick(runId);
      },
      Math.max(0, ms),
    );
    t.unref();
    wakeUps.set(runId, t);
  }

  /**
   * Waits on the load balancer's state alone: reads it every LB_POLL_MS (no store read, no
   * evaluation) until `ready` says so or `until` passes, then evaluates the run at once. Only
   * HAProxy's own state is polled on the rollout path (sessions to end, a server to be UP); the
   * agents' results kick the run themselves. A read that fails ends the wait: the evaluation meets
   * the error and handles it.
   */
  function watchLb(runId: string, what: string, until: number, ready: () => Promise<boolean>) {
    const key = `${runId}:${what}`;
    if (stopped || lbWatches.has(key)) return;
    const look = async () => {
      let done: boolean;
      try {
        done = clock.now() >= until || (await ready());
      } catch {
        done = true;
      }
      if (stopped) return void lbWatches.delete(key);
      if (done) {
        lbWatches.delete(key);
        void kick(runId);
        return;
      }
      const t = setTimeout(() => void look(), LB_POLL_MS);
      t.unref();
      lbWatches.set(key, t);
    };
    const t = setTimeout(() => void look(), LB_POLL_MS);
    t.unref();
    lbWatches.set(key, t);
  }

  const stepKey = (runId: string, index: number, attempt: number) => `${runId}:${index}:${attempt}`;

  function timingOf(key: string): StepTiming {
    let t = timings.get(key);
    if (!t) {
      t = { lbMs: 0, leftAt: null, drainedAt: null, readmitAt: null, readmittedAt: null };
      timings.set(key, t);
    }
    return t;
  }

  /** Runs an LB call and counts its time as the step's LB exchange time. */
  async function timedLb<T>(key: string, call: () => Promise<T>): Promise<T> {
    const t0 = clock.now();
    try {
      return await call();
    } finally {
      timingOf(key).lbMs += clock.now() - t0;
    }
  }

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

  /**
   * An operator's command on a run: it runs where it was received, so that coordinator takes the
   * run's lease over first (the previous leader's writes are refused from then on).
   */
  function command<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    return serial(runId, async () => {
      // An unknown run is refused as before, and leaves no lease behind.
      await mustGetRun(runId);
      await lead(runId, true);
      try {
        return await fn();
      } catch (err) {
        if (err instanceof StaleLeaseError) {
          lost(runId, err.message, err.token);
          throw new EngineError(
            'CONFLICT',
            `Run ${runId} was taken over by another coordinator while this command ran; try again.`,
          );
        }
        throw err;
      }
    });
  }

  /** The servers of a list that the run still works on (not excluded by an operator). */
  function active(run: RunRecord, ids: string[]): string[] {
    return run.excluded.length === 0 ? ids : ids.filter((id) => !run.excluded.includes(id));
  }

  /** Persists fields of a run without changing its status (optimistic lock as transition()). */
  async function patchRun(
    run: RunRecord,
    patch: Partial<Omit<RunRecord, 'id' | 'version'>>,
  ): Promise<RunRecord> {
    return transition(run, run.status, patch);
  }

  /** Sets a readiness gate's record on the run (replacing the one for the same gate). */
  function withGate(run: RunRecord, record: GateRecord): GateRecord[] {
    return [...run.readiness.filter((g) => g.gate !== record.gate), record];
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
    const updated = await w.updateRun(run.id, run.version, { ...patch, status: to });
    if (!updated) {
      throw new EngineError('CONFLICT', `Run ${run.id} changed while this request was handled; try again.`);
    }
    return updated;
  }

  const toWire = (a: ActionRecord) => ({
    actionId: a.id,
    runId: a.runId,
    stepIndex: a.stepIndex,
    attempt: a.attempt,
    ops: a.ops,
  });

  /**
   * Sends actions to their agents, then records the pending ones that went out as dispatched in
   * one statement for the whole batch (a step's fan-out is one write, not one per server).
   */
  async function dispatch(run: RunRecord, list: ActionRecord[]): Promise<void> {
    const sent: ActionRecord[] = [];
    for (const a of list)
      if ((await bus.dispatch(a.serverId, toWire(a))) && a.status === 'pending') sent.push(a);
    if (sent.length === 0) return;
    const at = clock.now();
    const fence = fenceOf(run.id);
    const moved = new Set<string>();
    if (store.markDispatched) {
      for (const id of await store.markDispatched(
        sent.map((a) => a.id),
        at,
        fence,
      ))
        moved.add(id);
    } else {
      for (const a of sent)
        if (await store.updateAction(a.id, ['pending'], { status: 'dispatched', dispatchedAt: at }, fence))
          moved.add(a.id);
    }
    for (const a of sent) {
      if (!moved.has(a.id)) continue;
      emit(run.id, 'actionDispatched', a.id, {
        serverId: a.serverId,
        stepIndex: a.stepIndex,
        actionId: a.id,
      });
    }
  }

  /** Checks the capacity floor before a step takes servers out of rotation; returns why not, or null. */
  async function capacityProblem(run: RunRecord, step: PlanStep): Promise<string | null> {
    const leaving = active(run, step.leavesRotation);
    if (leaving.length === 0) return null;
    const open = await store.openLedger();
    // Excluded servers are out of this run's pool: they no longer count against its budget.
    const out = new Set(open.map((l) => l.serverId).filter((id) => !run.excluded.includes(id)));
    for (const s of leaving) out.add(s);
    // A switch puts its incoming half in by the same exchange that takes the other half out.
    const incoming = step.kind === 'switch' ? active(run, step.rejoinsRotation) : [];
    for (const s of incoming) out.delete(s);
    if (out.size > run.plan.maxOutOfRotation) {
      return `${out.size} servers would be out of rotation (${[...out].join(', ')}); at most ${run.plan.maxOutOfRotation} may be`;
    }
    // The announced downtime of a major upgrade (or a database restore) may empty a role.
    if (step.allowsDowntime) return null;
    const servers = await store.listServers({ cluster: run.plan.cluster });
    const roles = new Set(servers.filter((s) => leaving.includes(s.id)).map((s) => s.role));
    // A stream this coordinator holds right now is the fresher word on an agent than its stored
    // status (which a write racing a reconnect may have left stale); the floor is re-read every tick.
    const connected = (s: (typeof servers)[number]) => s.status === 'connected' || bus.isConnected(s.id);
    for (const role of roles) {
      const others = servers.filter((s) => s.role === role && !leaving.includes(s.id));
      const serving = others.filter(
        (s) => !out.has(s.id) && connected(s) && (s.gateOpen || incoming.includes(s.id)),
      );
      // A server whose second instance takes its place (single-server rollout) leaves none unserved.
      const servedBeside = servers
        .filter((s) => s.role === role && leaving.includes(s.id))
        .every((s) => incoming.includes(besideId(s.id)));
      if (serving.length === 0 && !servedBeside) {
        // Why each of the others does not count, so a hold that lasts can be diagnosed from the log.
        const why = others
          .map((s) => {
            const reason = out.has(s.id)
              ? 'out of rotation'
              : !connected(s)
                ? `agent ${s.status}`
                : 'gate closed';
            return `${s.id}: ${reason}`;
          })
          .join('; ');
        return `no other healthy "${role}" server is in rotation${why ? ` (${why})` : ''}, so taking ${leaving.join(', ')} out would stop the service`;
      }
    }
    // The same floor per load-balancer pool (a backend of a role, or of one service): a server in
    // several pools leaves every one of them (docs/adr/0026).
    const pools = lb ? ((await lb.mode(run.plan.cluster))?.pools ?? []) : [];
    const byId = new Map(servers.map((s) => [s.id, s]));
    for (const pool of pools) {
      const going = pool.filter((id) => leaving.includes(id));
      if (going.length === 0) continue;
      const serving = pool.filter((id) => {
        const s = byId.get(id);
        return (
          !!s &&
          !leaving.includes(id) &&
          !out.has(id) &&
          connected(s) &&
          (s.gateOpen || incoming.includes(id))
        );
      });
      if (serving.length === 0 && !going.every((id) => incoming.includes(besideId(id)))) {
        return `no other healthy server of the pool of ${pool.join(', ')} is in rotation, so taking ${going.join(', ')} out would leave that pool without a server`;
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
        await w.reopenLedger(run.id, run.id, id, at);
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
    await w.updateStep(run.id, step.index, { status: 'failed', finishedAt: clock.now(), error: why });
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
      latest = await patchRun(run, { readiness: withGate(run, record) });
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
    const paused = await transition(latest, 'paused', { failure });
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
    await patchRun(run, {
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
        await w.updateAction(run.id, a.id, ['pending'], { status: 'cancelled', finishedAt: clock.now() });
      } else if (a.status === 'dispatched' || a.status === 'accepted' || a.status === 'running') {
        bus.cancel(a.serverId, a.id, `run rolled back by ${actor}`);
      }
    }
    const why = `rolled back by ${actor} (${choice.method})${reason ? `: ${reason}` : ''}`;
    const ended = isTerminalRun(run.status)
      ? run
      : await transition(run, 'aborted', { finishedAt: clock.now(), failure: why });
    const rb = await newRun(plan, actor, {
      parentRunId: run.id,
      options: { backupLabel: run.options.backupLabel, windowEndsAt: run.options.windowEndsAt },
    });
    if (ended.proposal) {
      await patchRun(ended, { proposal: { ...ended.proposal, rollbackRunId: rb.id } }).catch(() => undefined);
    }
    await audit(actor, 'run.rollback', run.id, {
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
    for (const id of active(run, planStep.leavesRotation)) {
      if (!(await bus.setGate(id, false, `run ${run.id}: leaving rotation`))) {
        log.warn(
          { runId: run.id, serverId: id },
          'agent not connected: its gate closes when the action reaches it',
        );
      }
    }
    await timedLb(key, () => lb!.leave(run.plan.cluster, active(run, planStep.leavesRotation)));
    if (!leftAtLb.has(key)) {
      leftAtLb.add(key);
      timingOf(key).leftAt = clock.now();
      emit(
        run.id,
        'quiescing',
        `${active(run, planStep.leavesRotation).join(', ')} set to drain at the load balancer; waiting up to ${Math.round(drainMsOf(run, planStep) / 1000)} s for their sessions to end`,
        { stepIndex: step.index },
      );
    }
  }

  /** Runtime mode: true once every leaving server has no sessions, its drain was skipped, or time is up. */
  async function drainedAtLb(run: RunRecord, step: StepRecord, planStep: PlanStep): Promise<boolean> {
    const key = `${run.id}:${step.index}:${step.attempt}`;
    if (!leftAtLb.has(key)) await leaveAtLb(run, step, planStep); // after a restart: idempotent
    const leaving = active(run, planStep.leavesRotation);
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
      watchLb(
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
    const timing = timingOf(key);
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
    const incoming = active(run, planStep.rejoinsRotation);
    const outgoing = active(run, planStep.leavesRotation);
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
        watchLb(run.id, `switch:${key}`, (step.startedAt ?? now) + mode.readmitTimeoutMs + 1, async () => {
          const st = await lb.status(cluster, incoming);
          return incoming.every((id) => {
            const x = st.get(id);
            return x !== undefined && (x.healthy ?? x.up);
          });
        });
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
    const ids = active(run, planStep.leavesRotation).filter(
      (id) => isAgent(id) && stops(id) && !viaSwitch(id),
    );
    if (ids.length > 0) {
      // An agent-check answer ("drain" while the gate is closed) would take the server out of
      // maint again, and its check would then mark the stopped service DOWN: the LB stops asking
      // until re-admission.
      await timedLb(key, () => lb.holdAgentChecks?.(run.plan.cluster, ids, true) ?? Promise.resolve());
      await timedLb(key, () => lb.park!(run.plan.cluster, ids));
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
    const timing = timingOf(stepKey(run.id, step.index, step.attempt));
    if (timing.readmitAt === null) timing.readmitAt = now;
    if (mode.mode === 'gate-only') {
      // The agent's clock says when its gate opened; one ahead of ours must not stretch the wait.
      const done = Math.min(now, Math.max(...actions.map((a) => a.finishedAt ?? now)));
      const left = done + mode.readmitMs - now;
      if (left > 0) {
        wakeAt(run.id, left);
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
      watchLb(run.id, `readmit:${key}`, state.at + mode.readmitTimeoutMs, async () => {
        const st = await lb!.status(cluster, ids);
        return ids.every((id) => st.get(id)?.up);
      });
      return false;
    }
    if (served && state.baseline) {
      const baseline = state.baseline;
      const waiting = ids.filter((id) => (stats.get(id)?.totalSessions ?? 0) <= (baseline.get(id) ?? 0));
      if (waiting.length > 0 && since < mode.readmitTimeoutMs) {
        watchLb(run.id, `served:${key}`, state.at + mode.readmitTimeoutMs, async () => {
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

  /**
   * Where a finished step's time went, as one RG0119I line: words for people, then ` | ` and a
   * JSON object for tools (docs/adr/0025 documents its fields). Figures this process did not see
   * (a step it took over after a restart) are 0 and `partial` is true.
   */
  function emitTiming(
    run: RunRecord,
    step: StepRecord,
    planStep: PlanStep,
    actions: ActionRecord[],
    now: number,
  ) {
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
      servers: active(run, planStep.servers),
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

  /** Announces a new phase of the window when the next step belongs to another one. */
  function announcePhase(run: RunRecord, index: number) {
    const step = run.plan.steps[index];
    const prev = index > 0 ? run.plan.steps[index - 1] : undefined;
    if (step && step.phase !== prev?.phase) {
      emit(run.id, 'phaseBegins', PHASE_LABEL[step.phase], { stepIndex: index });
    }
  }

  /** A one-line summary of what a step's actions produced, for the run's log. */
  function evidenceLine(results: (ActionResult | null)[]): string | null {
    const parts: string[] = [];
    for (const r of results) {
      if (!r) continue;
      if (r.kind === 'functionalTest') {
        const ms = r.probes.reduce((t, p) => t + p.ms, 0);
        parts.push(`${r.passed}/${r.passed + r.failed} probes passed via ${r.baseUrl} in ${ms} ms`);
      } else if (r.kind === 'backupFiles') {
        parts.push(`${r.archive} (${r.bytes} bytes, sha256 ${r.sha256.slice(0, 12)}…)`);
      } else if (r.kind === 'dbBackup') {
        parts.push(
          `${r.file} (${r.bytes} bytes, ${Object.keys(r.tables).length} tables, ${r.verified ? `verified by a test restore in ${r.verifyMs} ms` : 'not verified'})`,
        );
      } else if (r.kind === 'dbRestore') {
        parts.push(`restored from ${r.file} (${Object.keys(r.tables).length} tables)`);
      } else if (r.kind === 'command') {
        parts.push(`${r.command} exited ${r.exitCode} after ${r.ms} ms`);
      }
    }
    return parts.length > 0 ? parts.join('; ') : null;
  }

  /** After a step succeeded: its readiness gate is met, its evidence is in the log. */
  async function recordEvidence(
    run: RunRecord,
    planStep: PlanStep,
    actions: ActionRecord[],
  ): Promise<RunRecord> {
    const results = actions.map((a) => a.result);
    const line = evidenceLine(results);
    if (planStep.kind === 'test') {
      emit(run.id, 'testsPassed', `${planStep.title}${line ? `: ${line}` : ''}`, {
        stepIndex: planStep.index,
      });
    } else if (line && (planStep.kind === 'prepare' || planStep.kind === 'db-restore')) {
      emit(run.id, 'backupRecorded', `${planStep.title}: ${line}`, { stepIndex: planStep.index });
    }
    if (!planStep.gate) return run;
    const record: GateRecord = {
      gate: planStep.gate,
      required: run.readiness.find((g) => g.gate === planStep.gate)?.required ?? true,
      status: 'met',
      evidence: {
        step: planStep.key,
        actions: actions.map((a) => ({ id: a.id, server: a.serverId, status: a.status, result: a.result })),
      },
      by: 'rollgate',
      at: clock.now(),
    };
    emit(run.id, 'gateMet', `${planStep.gate}${line ? `: ${line}` : ''}`, { stepIndex: planStep.index });
    return patchRun(run, { readiness: withGate(run, record) });
  }

  async function evaluate(runId: string): Promise<void> {
    for (let guard = 0; guard < 1000; guard++) {
      const run = await store.getRun(runId);
      if (!run || run.status !== 'running') return;
      const steps = await store.getSteps(runId);
      const step = steps.find((s) => s.index === run.currentStep);
      const planStep = run.plan.steps[run.currentStep];
      if (!step || !planStep) {
        await reportServedAtEnd(run);
        for (const k of [...timings.keys()]) if (k.startsWith(`${run.id}:`)) timings.delete(k);
        await transition(run, 'succeeded', { finishedAt: clock.now(), failure: null });
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
        await transition(run, 'running', { currentStep: run.currentStep + 1 });
        continue;
      }
      if (step.status === 'failed') {
        await transition(run, 'paused', { failure: run.failure ?? step.error ?? 'step failed' });
        return;
      }
      if (step.status === 'pending') {
        if (step.attempt === 0) announcePhase(run, step.index);
        if (planStep.kind === 'sign-off') {
          await w.updateStep(run.id, step.index, { status: 'running', startedAt: clock.now() });
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
        const actions: ActionRecord[] = active(run, planStep.servers).map((serverId) => ({
          id: makeActionId(run.id, step.index, serverId, attempt),
          runId: run.id,
          stepIndex: step.index,
          serverId,
          attempt,
          ops: opsFor(planStep.opsByServer?.[serverId] ?? planStep.ops, lbMode),
          status: 'pending',
          error: null,
          createdAt: now,
          dispatchedAt: null,
          finishedAt: null,
          result: null,
        }));
        const leaving = active(run, planStep.leavesRotation);
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
        timingOf(stepKey(run.id, step.index, attempt));
        emit(run.id, 'stepStarted', `${step.index + 1}/${run.plan.steps.length} ${planStep.title}`, {
          stepIndex: step.index,
        });
        if (planStep.kind === 'switch') continue; // gates and LB change at the switch itself
        for (const serverId of leaving) {
          emit(run.id, 'gateClosed', serverId, { serverId, stepIndex: step.index });
        }
        if (lbMode?.mode === 'runtime' && leaving.length > 0) {
          // The engine drains at the load balancer first; the actions go out once sessions are 0.
          await leaveAtLb(run, { ...step, attempt, startedAt: now }, planStep);
          continue;
        }
        await dispatch(run, actions);
        if (actions.length > 0) return;
        continue; // every server of the step was excluded: it completes at once
      }
      // running
      const actions = (await store.getActions(run.id, step.index)).filter((a) => a.attempt === step.attempt);
      if (await failLostActions(run, actions)) continue;
      const failed = actions.find((a) => a.status === 'failed' || a.status === 'cancelled');
      if (failed) {
        if (planStep.kind === 'test') {
          const line = evidenceLine(actions.map((a) => a.result));
          emit(run.id, 'testsFailed', `${planStep.title}: ${line ?? failed.error ?? 'failed'}`, {
            stepIndex: step.index,
          });
        }
        await pauseOnFailure(run, step, planStep, `${failed.serverId}: ${failed.error ?? failed.status}`);
        return;
      }
      const lbMode = await modeFor(run, planStep);
      if (planStep.kind === 'switch' && !(await switched(run, step, planStep, lbMode))) return;
      if (
        lbMode?.mode === 'runtime' &&
        active(run, planStep.leavesRotation).length > 0 &&
        actions.some((a) => a.status === 'pending')
      ) {
        if (!(await drainedAtLb(run, step, planStep))) return;
        await parkAtLb(run, step, planStep, actions);
        await dispatch(
          run,
          actions.filter((a) => a.status === 'pending'),
        );
        return;
      }
      const done = (a: ActionRecord) => a.status === 'succeeded' || a.status === 'skipped';
      if (actions.every(done)) {
        const rejoining = active(run, planStep.rejoinsRotation).filter(
          (id) =>
            planStep.kind === 'switch' || actions.some((a) => a.serverId === id && a.status === 'succeeded'),
        );
        if (
          rejoining.length > 0 &&
          lbMode &&
          !(await readmitted(run, step, { ...planStep, rejoinsRotation: rejoining }, actions, lbMode))
        ) {
          return;
        }
        readmitting.delete(`${run.id}:${step.index}`);
        const now = clock.now();
        // A server back in rotation closes every open entry about it, also those an earlier
        // (aborted) run left, so the capacity floor counts it as serving again.
        const stillOut = await store.openLedger();
        for (const serverId of rejoining) {
          for (const e of stillOut)
            if (e.serverId === serverId && e.runId !== run.id)
              await w.reopenLedger(run.id, e.runId, serverId, now);
          await w.reopenLedger(run.id, run.id, serverId, now);
          emit(run.id, 'gateOpened', serverId, { serverId, stepIndex: step.index });
        }
        await w.updateStep(run.id, step.index, { status: 'succeeded', finishedAt: now, error: null });
        emit(run.id, 'stepSucceeded', planStep.title, { stepIndex: step.index });
        if (actions.length > 0) emitTiming(run, step, planStep, actions, now);
        const latest = await recordEvidence(run, planStep, actions);
        await transition(latest, 'running', { currentStep: latest.currentStep + 1 });
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

  /** Evaluations already queued per run: a burst of agent updates needs only one of them. */
  const queuedKicks = new Map<string, Promise<void>>();

  function kick(runId: string): Promise<void> {
    const queued = queuedKicks.get(runId);
    if (queued) return queued;
    const next = serial(runId, async () => {
      // From here on a new update needs a new evaluation: this one may have read before it.
      queuedKicks.delete(runId);
      if (leases && !leadsNow(runId)) {
        // Only running runs are worth a lease attempt (a round trip); others need no evaluation.
        const run = await store.getRun(runId);
        if (run?.status !== 'running') return;
        const got = await lead(runId);
        if (!got) return;
        if (got !== 'held' && got.token > 1) {
          emit(
            runId,
            'runRecovered',
            `at step ${run.currentStep + 1}/${run.plan.steps.length} by coordinator ${holder} (lease token ${got.token})`,
          );
        }
      }
      return evaluate(runId);
    }).catch(async (err: unknown) => {
      if (err instanceof StaleLeaseError) lost(runId, err.message, err.token);
      else if (err instanceof LbUnreachableError) await pauseForLb(runId, err);
      else log.error({ err, runId }, 'run evaluation failed');
    });
    queuedKicks.set(runId, next);
    return next;
  }

  /**
   * A balancer did not answer: the run pauses with its message (which names it and what to do),
   * and tick() resumes it by itself once every balancer answers again (the LB calls are idempotent).
   */
  async function pauseForLb(runId: string, err: LbUnreachableError): Promise<void> {
    await serial(runId, async () => {
      const run = await store.getRun(runId);
      if (run?.status !== 'running') return;
      await transition(run, 'paused', { failure: err.message });
      emit(runId, 'runPaused', err.message, { level: 'error' });
    }).catch((e: unknown) => log.error({ err: e, runId }, 'pausing the run for its load balancer failed'));
  }

  /** A run paused for an unreachable balancer goes on once the balancer answers (status succeeds). */
  async function resumeIfLbBack(run: RunRecord): Promise<void> {
    if (!lb) return;
    const resumed = await serial(run.id, async () => {
      if (!(await lead(run.id))) return false;
      const current = await store.getRun(run.id);
      if (current?.status !== 'paused' || !isLbUnreachableFailure(current.failure)) return false;
      const ids = current.plan.groups.flatMap((g) => g.servers.map((s) => s.id));
      try {
        await lb.status(current.plan.cluster, ids);
      } catch {
        return false; // still not answering (or not as configured): stay paused, ask again next tick
      }
      await transition(current, 'running', { failure: null });
      emit(run.id, 'runResumed', 'by rollgate: every load balancer answers again');
      return true;
    });
    if (resumed) await kick(run.id);
  }

  /** A scheduled run that is due starts now, unless its precheck (freeze, readiness) refuses. */
  async function startDue(run: RunRecord): Promise<void> {
    await serial(run.id, async () => {
      const current = await store.getRun(run.id);
      if (!current || current.status !== 'pending' || (current.scheduledAt ?? 0) > clock.now()) return;
      if (!(await lead(run.id))) return;
      const refusal = opts.precheck ? await opts.precheck(current) : null;
      if (refusal) {
        await transition(current, 'aborted', {
          finishedAt: clock.now(),
          failure: `scheduled start refused: ${refusal}`,
        });
        emit(run.id, 'scheduledStartRefused', refusal);
        return;
      }
      await transition(current, 'running', { startedAt: clock.now() });
      emit(run.id, 'runStarted', `scheduled start: ${describeRun(current.plan)}`);
    });
    await kick(run.id);
  }

  async function tick(): Promise<void> {
    const runs = await store.listRuns({ statuses: ['running', 'pending', 'paused'] });
    const now = clock.now();
    await Promise.all(
      runs.map(async (r) => {
        if (r.status === 'running') return kick(r.id);
        if (r.status === 'pending' && r.scheduledAt !== null && r.scheduledAt <= now) return startDue(r);
        if (r.status === 'paused' && isLbUnreachableFailure(r.failure)) return resumeIfLbBack(r);
        // A paused run's window keeps running out: propose a rollback when it gets short.
        if (r.status === 'paused' && r.options.windowEndsAt !== null && !r.proposal) {
          return serial(r.id, async () => {
            if (!(await lead(r.id))) return;
            const current = await store.getRun(r.id);
            if (current) await maybePropose(current);
          });
        }
        return undefined;
      }),
    );
  }

  function describeRun(plan: Plan): string {
    const what =
      plan.procedure === 'rollback'
        ? `rollback (${plan.rollback?.method ?? '?'}) of run ${plan.rollback?.ofRun ?? '?'} to ${plan.service} ${plan.toEdition.name}`
        : `${plan.procedure} upgrade of ${plan.service} to ${plan.toEdition.name}`;
    return `${what} on cluster ${plan.cluster}: ${plan.steps.length} steps, ${plan.groups.length} server groups, announced window ${plan.window.atRiskMinutes} min${plan.window.downtimeMinutes > 0 ? ` (downtime ${plan.window.downtimeMinutes} min)` : ''}`;
  }

  async function newRun(plan: Plan, actor: string, o: CreateRunOptions = {}): Promise<RunRecord> {
    const now = clock.now();
    const scheduled = o.scheduledAt != null && o.scheduledAt > now;
    const run: RunRecord = {
      id: opts.newRunId(),
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
          // With leases, the coordinator that takes the run over says so (see kick).
          if (!leases) emit(r.id, 'runRecovered', `at step ${r.currentStep + 1}/${r.plan.steps.length}`);
          void kick(r.id);
        }
      }
      const renewLoop = () => {
        if (stopped || !leases) return;
        renewTimer = setTimeout(() => {
          renewLeases()
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
      for (const t of [...lbWatches.values(), ...wakeUps.values()]) clearTimeout(t);
      lbWatches.clear();
      wakeUps.clear();
      if (renewTimer) clearTimeout(renewTimer);
      await Promise.all([...queues.values()]);
      // A clean stop hands the runs over at once instead of after the lease's TTL.
      if (leases) {
        await Promise.all([...held.values()].map((h) => leases.releaseLease(h.lease).catch(() => undefined)));
        held.clear();
      }
    },

    leads: leadsNow,

    async createRun(plan, actor, o) {
      const run = await newRun(plan, actor, o);
      await kick(run.id);
      return (await store.getRun(run.id)) ?? run;
    },

    pause(runId, actor, reason) {
      return command(runId, async () => {
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
      const updated = await command(runId, async () => {
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
          await w.updateStep(runId, step.index, { status: 'pending', error: null, finishedAt: null });
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
      return command(runId, async () => {
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
            await w.updateAction(runId, a.id, ['pending'], { status: 'cancelled', finishedAt: clock.now() });
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

    async skipServer(runId, serverId, actor) {
      const updated = await command(runId, async () => {
        const run = await mustGetRun(runId);
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
        await w.updateAction(runId, action.id, ['failed', 'cancelled'], { status: 'skipped' });
        await w.updateStep(runId, step.index, { status: 'running', error: null, finishedAt: null });
        await audit(actor, 'run.skip-server', runId, { serverId, step: step.index });
        emit(
          runId,
          'serverSkipped',
          `${serverId} in step ${step.index + 1} "${planStep.title}" by ${actor}`,
          {
            serverId,
            stepIndex: step.index,
          },
        );
        return transition(run, 'running', { failure: null });
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? updated;
    },

    async exclude(runId, serverId, actor) {
      const updated = await command(runId, async () => {
        const run = await mustGetRun(runId);
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
              await w.updateAction(
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
            await w.updateStep(runId, step.index, { status: 'running', error: null, finishedAt: null });
          }
        }
        await audit(actor, 'run.exclude', runId, { serverId });
        const out = (await store.openLedger(runId)).some((l) => l.serverId === serverId);
        emit(
          runId,
          'serverExcluded',
          `${serverId} by ${actor}; ${out ? 'it stays out of rotation: repair or rebuild it, then rejoin it' : 'it keeps its current edition and stays in rotation'}`,
          { serverId },
        );
        return patchRun(run, { excluded: [...run.excluded, serverId] });
      });
      return updated;
    },

    async rollbackOptions(runId) {
      return rollbackChoices(store, await mustGetRun(runId));
    },

    async rollback(runId, actor, method, reason) {
      return command(runId, async () => doRollback(await mustGetRun(runId), actor, method, reason));
    },

    async decideRollback(runId, decision, comment, actor) {
      return command(runId, async () => {
        const run = await mustGetRun(runId);
        if (!run.proposal || run.proposal.status !== 'awaiting') {
          throw new EngineError(
            'PRECONDITION_FAILED',
            `Run ${runId} has no rollback waiting for authorisation${run.proposal ? ` (it was ${run.proposal.status} by ${run.proposal.decidedBy})` : ''}.`,
          );
        }
        const decided = await patchRun(run, {
          proposal: {
            ...run.proposal,
            status: decision === 'authorise' ? 'authorised' : 'declined',
            decidedBy: actor,
            decidedAt: clock.now(),
            comment,
          },
        });
        await audit(actor, `run.rollback.${decision}`, runId, { method: run.proposal.method, comment });
        emit(
          runId,
          'rollbackDecided',
          `${decision === 'authorise' ? 'authorised' : 'declined'} by ${actor}${comment ? `: ${comment}` : ''}`,
        );
        if (decision === 'decline') return decided;
        await doRollback(decided, actor, run.proposal.method, `authorised by ${actor}`);
        return (await store.getRun(runId)) ?? decided;
      });
    },

    async recordGate(runId, record, actor) {
      const updated = await command(runId, async () => {
        const run = await mustGetRun(runId);
        if (isTerminalRun(run.status)) {
          throw new EngineError('PRECONDITION_FAILED', `Run ${runId} already ended (${run.status}).`);
        }
        let next = await patchRun(run, { readiness: withGate(run, record) });
        await audit(actor, `run.gate.${record.status}`, runId, {
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
          await w.updateStep(runId, run.currentStep, {
            status: 'skipped',
            error: null,
            finishedAt: clock.now(),
          });
          next = await transition(next, 'running', { failure: null });
        }
        return next;
      });
      await kick(runId);
      return (await store.getRun(runId)) ?? updated;
    },

    async signOff(runId, decision, comment, actor) {
      const result = await command(runId, async () => {
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
          await w.updateStep(runId, run.currentStep, {
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
        await w.updateStep(runId, run.currentStep, { status: 'failed', finishedAt: now, error: why });
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
      // An agent is trusted with its own server only (docs/adr/0018): action ids are predictable,
      // so the id alone proves nothing about who may report on it.
      if (!action) return `there is no action ${u.actionId}`;
      // A second instance has no agent of its own: its server's agent answers for it.
      if (action.serverId !== u.serverId && besideOwner(action.serverId) !== u.serverId) {
        return `action ${u.actionId} belongs to server ${action.serverId}, not to ${u.serverId}`;
      }
      const refusal = await serial(action.runId, async (): Promise<string | null> => {
        const current = await store.getAction(u.actionId);
        if (!current) return `there is no action ${u.actionId}`;
        if (current.status === 'pending' && !u.sentToSender) {
          return `action ${u.actionId} has not been sent to ${u.serverId} yet`;
        }
        if (u.result && !current.ops.some((op) => RESULT_KIND_OF_OP[op.op] === u.result!.kind)) {
          return `action ${u.actionId} has no op that produces a "${u.result.kind}" result`;
        }
        const terminal = u.status === 'succeeded' || u.status === 'failed' || u.status === 'cancelled';
        const from: ActionStatus[] = (
          ['pending', 'dispatched', 'accepted', 'running'] as ActionStatus[]
        ).filter((s) => s !== u.status && (terminal || ['pending', 'dispatched', 'accepted'].includes(s)));
        const updated = await store.updateAction(u.actionId, from, {
          status: u.status,
          error: u.reason || null,
          ...(terminal ? { finishedAt: u.atMs || clock.now() } : {}),
          ...(terminal && u.result ? { result: u.result } : {}),
        });
        if (!updated) return null; // a duplicate or late report: the action already moved on
        const ids = { serverId: current.serverId, stepIndex: current.stepIndex, actionId: current.id };
        if (u.status === 'succeeded') emit(current.runId, 'actionSucceeded', current.id, ids);
        else if (u.status === 'failed' || u.status === 'cancelled')
          emit(current.runId, 'actionFailed', `${current.serverId}: ${u.reason || u.status}`, ids);
        else if (u.status === 'accepted')
          emit(current.runId, 'actionAccepted', current.id, { ...ids, level: 'debug' });
        return null;
      });
      if (refusal) return refusal;
      // Accepted / running change no step's outcome: only a finished action is worth an evaluation
      // now (the tick looks at every running run anyway). At fan-out, 1000 ACCEPTEDs would
      // otherwise each read the step's 1000 actions.
      if (u.status !== 'succeeded' && u.status !== 'failed' && u.status !== 'cancelled') return null;
      // The agent's report is a fact whoever leads (stored unfenced above); the leader decides on it.
      if (leadsNow(action.runId)) await kick(action.runId);
      else opts.notifyLeader?.(action.runId);
      return null;
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
          if (await lead(a.runId)) {
            await dispatch(run, [a]);
          } else if (a.status !== 'pending') {
            // Led elsewhere: resend what its leader already released (the agent's journal answers
            // a repeat); a pending action is the leader's to release (e.g. after a drain).
            await bus.dispatch(a.serverId, toWire(a));
          } else {
            opts.notifyLeader?.(a.runId);
          }
        }).catch((err: unknown) => {
          if (err instanceof StaleLeaseError) lost(a.runId, err.message, err.token);
          else throw err;
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
          `Skipping a drain needs the load balancer's runtime API (rollgate lb configure --socket …); here ${serverId}'s own agent drains it and stops waiting after the drainage interval (${Math.round(drainMsOf(run, step) / 1000)} s).`,
        );
      }
      // The drain is watched by the run's leader (in its memory): this coordinator becomes it.
      await command(runId, async () => undefined);
      skipDrainFor.add(`${runId}:${serverId}`);
      await audit(actor, 'run.skip-drain', runId, { serverId });
      emit(runId, 'draining', `${serverId}: drain skipped by ${actor}`, { serverId, level: 'warn' });
      await kick(runId);
    },

    kick,
  };
}
