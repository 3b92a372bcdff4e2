import type {
  ActionOp,
  ActionResult,
  ActionStatus,
  ClusterSettings,
  Edition,
  GateRecord,
  LbConfig,
  Plan,
  RollbackMethod,
  RunStatus,
  StepStatus,
} from '@rollgate/domain';

/** Milliseconds since the epoch; the engine never reads the clock itself. */
export interface Clock {
  now(): number;
}

export type RunKind =
  | 'minor-upgrade'
  | 'major-upgrade'
  | 'rollback'
  | 'rollout'
  | 'activation'
  | 'backout'
  | 'distribute'
  | 'validate'
  | 'deactivate';

/** How a run behaves when things go wrong, and what it knows of its window. */
export interface RunOptions {
  /** What a failed step does: pause for an operator's decision, or start the recommended rollback. */
  onFailure: 'pause' | 'rollback';
  /** When the agreed upgrade window ends (ms since the epoch), or null when none was agreed. */
  windowEndsAt: number | null;
  /**
   * A paused run proposes a rollback when less than this (or less than the rollback's estimate)
   * is left of the window. The seed's rule: under one hour (3600000 ms).
   */
  rollbackAlertMs: number;
  /** Label under which the agents keep this run's file and database backups; null without backups. */
  backupLabel: string | null;
}

export const DEFAULT_RUN_OPTIONS: Readonly<RunOptions> = Object.freeze({
  onFailure: 'pause',
  windowEndsAt: null,
  rollbackAlertMs: 3_600_000,
  backupLabel: null,
});

/** A rollback the run proposes (window running out) and who decided on it. */
export interface RollbackProposal {
  method: RollbackMethod;
  estimateMinutes: number;
  reason: string;
  proposedAt: number;
  status: 'awaiting' | 'authorised' | 'declined';
  decidedBy: string | null;
  decidedAt: number | null;
  comment: string;
  /** The rollback run started once it was authorised. */
  rollbackRunId: string | null;
}

export interface RunRecord {
  id: string;
  kind: RunKind;
  status: RunStatus;
  plan: Plan;
  /** Index of the step in progress, or of the next one to start. */
  currentStep: number;
  /** Why the run is paused or failed, in words an operator can act on; null otherwise. */
  failure: string | null;
  createdBy: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Bumped on every persisted transition; writes carry it so a stale writer loses (optimistic lock). */
  version: number;
  /** A pending run starts at this time (ms since the epoch); null: started by hand or at once. */
  scheduledAt: number | null;
  options: RunOptions;
  /** The readiness gates with their evidence, who confirmed each and when. */
  readiness: GateRecord[];
  /** Servers an operator excluded from the rest of the run. */
  excluded: string[];
  proposal: RollbackProposal | null;
  /** For a rollback: the run it undoes. */
  parentRunId: string | null;
}

export interface StepRecord {
  runId: string;
  index: number;
  status: StepStatus;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
}

export interface ActionRecord {
  /** Deterministic: see actionId() in @rollgate/domain. */
  id: string;
  runId: string;
  stepIndex: number;
  serverId: string;
  attempt: number;
  ops: ActionOp[];
  status: ActionStatus;
  error: string | null;
  createdAt: number;
  dispatchedAt: number | null;
  finishedAt: number | null;
  /**
   * What the action produced (test results, backups, command output), one per result-producing
   * op in op order (issue 15 item 4): the run's evidence. Empty until it ends, or when none did.
   */
  results: ActionResult[];
}

/** A server the engine took out of rotation; open until reopenedAt is set. */
export interface LedgerEntry {
  runId: string;
  serverId: string;
  stepIndex: number;
  closedAt: number;
  reopenedAt: number | null;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  runId: string | null;
  actionId: string | null;
  serverId: string | null;
  stepIndex: number | null;
  at: number;
  level: LogLevel;
  code: string;
  message: string;
  source: 'engine' | 'agent' | 'coordinator';
  /**
   * Agent lines only: the agent's stream and the line's position in it (growing by one per line).
   * An agent resends lines the coordinator never acknowledged, so a store keeps one line per
   * (serverId, streamId, seq): a line at or below the highest seq stored for its stream is a resend.
   */
  streamId?: string | null;
  seq?: number | null;
}

export interface StoredLog extends LogRecord {
  id: number;
}

