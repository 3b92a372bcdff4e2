import type {
  Role,
  ActionOp,
  ActionResult,
  ActionStatus,
  ClusterSettings,
  GateRecord,
  LbConfig,
  Plan,
  RunStatus,
  StepStatus,
} from '@rollgate/domain';
import type {
  AgentStatus,
  LogLevel,
  LogRecord,
  RollbackProposal,
  RunKind,
  RunOptions,
  ServerInventoryService,
} from '@rollgate/engine';
import {
  bigint,
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
} from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

/**
 * A `timestamptz` column that reads and writes epoch milliseconds, the unit of the whole store API.
 * Stored as timestamptz (not bigint) so SQL stays readable and time arithmetic works in psql.
 * drizzle's node-postgres driver hands timestamptz over as the server's text form
 * (`2024-05-01 10:00:00.123+00`), which `new Date()` parses; a Date is accepted too in case a
 * caller's pool uses pg's default parsers.
 */
export const epochMs = customType<{ data: number; driverData: string | Date }>({
  dataType: () => 'timestamp with time zone',
  toDriver: (ms) => new Date(ms).toISOString(),
  fromDriver: (v) => (v instanceof Date ? v.getTime() : new Date(v).getTime()),
});

export const clusters = pgTable('clusters', {
  name: text('name').primaryKey(),
  createdAt: epochMs('created_at').notNull(),
  /** How the cluster's load balancer is reached (LbConfig), or null: the agents' gates alone. */
  lb: jsonb('lb').$type<LbConfig>(),
  /** Readiness policy, tests, schedule and preparation (ClusterSettings); {} when none are set. */
  settings: jsonb('settings').$type<ClusterSettings>().notNull().default({}),
});

export const servers = pgTable(
  'servers',
  {
    id: text('id').primaryKey(),
    cluster: text('cluster')
      .notNull()
      .references(() => clusters.name),
    role: text('role').notNull(),
    hostname: text('hostname').notNull(),
    agentVersion: text('agent_version').notNull(),
    capabilities: jsonb('capabilities').$type<string[]>().notNull(),
    gateUrl: text('gate_url').notNull(),
    agentCheckPort: integer('agent_check_port'),
    status: text('status').$type<AgentStatus>().notNull(),
    gateOpen: boolean('gate_open').notNull(),
    services: jsonb('services').$type<ServerInventoryService[]>().notNull(),
    lastHeartbeatAt: epochMs('last_heartbeat_at'),
    connectedAt: epochMs('connected_at'),
    /** The coordinator (ROLLGATE_COORDINATOR_ID) holding the agent's stream; null when unknown. */
    coordinatorId: text('coordinator_id'),
  },
  // servers_role_idx: the fleet page filters by role and lists every role (pageServers).
  (t) => [index('servers_cluster_idx').on(t.cluster), index('servers_role_idx').on(t.role)],
);

export const editions = pgTable(
  'editions',
  {
    app: text('app').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    sha256: text('sha256').notNull(),
    // bigint because artifacts may exceed 2 GiB; number mode is exact up to 2^53 bytes.
    size: bigint('size', { mode: 'number' }).notNull(),
    dbUpgradeCommand: text('db_upgrade_command'),
    createdAt: epochMs('created_at').notNull(),
    createdBy: text('created_by').notNull(),
    // Who downloads the archive (docs/adr/0039): the coordinator's store, or each agent from fetch_url.
    fetchBy: text('fetch_by').$type<'coordinator' | 'agents'>().notNull().default('coordinator'),
    // origin + path of the URL it came from, safe to show; fetch_url is the full one (it may carry
    // a signature) and is read only to hand it to agents.
    source: text('source'),
    fetchUrl: text('fetch_url'),
  },
  (t) => [primaryKey({ name: 'editions_pk', columns: [t.app, t.name] })],
);

export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    kind: text('kind').$type<RunKind>().notNull(),
    status: text('status').$type<RunStatus>().notNull(),
    plan: jsonb('plan').$type<Plan>().notNull(),
    currentStep: integer('current_step').notNull(),
    failure: text('failure'),
    createdBy: text('created_by').notNull(),
    createdAt: epochMs('created_at').notNull(),
    startedAt: epochMs('started_at'),
    finishedAt: epochMs('finished_at'),
    version: integer('version').notNull(),
    scheduledAt: epochMs('scheduled_at'),
    // Defaults fill the rows of runs made before these columns existed.
    options: jsonb('options')
      .$type<RunOptions>()
      .notNull()
      .default({ onFailure: 'pause', windowEndsAt: null, rollbackAlertMs: 3_600_000, backupLabel: null }),
    readiness: jsonb('readiness').$type<GateRecord[]>().notNull().default([]),
    excluded: jsonb('excluded').$type<string[]>().notNull().default([]),
    proposal: jsonb('proposal').$type<RollbackProposal>(),
    parentRunId: text('parent_run_id'),
  },
  (t) => [index('runs_status_idx').on(t.status), index('runs_created_at_idx').on(t.createdAt)],
);

