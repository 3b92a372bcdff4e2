// The whole coordinator as one server: `createCoordinator(opts) → { start, stop }` (docs/adr/0038).
// main.ts builds the options from env.ts (the only reader of process.env) and calls it; tools that
// need a coordinator in their own process (tools/bench) call it with options of their own.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  createDb,
  createLogDeadLetters,
  createLogWriter,
  createPgAuthStore,
  createPgLoginAttempts,
  createPgIdentityStore,
  createPgServiceTokenStore,
  createPgLbLedgerViews,
  createPgNotifier,
  createPgStore,
  defaultMigrationsFolder,
} from '@rollgate/db';
import { createRunChanges, storeWithRunChanges } from '@rollgate/api';
import { MSG } from '@rollgate/domain';
import {
  createEngine,
  type AgentBus,
  type Clock,
  type Engine,
  type EngineStore,
  type LogRecord,
} from '@rollgate/engine';
import { createLogger, type Logger } from '@rollgate/logger';
import { createAgentGateway, type AgentGatewayEvents } from './agents/agent-gateway';
import { loadAgentCa, type AgentCa } from './identity/agent-ca';
import { createAgentIdentity, type AgentIdentity } from './identity/agent-identity';
import { createEnrolmentServer } from './identity/enrolment-server';
import { createStreamGuard } from './agents/stream-guard';
import { createArtifactStore } from './editions/artifact-store';
import { auditWithOrigin, DEFAULT_PROXY_TRUST, type ProxyTrust } from './http/request-origin';
import { createLbAdapter } from './lb/lb-adapter';
import { AGENT_CHANNEL, createPeerBus, RUN_CHANNEL } from './background/peer-bus';
import { createHttpServer } from './http/http-server';
import { createScheduledPrecheck } from './services/readiness-check';
import { createAuthService } from './http/auth-service';
import { createBootstrapSecret } from './http/bootstrap-secret';
import { createCoordinatorServices } from './services';
import { createServiceTokens } from './http/service-tokens';
import { createRetention } from './background/retention';
import { createNotifier } from './notifications/notifier';
import { createCoordinatorMetrics, storeWithMetrics } from './watching/metrics';
import { createReadiness } from './watching/readiness';
import { createGrpcHealth } from './watching/grpc-health';
import { z } from 'zod';

export const COORDINATOR_VERSION = '0.1.0';

/**
 * Everything a coordinator is configured with. The defaults are env.ts's (README "Configuration");
 * main.ts passes every value it read, so the two never disagree for the operator.
 */