export interface LogQuery {
  runId?: string;
  /** Only lines with an id greater than this (for following). */
  afterId?: number;
  serverId?: string;
  stepIndex?: number;
  code?: string;
  limit?: number;
}

export type AgentStatus = 'connected' | 'lost' | 'disconnected';

export interface ServerInventoryService {
  name: string;
  /** The port the service listens on (0 when the agent did not say). */
  port?: number;
  /** Where a second instance can run during a single-server rollout (none when absent). */
  besidePort?: number;
  /** The edition that second instance runs now (a validation clone); absent when none runs. */
  besideEdition?: string;
  /** Where the service answers its own health check: path (with query) and port; absent when unknown. */
  healthPath?: string;
  healthPort?: number;
  installedEditions: string[];
  activeEdition: string;
  health: 'healthy' | 'unhealthy' | 'stopped' | 'unknown';
}

export interface ServerRecord {
  id: string;
  cluster: string;
  role: string;
  hostname: string;
  agentVersion: string;
  capabilities: string[];
  gateUrl: string;
  /** The HAProxy agent-check port the agent serves (0: none). */
  agentCheckPort?: number;
  status: AgentStatus;
  /** What the agent last reported of its gate (wish AND health). */
  gateOpen: boolean;
  services: ServerInventoryService[];
  lastHeartbeatAt: number | null;
  connectedAt: number | null;
  /**
   * The coordinator the agent's stream is connected to (its ROLLGATE_COORDINATOR_ID), so a
   * coordinator that leads a run knows whether to send a command itself or publish it to a peer.
   * Absent: unknown (records written before several coordinators existed).
   */
  coordinatorId?: string | null;
}

export interface ServerTouch {
  id: string;
  lastHeartbeatAt: number;
  status?: AgentStatus;
  gateOpen?: boolean;
  services?: ServerInventoryService[];
  /**
   * The coordinator sending the touch: it applies only while the server's stream is recorded as
   * that coordinator's (or none is recorded), so a coordinator whose agent moved to a peer cannot
   * mark it disconnected there. Absent: always applies.
   */
  coordinatorId?: string;
}

/** What the fleet page asks for: filters, one sort key and a window of rows. */
export interface ServerPageQuery {
  cluster?: string;
  role?: string;
  status?: AgentStatus;
  /** true: only servers whose gate is open; false: only those whose gate is closed. */
  gateOpen?: boolean;
  /** Case-insensitive: part of the id, host name or role, or a whole edition name (active or installed). */
  search?: string;
  /** Default 'id'; ties are broken by id, ascending. */
  sort?: 'id' | 'cluster' | 'role' | 'status' | 'lastHeartbeatAt';
  /** Default false (ascending). */
  desc?: boolean;
  /** Default 0. */
  offset?: number;
  /** Default 100. */
  limit?: number;
}

/** One page of the fleet with what the page summarises about every matching server. */
export interface ServerPage {
  rows: ServerRecord[];
  /** Servers matching the filters, over all pages. */
  total: number;
  /** Counts over the matching servers; unhealthy: a service reported unhealthy or stopped. */
  summary: { connected: number; lost: number; disconnected: number; gateClosed: number; unhealthy: number };
  /** Every cluster and every role of the whole fleet, unfiltered, sorted (the page's filter choices). */
  clusters: string[];
  roles: string[];
}