export const steps = pgTable(
  'steps',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    index: integer('index').notNull(),
    status: text('status').$type<StepStatus>().notNull(),
    attempt: integer('attempt').notNull(),
    startedAt: epochMs('started_at'),
    finishedAt: epochMs('finished_at'),
    error: text('error'),
  },
  (t) => [primaryKey({ name: 'steps_pk', columns: [t.runId, t.index] })],
);

export const actions = pgTable(
  'actions',
  {
    id: text('id').primaryKey(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    stepIndex: integer('step_index').notNull(),
    serverId: text('server_id').notNull(),
    attempt: integer('attempt').notNull(),
    ops: jsonb('ops').$type<ActionOp[]>().notNull(),
    status: text('status').$type<ActionStatus>().notNull(),
    error: text('error'),
    createdAt: epochMs('created_at').notNull(),
    dispatchedAt: epochMs('dispatched_at'),
    finishedAt: epochMs('finished_at'),
    /**
     * ActionResult: the evidence the action produced (tests, backups, command output); several
     * (the ops of one action) as a list in op order (issue 15 item 4).
     */
    result: jsonb('result').$type<ActionResult | ActionResult[]>(),
  },
  (t) => [
    index('actions_run_step_idx').on(t.runId, t.stepIndex),
    // getOutstandingActions(serverId) on every agent reconnect.
    index('actions_server_status_idx').on(t.serverId, t.status),
  ],
);

/**
 * Which coordinator leads each run. `token` grows on every acquisition and fences the leader's
 * writes (see pg-store.ts); `expires_at` is compared with the database's now(), never a
 * coordinator's clock. No foreign key: a lease outlives nothing and blocks no run's deletion.
 */
export const runLeases = pgTable('run_leases', {
  runId: text('run_id').primaryKey(),
  holder: text('holder').notNull(),
  token: bigint('token', { mode: 'number' }).notNull(),
  acquiredAt: epochMs('acquired_at').notNull(),
  expiresAt: epochMs('expires_at').notNull(),
});

/** Every gate the engine closed, so none is left drained silently. */
export const lbLedger = pgTable(
  'lb_ledger',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    serverId: text('server_id').notNull(),
    stepIndex: integer('step_index').notNull(),
    closedAt: epochMs('closed_at').notNull(),
    reopenedAt: epochMs('reopened_at'),
  },
  (t) => [primaryKey({ name: 'lb_ledger_pk', columns: [t.runId, t.serverId, t.stepIndex] })],
);

/**
 * Each balancer's view on the ledger (docs/adr/0026): the state Rollgate last set for a server in a
 * pool on one load balancer of an HA pair, and when. After a balancer missed changes (it did not
 * answer), `lb show` shows where it disagrees with the other.
 */
export const lbLedgerViews = pgTable(
  'lb_ledger_views',
  {
    cluster: text('cluster')
      .notNull()
      .references(() => clusters.name, { onDelete: 'cascade' }),
    balancer: text('balancer').notNull(),
    serverId: text('server_id').notNull(),
    pool: text('pool').notNull(),
    backend: text('backend').notNull(),
    server: text('server').notNull(),
    state: text('state').notNull(),
    setAt: bigint('set_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'lb_ledger_views_pk', columns: [t.cluster, t.balancer, t.serverId, t.pool] })],
);

/**
 * Log lines of runs, actions and agents, stored as chunks: one row holds consecutive lines of one
 * source (run, action, server, step, agent stream) as parallel arrays. Ingest at agent volume is
 * bound by index maintenance per row (a row per line with its three indexes topped out at
 * 60–75k lines/s here); a chunk of ~50 lines costs the same as one line did. Line ids are
 * `chunk id × LOG_CHUNK_SPAN + position`, so they still grow in append order. The `log_lines` view
 * (migration 0010) shows one row per line for psql. No foreign keys on purpose: lines arrive in
 * batches from agents and must never be rejected because a referenced row is missing or was pruned.
 */
export const logChunks = pgTable(
  'log_chunks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: text('run_id'),
    actionId: text('action_id'),
    serverId: text('server_id'),
    stepIndex: integer('step_index'),
    source: text('source').$type<LogRecord['source']>().notNull(),
    streamId: text('stream_id'),
    /** Epoch milliseconds, one per line. */
    ats: bigint('ats', { mode: 'number' }).array().notNull(),
    levels: text('levels').$type<LogLevel[]>().array().notNull(),
    codes: text('codes').array().notNull(),
    messages: text('messages').array().notNull(),
    /** Position of each line in its agent stream; null for lines without a stream. */
    seqs: bigint('seqs', { mode: 'number' }).array(),
    /** When the coordinator stored the chunk (the database's clock): retention prunes by it (0012). */
    storedAt: epochMs('stored_at')
      .notNull()
      .default(sql`now()`),
  },
  (t) => [
    // Following a run's log: WHERE run_id = $1 AND id >= $2 ORDER BY id.
    index('log_chunks_run_id_idx').on(t.runId, t.id),
    // A server's lines (agent output outside runs included).
    index('log_chunks_server_id_idx').on(t.serverId, t.id),
    index('log_chunks_stored_at_idx').using('brin', t.storedAt),
  ],
);

/**
 * Batches of log lines that could never be stored (a value out of its column's range, a data
 * exception), set aside instead of retried for ever (issue 17 item 2, migration 0012). Bounded:
 * at most DEAD_LETTERS_MAX rows, each with at most 100 of its lines; pruned with the logs.
 */
export const logDeadLetters = pgTable(
  'log_dead_letters',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: epochMs('at')
      .notNull()
      .default(sql`now()`),
    reason: text('reason').notNull(),
    lineCount: integer('line_count').notNull(),
    serverIds: text('server_ids').array().notNull(),
    runIds: text('run_ids').array().notNull(),
    lines: jsonb('lines').$type<unknown[]>().notNull(),
  },
  (t) => [index('log_dead_letters_at_idx').on(t.at)],
);