export interface CoordinatorOptions {
  /** Data directory (embedded PostgreSQL, artifacts, agent CA, bootstrap secret); created if missing. */
  dataDir: string;
  /** An external PostgreSQL (postgres://…); default the embedded one in `dataDir`. */
  databaseUrl?: string;
  /** Default a pino logger named `coordinator` at `logLevel`. */
  log?: Logger;
  /** Used only when `log` is not given; default 'info'. */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** tRPC/HTTP API (also /healthz, /readyz, /metrics); default 127.0.0.1:7400, port 0 for a free one. */
  httpHost?: string;
  httpPort?: number;
  /** Agents' gRPC stream; default 127.0.0.1:7401, port 0 for a free one. */
  grpcHost?: string;
  grpcPort?: number;
  /** Enrolment (HTTPS); default the gRPC host, port 7402. Not started with `insecureAgents`. */
  enrolHost?: string;
  enrolPort?: number;
  /** Interval agents send heartbeats at, ms; default 5000. */
  heartbeatMs?: number;
  /** Unique per coordinator sharing a database, stable across restarts; default `<host>:<dataDir>`. */
  coordinatorId?: string;
  /** Run leases (several coordinators): time to live and renewal, ms; default 3000 and 1000. */
  leaseTtlMs?: number;
  leaseRenewMs?: number;
  /** Edition archives; default `<dataDir>/artifacts` (shared storage for several coordinators). */
  artifactsDir?: string;
  /** Largest edition archive, streamed or fetched by URL, bytes; default 4 GiB (docs/adr/0036). */
  maxEditionBytes?: number;
  /** How long fetching an edition by URL may take, ms; default 30 minutes. */
  editionFetchTimeoutMs?: number;
  /** Plaintext agent streams, no enrolment (docs/adr/0013): loopback benches and tests only. Default false. */
  insecureAgents?: boolean;
  /** The agent CA's directory; default `<dataDir>/agent-ca`. */
  agentCaDir?: string;
  /** An operator-supplied CA instead (PEM paths); default none (a CA kept in `agentCaDir`). */
  agentCa?: { certPath: string; keyPath: string };
  /** Names and addresses in the TLS server certificate; default localhost, 127.0.0.1 and a specific grpcHost. */
  tlsServerNames?: string[];
  /** Lifetime of agents' certificates, ms; default 24 h. */
  agentCertLifetimeMs?: number;
  /** Failed enrolments per address per 5 minutes before it is refused; default 10. */
  enrolRateLimit?: number;
  /** How often open agent streams are re-checked for revocation and expiry, ms; default 10000. */
  identityRecheckMs?: number;
  /** Per-agent log quotas and bounds (docs/adr/0019); defaults 5000 lines/s, 4000000 chars/s, 16384, 1000. */
  agentLogs?: {
    linesPerSecond?: number;
    charsPerSecond?: number;
    maxLineChars?: number;
    maxBatchLines?: number;
  };
  /** Days log lines are kept; default 90. */
  logRetentionDays?: number;
  /** How often old logs, sessions and portal links are pruned, ms; default 1 h. */
  pruneIntervalMs?: number;
  /** Whose X-Forwarded-For the API believes (docs/adr/0020); default loopback, one hop. */
  proxyTrust?: ProxyTrust;
  /** Host header names the API answers to (lower case); default loopback names, httpHost, tlsServerNames. */
  allowedHosts?: string[];
  /** Email notifications through this relay (docs/adr/0032); default none. `from` default rollgate@<host>. */
  smtp?: { host: string; port?: number; from?: string };
  /** The console's public base URL, for emailed portal links; default none. */
  consoleUrl?: string;
  /** Notification delivery: attempts, first retry wait (ms), pending per subscription; default 8, 5000, 1000. */
  notify?: { maxAttempts?: number; retryBaseMs?: number; maxPending?: number };
  /**
   * Measurement taps for tools/bench only: nothing of the product sets them, and unset they change
   * nothing. `store` wraps the PostgreSQL store (innermost), `bus` the bus the engine dispatches
   * through, `agentEvents` wraps the coordinator's handlers of gateway events (the tap chooses
   * whether it looks before or after them), `onRecord` sees every line the engine emits, `newRunId`
   * names new runs (default r-<UTC stamp>-<6 hex>).
   */
  taps?: {
    store?: <S extends EngineStore>(store: S) => S;
    bus?: (bus: AgentBus) => AgentBus;
    agentEvents?: (events: AgentGatewayEvents) => AgentGatewayEvents;
    onRecord?: (r: LogRecord) => void;
    newRunId?: () => string;
  };
}

/** Where a started coordinator listens. */
export interface CoordinatorAddresses {
  grpcPort: number;
  httpPort: number;
  /** Absent with `insecureAgents`. */
  enrolPort?: number;
  /** The agent CA's SHA-256 fingerprint; absent with `insecureAgents`. */
  caFingerprint?: string;
}

export interface Coordinator {
  /** Starts the database, the engine and every listener; resolves once all of them are up. */
  start(): Promise<CoordinatorAddresses>;
  /** Stops listeners first, then the engine and jobs, then flushes logs and stops the database. */
  stop(): Promise<void>;
  /** The engine (after start): tools/bench creates runs through it. */
  readonly engine: Engine;
  /** The agents' bus (after start): which agents are connected. */
  readonly agents: AgentBus;
  /** The logger it writes to (`opts.log` or its own). */
  readonly log: Logger;
}

function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `r-${stamp}-${randomBytes(3).toString('hex')}`;
}

function defaultTlsServerNames(grpcHost: string): string[] {
  // A specific listen address is one agents dial too.
  return [
    'localhost',
    '127.0.0.1',
    ...(['127.0.0.1', 'localhost', '0.0.0.0', '::'].includes(grpcHost) ? [] : [grpcHost]),
  ];
}