export interface AuditEvent {
  at: number;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export interface EditionRecord extends Edition {
  createdAt: number;
  createdBy: string;
  /**
   * Absent: agents download the archive from the coordinator (uploaded, or fetched by it).
   * 'agents': each agent downloads it from the operator's URL itself (docs/adr/0039).
   */
  fetchBy?: 'agents';
  /** Origin and path of the URL it was added from, safe to show (never the query string). */
  source?: string;
}

/**
 * Everything the engine and the coordinator persist. Implemented by @rollgate/db for PostgreSQL
 * and by createMemoryStore() for unit tests; both pass the same contract tests
 * (`@rollgate/engine/testing`). Every method that changes more than one row is one transaction.
 */
export interface UpdateActionOptions {
  /**
   * The write is visible at once but need not be on disk when the call resolves (PostgreSQL:
   * `synchronous_commit = off` for it); the next ordinary commit flushes it. Only for an agent's
   * report, which the agent's journal repeats if a coordinator crash loses it (docs/adr/0050).
   * Default false.
   */
  lazyCommit?: boolean;
}

/** What completeStep writes in one transaction. */
export interface StepCompletion {
  runId: string;
  index: number;
  finishedAt: number;
  /** Ledger entries to close: the run that opened them and the server (closed at finishedAt). */
  reopen: { runId: string; serverId: string }[];
  expectedVersion: number;
  runPatch: Partial<Omit<RunRecord, 'id' | 'version'>>;
}

export interface EngineStore {
  // runs and steps
  createRun(run: RunRecord, steps: StepRecord[]): Promise<void>;
  getRun(id: string): Promise<RunRecord | null>;
  /** Newest first (by createdAt). */
  listRuns(opts?: { statuses?: RunStatus[]; limit?: number }): Promise<RunRecord[]>;
  /**
   * Applies `patch` only when the run's version still equals `expectedVersion`; bumps the version.
   * Returns the updated run, or null when another writer got there first.
   */
  updateRun(
    id: string,
    expectedVersion: number,
    patch: Partial<Omit<RunRecord, 'id' | 'version'>>,
    fence?: Fence,
  ): Promise<RunRecord | null>;
  getSteps(runId: string): Promise<StepRecord[]>;
  updateStep(
    runId: string,
    index: number,
    patch: Partial<Omit<StepRecord, 'runId' | 'index'>>,
    fence?: Fence,
  ): Promise<void>;
  /**
   * One transaction: marks the step running with `attempt`, inserts its actions (an action id that
   * already exists is left as it is) and records the ledger entries of servers it takes out of
   * rotation. This is the "durable before effect" write: nothing is dispatched before it commits.
   */
  startStep(
    runId: string,
    index: number,
    attempt: number,
    startedAt: number,
    actions: ActionRecord[],
    ledger: LedgerEntry[],
    fence?: Fence,
  ): Promise<void>;

  /**
   * One transaction for a step that succeeded (docs/adr/0050): closes the open ledger entries of
   * `reopen` (an earlier run's too), marks the step succeeded at `finishedAt` and applies
   * `runPatch` to the run when its version is still `expectedVersion` (bumping it). Returns the
   * updated run, or null when the run changed meanwhile — then nothing at all was written.
   * Optional so that partial fakes keep compiling; without it the engine writes them one by one.
   * Both real stores implement it (and the contract tests require it).
   */
  completeStep?(c: StepCompletion, fence?: Fence): Promise<RunRecord | null>;

  // actions
  getActions(runId: string, stepIndex?: number): Promise<ActionRecord[]>;
  getAction(id: string): Promise<ActionRecord | null>;
  /** Non-terminal actions of runs that are not terminal, optionally for one server. */
  getOutstandingActions(serverId?: string): Promise<ActionRecord[]>;
  /**
   * Moves an action to a new status only if its current status is one of `from`.
   * Returns the updated action, or null if it was not in one of those states.
   */
  updateAction(
    id: string,
    from: ActionStatus[],
    patch: Partial<Pick<ActionRecord, 'status' | 'error' | 'dispatchedAt' | 'finishedAt' | 'results'>>,
    fence?: Fence,
    opts?: UpdateActionOptions,
  ): Promise<ActionRecord | null>;
  /**
   * One statement for a whole step's dispatch bookkeeping: every listed action still `pending`
   * becomes `dispatched` at `at`. Returns the ids it moved (the others had moved on already).
   * Optional so that partial fakes keep compiling; without it the engine makes one updateAction
   * per action. Both real stores implement it (and the contract tests require it).
   */
  markDispatched?(ids: string[], at: number, fence?: Fence): Promise<string[]>;

  // load-balancer ledger
  openLedger(runId?: string): Promise<LedgerEntry[]>;
  reopenLedger(runId: string, serverId: string, at: number, fence?: Fence): Promise<void>;

  // logs (batched by the caller: one call per batch, never one per line)
  appendLogs(lines: LogRecord[]): Promise<void>;
  /** Oldest first (ascending id), at most `limit` (default 1000). */
  queryLogs(q: LogQuery): Promise<StoredLog[]>;

  // fleet
  upsertServer(server: ServerRecord): Promise<void>;
  /** Applies many heartbeat/status updates in one round trip. */
  touchServers(touches: ServerTouch[]): Promise<void>;
  /** Sorted by id. */
  listServers(opts?: { cluster?: string }): Promise<ServerRecord[]>;
  /**
   * One filtered, sorted page of the fleet, its count and facets, computed by the store so that a
   * page of a 10,000-server fleet does not load every server (the console polls it).
   */
  pageServers(q: ServerPageQuery): Promise<ServerPage>;
  getServer(id: string): Promise<ServerRecord | null>;