/**
 * How far each agent log stream is stored: agents resend lines the coordinator never
 * acknowledged, and a line whose seq is at or below `storedSeq` is already here. One row per agent
 * process (a restarted agent opens a new stream); locked while a batch of its lines is written, so
 * two coordinators storing the same resent lines keep them once.
 */
export const logStreams = pgTable(
  'log_streams',
  {
    serverId: text('server_id').notNull(),
    streamId: text('stream_id').notNull(),
    storedSeq: bigint('stored_seq', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'log_streams_pk', columns: [t.serverId, t.streamId] })],
);

export const auditEvents = pgTable('audit_events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  at: epochMs('at').notNull(),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  target: text('target').notNull(),
  details: jsonb('details').$type<Record<string, unknown>>().notNull(),
});

/** Operator accounts. The password is kept as an scrypt hash only. */
export const users = pgTable('users', {
  id: text('id').primaryKey(),
  username: text('username').notNull().unique(),
  role: text('role').$type<Role>().notNull(),
  passwordHash: text('password_hash').notNull(),
  createdAt: epochMs('created_at').notNull(),
  createdBy: text('created_by').notNull(),
  disabledAt: epochMs('disabled_at'),
});

/** Sign-in sessions, keyed by the sha256 of the bearer token (never the token). */
export const sessions = pgTable(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: epochMs('created_at').notNull(),
    expiresAt: epochMs('expires_at').notNull(),
    from: text('from_address').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_expires_idx').on(t.expiresAt)],
);

/** Customers' portal links, one run each, keyed by the sha256 of the token. */
export const portalTokens = pgTable(
  'portal_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    runId: text('run_id').notNull(),
    recipient: text('recipient').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: epochMs('created_at').notNull(),
    expiresAt: epochMs('expires_at').notNull(),
    revokedAt: epochMs('revoked_at'),
  },
  (t) => [index('portal_tokens_run_idx').on(t.runId)],
);

/** Sign-in attempts per key in a fixed window, shared by all coordinators (docs/adr/0020). */
export const loginAttempts = pgTable(
  'login_attempts',
  {
    key: text('key').primaryKey(),
    /** Epoch ms when the key's window began. */
    windowStart: bigint('window_start', { mode: 'number' }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [index('login_attempts_window_idx').on(t.windowStart)],
);

// Agent identities (join tokens, agent certificates, transports): docs/adr/0013.
export * from './identity-schema';
// Service tokens for CI: docs/adr/0031.
export * from './service-tokens-schema';

/**
 * Per-cluster subscriptions to run events (issue 16 item 4, migration 0016, docs/adr/0032): a
 * webhook (url + the HMAC secret, never returned by the API) or email to the run's contacts.
 */
export const notifySubscriptions = pgTable(
  'notify_subscriptions',
  {
    id: text('id').primaryKey(),
    cluster: text('cluster').notNull(),
    kind: text('kind').$type<'webhook' | 'email'>().notNull(),
    url: text('url'),
    secret: text('secret'),
    events: text('events').array().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: epochMs('created_at').notNull(),
  },
  (t) => [index('notify_subscriptions_cluster_idx').on(t.cluster)],
);

/** One event for one subscription: written before it is sent, retried with back-off until done. */
export const notifyDeliveries = pgTable(
  'notify_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    subscriptionId: text('subscription_id')
      .notNull()
      .references(() => notifySubscriptions.id, { onDelete: 'cascade' }),
    runId: text('run_id'),
    event: text('event').notNull(),
    payload: jsonb('payload').notNull(),
    status: text('status').$type<'pending' | 'delivered' | 'failed'>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAt: epochMs('next_at').notNull(),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: epochMs('created_at').notNull(),
    finishedAt: epochMs('finished_at'),
  },
  (t) => [
    index('notify_deliveries_due_idx')
      .on(t.nextAt)
      .where(sql`${t.status} = 'pending'`),
    index('notify_deliveries_subscription_idx').on(t.subscriptionId, t.id),
  ],
);
