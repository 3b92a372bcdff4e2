import type { ActionResult, ActionStatus, GateRecord, Plan, RollbackMethod } from '@rollgate/domain';
import type {
  AgentBus,
  Clock,
  EngineStore,
  LoadBalancerPort,
  LogRecord,
  RunLeases,
  RunOptions,
  RunRecord,
} from './ports';
import type { RollbackChoice } from './rollback';

// The engine's public types, apart from its wiring (engine.ts), so that every unit can name them.

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
  /** Terminal updates: every result the action's ops produced (ActionUpdate.result_json), in op order. */
  results?: ActionResult[];
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
  /**
   * Settles once this engine is not moving the run (no evaluation, command or agent report of it
   * queued or under way): a live view reads then, not in the middle of a step's choreography.
   */
  settled(runId: string): Promise<void>;
}