  // clusters
  /** The load-balancer configuration of a cluster, or null when none is set (or no such cluster). */
  getClusterLb(cluster: string): Promise<LbConfig | null>;
  /** Sets (or with null clears) a cluster's load-balancer configuration; creates the cluster if needed. */
  setClusterLb(cluster: string, lb: LbConfig | null): Promise<void>;
  /** A cluster's settings (readiness policy, tests, schedule, preparation); {} when none are set. */
  getClusterSettings(cluster: string): Promise<ClusterSettings>;
  /** Replaces a cluster's settings; creates the cluster if needed. */
  setClusterSettings(cluster: string, settings: ClusterSettings): Promise<void>;

  // editions
  /**
   * `fetchUrl`: the full URL agents download an edition with fetchBy 'agents' from (it may carry a
   * signature, so it is kept apart from the record and read only by editionFetchUrl).
   */
  insertEdition(edition: EditionRecord, fetchUrl?: string): Promise<void>;
  getEdition(app: string, name: string): Promise<EditionRecord | null>;
  /**
   * The URL agents fetch an edition of this name and archive from, when its operator chose so
   * (fetchBy 'agents'); null when they download it from the coordinator.
   */
  editionFetchUrl(name: string, sha256: string): Promise<string | null>;
  /** Oldest first (by createdAt). */
  listEditions(app?: string): Promise<EditionRecord[]>;