const int = (min: number, max: number) => z.number().int().min(min).max(max).optional();
const port = int(0, 65535);
// The bounds are env.ts's: a tool gets the same refusal as an operator (functions are not checked).
const optionsSchema = z
  .object({
    dataDir: z.string().min(1, 'dataDir is required, e.g. .rollgate'),
    databaseUrl: z.string().url('databaseUrl must be a postgres:// URL').optional(),
    httpPort: port,
    grpcPort: port,
    enrolPort: port,
    heartbeatMs: int(100, 600_000),
    // env.ts checks an operator-given id; its default (host:data directory) may hold any character.
    coordinatorId: z.string().min(1).optional(),
    leaseTtlMs: int(500, 600_000),
    leaseRenewMs: int(50, 300_000),
    maxEditionBytes: int(1024, 2 ** 50),
    editionFetchTimeoutMs: int(1000, 86_400_000),
    agentCertLifetimeMs: int(10_000, 90 * 86_400_000),
    enrolRateLimit: int(1, 100_000),
    identityRecheckMs: int(100, 600_000),
    agentLogs: z
      .object({
        linesPerSecond: int(10, 10_000_000),
        charsPerSecond: int(1000, 1_000_000_000),
        maxLineChars: int(256, 1_048_576),
        maxBatchLines: int(50, 100_000),
      })
      .optional(),
    logRetentionDays: int(1, 36_500),
    pruneIntervalMs: int(1000, 86_400_000),
    smtp: z.object({ host: z.string().min(1).max(253), port }).optional(),
    consoleUrl: z.string().url('consoleUrl must be an http(s) URL').optional(),
    notify: z
      .object({
        maxAttempts: int(1, 50),
        retryBaseMs: int(10, 3_600_000),
        maxPending: int(1, 1_000_000),
      })
      .optional(),
  })
  .refine((o) => (o.leaseRenewMs ?? 1000) * 2 <= (o.leaseTtlMs ?? 3000), {
    message: 'leaseRenewMs must be at most half of leaseTtlMs, so one late renewal does not lose a run',
    path: ['leaseRenewMs'],
  });

/** Refuses options out of env.ts's bounds, naming each one, before anything is started. */
function checkOptions(opts: CoordinatorOptions): void {
  const parsed = optionsSchema.safeParse(opts);
  if (parsed.success) return;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new Error(`invalid coordinator options:\n${lines.join('\n')}`);
}

/** The coordinator: database, engine, agent gateway (gRPC), enrolment (HTTPS), HTTP/tRPC API, jobs. */
export function createCoordinator(opts: CoordinatorOptions): Coordinator {
  checkOptions(opts);
  const dataDir = resolve(opts.dataDir);
  const httpHost = opts.httpHost ?? '127.0.0.1';
  const grpcHost = opts.grpcHost ?? '127.0.0.1';
  const enrolHost = opts.enrolHost ?? grpcHost;
  const coordinatorId = opts.coordinatorId ?? `${hostname()}:${dataDir}`;
  const tlsServerNames = opts.tlsServerNames ?? defaultTlsServerNames(grpcHost);
  const allowedHosts = opts.allowedHosts ?? [
    ...new Set(
      [
        'localhost',
        '127.0.0.1',
        '::1',
        ...(['0.0.0.0', '::'].includes(httpHost) ? [] : [httpHost.toLowerCase()]),
        ...tlsServerNames,
      ].map((h) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1')),
    ),
  ];
  const log = opts.log ?? createLogger({ name: 'coordinator', level: opts.logLevel ?? 'info' });
  const taps = opts.taps ?? {};
  const tapEvents = taps.agentEvents ?? ((events: AgentGatewayEvents) => events);
  let running: { engine: Engine; agents: AgentBus; stop: () => Promise<void> } | undefined;
  let starting: Promise<CoordinatorAddresses> | undefined;

  async function start(): Promise<CoordinatorAddresses> {
    const clock: Clock = { now: () => Date.now() };
    await mkdir(dataDir, { recursive: true });

    const db = createDb({
      dataDir,
      ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
      logger: log,
    });
    await db.start();
    // Every audit entry written while serving an API call says from where (request-origin.ts).
    // Every write of a run wakes its live streams (upgrade.watch: `--wait`, the console), docs/adr/0024;
    // they read once the engine is done moving the run (docs/adr/0052). The engine comes later.
    const late: { settled?: (runId: string) => Promise<void> } = {};
    const runChanges = createRunChanges({
      settled: (id) => late.settled?.(id) ?? Promise.resolve(),
      // Called by a live stream only, which is served after the writer below exists.
      flushLines: () => logWriter.flush(),
    });
    // One registry for the coordinator (docs/adr/0030); its gauges are read at scrape time.
    const metrics = createCoordinatorMetrics({
      gauges: {
        runsByState: async () => {
          const { rows } = await db.pool.query<{ status: string; n: number }>(
            'SELECT status, count(*)::int AS n FROM runs GROUP BY status',
          );
          return Object.fromEntries(rows.map((r) => [r.status, r.n]));
        },
        serversOutOfRotation: async () => {
          const { rows } = await db.pool.query<{ n: number }>(
            'SELECT count(DISTINCT server_id)::int AS n FROM lb_ledger WHERE reopened_at IS NULL',
          );
          return rows[0]?.n ?? 0;
        },
        agentsConnected: () => gateway.connectedCount(),
        logWriter: () => logWriter.stats(),
        ready: async () => (await readiness.check()).ready,
      },
    });
    const readiness = createReadiness({ pool: () => db.pool, migrationsFolder: defaultMigrationsFolder() });
    const pgStore = createPgStore(db.db);
    const store = storeWithMetrics(
      storeWithRunChanges(auditWithOrigin(taps.store ? taps.store(pgStore) : pgStore), runChanges),
      metrics,
    );
    // pg-store commits appends in call order and fails one started behind a failed one: while one
    // commits, the next ones are sent (3 measured best here; 4 no better, and each holds a connection).
    // Lines that can never be stored are set aside (log_dead_letters) with an alert, never retried
    // for ever behind every agent's stream (issue 17 item 2, docs/adr/0019).
    const deadLetters = createLogDeadLetters(db.db);
    const logWriter = createLogWriter({
      store,
      pipeline: 3,
      logger: log,
      deadLetter: (lines, reason) => deadLetters.put(lines, reason),
      onSetAside: ({ lines, reason }) => setAsideAlert(lines, reason),
    });
    function setAsideAlert(lines: LogRecord[], reason: string) {
      const first = lines[0]!;
      const detail =
        `${lines.length} line(s) from ${first.serverId ?? first.source} (${reason}); ` +
        'list them with SELECT * FROM log_dead_letters ORDER BY id DESC';
      log.error(
        { code: MSG.logLinesSetAside.code, lines: lines.length, serverId: first.serverId, reason },
        detail,
      );
      logWriter.write({
        runId: first.runId,
        actionId: null,
        serverId: first.serverId,
        stepIndex: null,
        at: clock.now(),
        level: 'error',
        code: MSG.logLinesSetAside.code,
        message: `${MSG.logLinesSetAside.text}: ${detail}`,
        source: 'coordinator',
      });
    }
    const retention = createRetention({
      db: db.db,
      log,
      logRetentionDays: opts.logRetentionDays ?? 90,
      intervalMs: opts.pruneIntervalMs ?? 3_600_000,
    });
    const artifacts = createArtifactStore({
      dir: resolve(opts.artifactsDir ?? join(dataDir, 'artifacts')),
      ...(opts.maxEditionBytes ? { maxBytes: opts.maxEditionBytes } : {}),
      ...(opts.editionFetchTimeoutMs ? { fetchTimeoutMs: opts.editionFetchTimeoutMs } : {}),
    });
    const lb = createLbAdapter({
      store,
      log,
      views: createPgLbLedgerViews(db.db),
      onOperation: (result) => metrics.lbOperation(result),
    });

    // Agent identity (docs/adr/0013): mTLS with certificates from our CA unless the operator opted out.
    const identityStore = createPgIdentityStore(db.db);
    let ca: AgentCa | undefined;
    let identity: AgentIdentity | undefined;
    if (opts.insecureAgents) {
      log.warn(
        { grpc: `${grpcHost}:${opts.grpcPort ?? 7401}` },
        'ROLLGATE_INSECURE_AGENTS is set: agents connect over plaintext gRPC with no identity check, and every one is flagged insecure in servers.list. Use this only on loopback for benches and tests.',
      );
    } else {
      ca = await loadAgentCa({
        dir: resolve(opts.agentCaDir ?? join(dataDir, 'agent-ca')),
        ...(opts.agentCa ?? {}),
        serverNames: tlsServerNames,
      });
      identity = createAgentIdentity({
        store: identityStore,
        ca,
        audit: (e) => store.appendAudit(e),
        log,
        certLifetimeMs: opts.agentCertLifetimeMs ?? 86_400_000,
        onRevoked: (serverId) => guard.kick(serverId),
      });
    }
    const guard = createStreamGuard({
      store: identityStore,
      ...(identity ? { identity } : {}),
      log,
      recheckMs: opts.identityRecheckMs ?? 10_000,
    });
    const enrolment =
      ca && identity
        ? createEnrolmentServer({
            host: enrolHost,
            port: opts.enrolPort ?? 7402,
            ca,
            identity,
            log,
            rateLimit: opts.enrolRateLimit ?? 10,
          })
        : undefined;

    // The gateway and the engine need each other; the gateway's callbacks only run after start(),
    // by which time `engine` below is initialised.
    const gateway = createAgentGateway(
      {
        host: grpcHost,
        port: opts.grpcPort ?? 7401,
        store,
        artifacts,
        logs: {
          write: (r) => {
            const accepted = logWriter.write(r);
            if (accepted) metrics.logLines('agent', 1);
            return accepted;
          },
          flush: () => logWriter.flush(),
          whenWritable: () => logWriter.whenWritable(),
        },
        log,
        clock,
        version: COORDINATOR_VERSION,
        heartbeatIntervalMs: opts.heartbeatMs ?? 5000,
        logLimits: {
          linesPerSecond: opts.agentLogs?.linesPerSecond ?? 5000,
          charsPerSecond: opts.agentLogs?.charsPerSecond ?? 4_000_000,
          maxLineChars: opts.agentLogs?.maxLineChars ?? 16_384,
          maxBatchLines: opts.agentLogs?.maxBatchLines ?? 1000,
        },
        coordinatorId,
        extraServices: [
          createGrpcHealth({
            services: ['rollgate.agent.v1.AgentService'],
            ready: async () => (await readiness.check()).ready,
          }),
        ],
        // Client certificates are required and must chain to our CA; Hello then pins the server id.
        ...(ca
          ? {
              credentials: grpc.ServerCredentials.createSsl(
                Buffer.from(ca.caCertPem),
                [{ private_key: Buffer.from(ca.server.keyPem), cert_chain: Buffer.from(ca.server.certPem) }],
                true,
              ),
            }
          : {}),
        checkIdentity: (peer, hello, end) => guard.check(peer, hello, end),
        checkArtifact: (peer, agentId, sha256) =>
          guard.checkArtifact(peer, agentId, sha256, (id) => store.getOutstandingActions(id)),
      },
      tapEvents({
        onActionUpdate: (u) => engine.onActionUpdate(u),
        onAgentConnected: (id) => engine.onAgentConnected(id),
        onAgentLost: (id) => {
          metrics.agentLost();
          return engine.onAgentLost(id);
        },
      }),
    );
    // Several coordinators may share the database: each listens for its peers' commands to agents
    // whose streams it holds, and for "re-evaluate this run" addressed to the run's leader.
    const publish = (channel: string, payload: string) => notifier.notify(db.pool, channel, payload);
    const peers = createPeerBus({
      local: gateway.bus,
      store,
      coordinatorId,
      publish,
      log,
    });
    const notifier = createPgNotifier({
      url: db.url,
      channels: [AGENT_CHANNEL, RUN_CHANNEL],
      logger: log,
      onNotification: (channel, payload) => {
        if (channel === AGENT_CHANNEL) {
          peers
            .onAgentNotification(payload)
            .catch((err: unknown) => log.error({ err }, 'forwarding a peer command failed'));
        } else if (channel === RUN_CHANNEL && engine.leads(payload)) {
          void engine.kick(payload);
        }
      },
    });
    // Run events to signed webhooks and to the contacts by email (docs/adr/0032): fed from the
    // engine's coded lines as they are emitted, so the engine itself knows nothing of it.
    const notifications = createNotifier({
      pool: db.pool,
      store,
      log,
      notice: (runId) => services.runs.notice(runId),
      createPortalToken: (...a) => services.auth.createPortalToken(...a),
      revokePortalLink: (runId, linkId) => services.auth.revokePortalLink(runId, linkId),
      ...(opts.consoleUrl ? { consoleUrl: opts.consoleUrl } : {}),
      ...(opts.smtp
        ? {
            smtp: {
              host: opts.smtp.host,
              port: opts.smtp.port ?? 25,
              from: opts.smtp.from ?? `rollgate@${hostname()}`,
            },
          }
        : {}),
      maxAttempts: opts.notify?.maxAttempts ?? 8,
      retryBaseMs: opts.notify?.retryBaseMs ?? 5000,
      maxPending: opts.notify?.maxPending ?? 1000,
    });
    const engine = createEngine({
      store,
      bus: taps.bus ? taps.bus(peers.bus) : peers.bus,
      leases: store,
      holder: coordinatorId,
      leaseTtlMs: opts.leaseTtlMs ?? 3000,
      leaseRenewMs: opts.leaseRenewMs ?? 1000,
      notifyLeader: (runId) => {
        publish(RUN_CHANNEL, runId).catch((err: unknown) =>
          log.warn({ err, runId }, 'could not tell the run leader to re-evaluate; its next tick will'),
        );
      },
      clock,
      emit: (r) => {
        if (logWriter.write(r)) metrics.logLines('coordinator', 1);
        notifications.onRecord(r);
        taps.onRecord?.(r);
      },
      log,
      newRunId: taps.newRunId ?? (() => newRunId(new Date(clock.now()))),
      lb: lb.port,
      precheck: createScheduledPrecheck({ store, now: () => clock.now() }),
    });
    late.settled = engine.settled;
    const authStore = createPgAuthStore(db.db);
    // `rollgate admin init` reads this file on this machine (docs/adr/0020); it is never logged.
    const bootstrapSecret = createBootstrapSecret({ dataDir });
    if (await bootstrapSecret.prepare((await authStore.countUsers()) > 0)) {
      log.info(
        { file: bootstrapSecret.path },
        'no administrator yet: run `rollgate admin init` on this machine',
      );
    }
    const services = createCoordinatorServices({
      version: COORDINATOR_VERSION,
      auth: createAuthService({
        store: authStore,
        clock,
        attempts: createPgLoginAttempts(db.db),
        bootstrapSecret,
      }),
      tokens: createServiceTokens({ store: createPgServiceTokenStore(db.db), clock }),
      store,
      engine,
      artifacts,
      clock,
      lb,
      ...(identity ? { agents: identity } : {}),
    });
    const http = createHttpServer({
      host: httpHost,
      port: opts.httpPort ?? 7400,
      services: { ...services, runChanges, notify: notifications.api },
      log,
      proxyTrust: opts.proxyTrust ?? DEFAULT_PROXY_TRUST,
      allowedHosts,
      metrics,
      readiness,
    });

    await notifier.start();
    await engine.start();
    const grpcPort = await gateway.start();
    guard.start();
    retention.start();
    notifications.start();
    const enrolPort = await enrolment?.start();
    const httpPort = await http.start();
    running = {
      engine,
      agents: gateway.bus,
      stop: async () => {
        await http.stop();
        guard.stop();
        await enrolment?.stop();
        await gateway.stop();
        await engine.stop();
        await retention.stop();
        await notifications.stop();
        await notifier.stop();
        try {
          // Lines it could not store (the database gone) are lost either way; the database must
          // still be stopped, or an embedded PostgreSQL outlives its coordinator.
          await logWriter.stop();
        } finally {
          await db.stop();
        }
      },
    };
    log.info(
      {
        grpc: `${grpcHost}:${grpcPort}`,
        api: `http://${httpHost}:${httpPort}/trpc`,
        dataDir,
        database: opts.databaseUrl ? 'external' : 'embedded',
        coordinatorId,
        agents: ca
          ? { tls: 'mtls', enrol: `https://${enrolHost}:${enrolPort}`, caFingerprint: ca.fingerprint }
          : { tls: 'insecure' },
      },
      'coordinator ready',
    );
    return {
      grpcPort,
      httpPort,
      ...(enrolPort !== undefined ? { enrolPort } : {}),
      ...(ca ? { caFingerprint: ca.fingerprint } : {}),
    };
  }

  function started<T>(what: string, get: (r: NonNullable<typeof running>) => T): T {
    if (!running) throw new Error(`the coordinator's ${what} exists once start() has resolved`);
    return get(running);
  }

  return {
    log,
    start() {
      if (starting) throw new Error('createCoordinator: start() was already called; create another');
      starting = start();
      return starting;
    },
    async stop() {
      // A start that failed half way leaves nothing to stop here; the caller exits.
      await starting?.catch(() => undefined);
      const r = running;
      running = undefined;
      await r?.stop();
    },
    get engine() {
      return started('engine', (r) => r.engine);
    },
    get agents() {
      return started('agents', (r) => r.agents);
    },
  };
}