  // audit (append-only)
  appendAudit(event: AuditEvent): Promise<void>;
  /** Newest first. */
  listAudit(opts?: { limit?: number }): Promise<AuditEvent[]>;
}

/**
 * Proof that a write comes from the current leader of a run: the run's lease token when the
 * writer acquired it. A store given a fence checks it in the same statement (or transaction) as
 * the write and refuses the write with StaleLeaseError when the run's lease has a newer token, so
 * a coordinator that lost its lease (paused, partitioned, slow) cannot change the run any more.
 * Writes without a fence are not checked: a single coordinator without leases, and the facts an
 * agent reports about its own actions (ActionUpdate), which are true whoever leads.
 */
export interface Fence {
  runId: string;
  token: number;
}

/** A run's lease as one coordinator holds it. */
export interface Lease {
  runId: string;
  /** The coordinator holding it (ROLLGATE_COORDINATOR_ID). */
  holder: string;
  /** Grows by one on every acquisition: the fencing token. */
  token: number;
}

/**
 * Leadership of runs among coordinators sharing one database: at most one coordinator evaluates a
 * run at a time. Expiry is measured by the store's clock (PostgreSQL's now()), never a caller's.
 * Implemented by the PostgreSQL store (a `run_leases` row per run) and by the memory store; the
 * same contract tests cover both.
 */
export interface RunLeases {
  /**
   * Takes the run's lease for `holder` for `ttlMs`, with a new token (the previous one plus one),
   * when it is free, expired or already `holder`'s (a restarted coordinator with the same id).
   * `force` takes it whatever its state: an operator's command moves the run to the coordinator
   * that received it, and the previous holder's writes are refused from then on.
   * Returns null when another holder's lease has not expired.
   */
  acquireLease(runId: string, holder: string, ttlMs: number, force?: boolean): Promise<Lease | null>;
  /** Extends a held lease by `ttlMs` from now; false when its token is no longer the run's (lost). */
  renewLease(lease: Lease, ttlMs: number): Promise<boolean>;
  /** Lets the lease expire now (another coordinator may take the run at once); no-op when lost. */
  releaseLease(lease: Lease): Promise<void>;
  /** The run's lease as stored, or null when no coordinator ever led it. */
  getLease(runId: string): Promise<(Lease & { expiresAt: number }) | null>;
}

/** Thrown by a store when a fenced write carries a token that is no longer the run's. */
export class StaleLeaseError extends Error {
  constructor(
    readonly runId: string,
    readonly token: number,
  ) {
    super(
      `Run ${runId}'s lease moved to another coordinator (this writer held token ${token}); the write was refused. The run's current leader carries on; nothing to do here.`,
    );
    this.name = 'StaleLeaseError';
  }
}

/** What the engine sends to an agent. */
export interface DispatchAction {
  actionId: string;
  runId: string;
  stepIndex: number;
  attempt: number;
  ops: ActionOp[];
}

/** The transport to agents (gRPC in the coordinator; a fake in unit tests). */
export interface AgentBus {
  /**
   * Sends the action if the agent is connected, here or (several coordinators) to a peer
   * coordinator; returns false if it is not (it is resent on reconnect).
   */
  dispatch(serverId: string, action: DispatchAction): boolean | Promise<boolean>;
  /** Asks the agent to stop a running action at its next op boundary (best effort). */
  cancel(serverId: string, actionId: string, reason: string): void;
  /** Sets the coordinator's wish for a server's gate (the agent journals it); false if not connected. */
  setGate(serverId: string, open: boolean, reason: string): boolean | Promise<boolean>;
  isConnected(serverId: string): boolean;
}

/** Thrown by a store when a unique key is taken (e.g. an edition name already used for an app). */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/** What the load balancer in front of a cluster reports for one server. */
export interface LbServerStatus {
  /** The load balancer would send it traffic (operationally up and administratively ready). */
  up: boolean;
  /** Sessions in progress now. */
  sessions: number;
  /** Sessions ever served (grows when it serves a request). */
  totalSessions: number;
  /**
   * It passes the load balancer's health checks, whatever its administrative state (a drained
   * server can be healthy). Absent: taken to be `up`.
   */
  healthy?: boolean;
}

/** How the engine can work with a cluster's load balancer. */
export type LbMode = (
  | {
      mode: 'runtime';
      /**
       * How long a re-admitted server may take to be reported UP by the LB before the run pauses
       * (and, with readmitWait "served", to serve its first request before the run warns and goes on).
       */
      readmitTimeoutMs: number;
      /**
       * What re-admission waits for: "up" (default) moves on as soon as the LB reports the server
       * UP; "served" also waits for its first request (never longer than readmitTimeoutMs).
       */
      readmitWait?: 'up' | 'served';
    }
  | {
      mode: 'gate-only';
      /** How long the LB may keep sending new requests after a gate closed. */
      detectMs: number;
      /** How long the LB takes to mark a server up after its gate opened. */
      readmitMs: number;
      /** The operator's stated reaction time of a non-HAProxy LB, when it replaced the two above. */
      reactionMs?: number;
    }
) & {
  /**
   * Agent ids per pool (docs/adr/0026): the live capacity floor keeps a server of each in rotation,
   * as it does of each role. Absent: roles only.
   */
  pools?: string[][];
};

/**
 * The load balancer in front of the fleet (HAProxy's runtime API in the coordinator). Every call
 * is idempotent, so the engine may repeat one after a restart.
 */
export interface LoadBalancerPort {
  /** How the cluster's LB is reached; null when none is configured (the gates alone are used). */
  mode(cluster: string): Promise<LbMode | null>;
  /** Runtime mode: stop sending new requests to these servers now (HAProxy `state drain`). */
  leave(cluster: string, serverIds: string[]): Promise<void>;
  /**
   * Runtime mode: send them traffic again; called only after health was verified. On HAProxy one
   * exchange per balancer: `set server … state ready; set server … health up`, so a server parked
   * in maint is UP at once instead of after `rise` checks.
   */
  rejoin(cluster: string, serverIds: string[]): Promise<void>;
  /**
   * Runtime mode: these drained servers are about to be stopped on purpose: take them out
   * completely (HAProxy `state maint`), so the LB stops health-checking them and never marks them
   * DOWN. Absent: the servers stay drained (re-admission then waits for the LB's own checks).
   */
  park?(cluster: string, serverIds: string[]): Promise<void>;
  /** Runtime mode: what the LB reports now for these servers. */
  status(cluster: string, serverIds: string[]): Promise<Map<string, LbServerStatus>>;
  /**
   * Runtime mode: `incoming` ready and `outgoing` drained in ONE runtime-API exchange (the atomic
   * strategy's switch), so no request is answered by the old edition after it returns. Absent when
   * the load balancer cannot do it.
   */
  switchOver?(cluster: string, incoming: string[], outgoing: string[]): Promise<void>;
  /**
   * Runtime mode: stops (`hold`) or resumes the LB's agent-checks of these servers, whose "ready"
   * would otherwise put a server in rotation while a switch is being prepared. Idempotent.
   */
  holdAgentChecks?(cluster: string, serverIds: string[], hold: boolean): Promise<void>;
}
