import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
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
import { createEngine, type Clock, type LogRecord } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
import { createAgentGateway } from './agent-gateway';
import { loadAgentCa, type AgentCa } from './agent-ca';
import { createAgentIdentity, type AgentIdentity } from './agent-identity';
import { createEnrolmentServer } from './enrolment-server';
import { createStreamGuard } from './stream-guard';
import { createArtifactStore } from './artifact-store';
import { auditWithOrigin } from './request-origin';
import { createLbAdapter } from './lb-adapter';
import { AGENT_CHANNEL, createPeerBus, RUN_CHANNEL } from './peer-bus';
import { readEnv } from './env';
import { createHttpServer } from './http-server';
import { createScheduledPrecheck } from './readiness-check';
import { createAuthService } from './auth-service';
import { createBootstrapSecret } from './bootstrap-secret';
import { createCoordinatorServices } from './services';
import { createServiceTokens } from './service-tokens';
import { createRetention } from './retention';
import { createNotifier } from './notifications/notifier';
import { createCoordinatorMetrics, storeWithMetrics } from './metrics';
import { createReadiness } from './readiness';
import { createGrpcHealth } from './grpc-health';
import { versionLine } from './version';

export const COORDINATOR_VERSION = '0.1.0';

function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `r-${stamp}-${randomBytes(3).toString('hex')}`;
}

async function main() {
  // Before the environment is read: `--version` works on a machine not yet configured.
  if (process.argv.slice(2).includes('--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  const env = readEnv();
  const log = createLogger({ name: 'coordinator', level: env.ROLLGATE_LOG_LEVEL });
  const clock: Clock = { now: () => Date.now() };
  await mkdir(env.dataDir, { recursive: true });

  const db = createDb({
    dataDir: env.dataDir,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    logger: log,
  });
  await db.start();
  // Every audit entry written while serving an API call says from where (request-origin.ts).
  // Every write of a run wakes its live streams (upgrade.watch: `--wait`, the console), docs/adr/0024.
  const runChanges = createRunChanges();
  // One registry for the process (docs/adr/0030); its gauges are read at scrape time.
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
  const store = storeWithMetrics(
    storeWithRunChanges(auditWithOrigin(createPgStore(db.db)), runChanges),
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
    logRetentionDays: env.ROLLGATE_LOG_RETENTION_DAYS,
    intervalMs: env.ROLLGATE_PRUNE_INTERVAL_MS,
  });
  const artifacts = createArtifactStore({ dir: env.artifactsDir });
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
  if (env.ROLLGATE_INSECURE_AGENTS) {
    log.warn(
      { grpc: `${env.ROLLGATE_GRPC_HOST}:${env.ROLLGATE_GRPC_PORT}` },
      'ROLLGATE_INSECURE_AGENTS is set: agents connect over plaintext gRPC with no identity check, and every one is flagged insecure in servers.list. Use this only on loopback for benches and tests.',
    );
  } else {
    ca = await loadAgentCa({
      dir: env.agentCaDir,
      ...(env.ROLLGATE_AGENT_CA_CERT && env.ROLLGATE_AGENT_CA_KEY
        ? { certPath: env.ROLLGATE_AGENT_CA_CERT, keyPath: env.ROLLGATE_AGENT_CA_KEY }
        : {}),
      serverNames: env.tlsServerNames,
    });
    identity = createAgentIdentity({
      store: identityStore,
      ca,
      audit: (e) => store.appendAudit(e),
      log,
      certLifetimeMs: env.ROLLGATE_AGENT_CERT_LIFETIME_MS,
      onRevoked: (serverId) => guard.kick(serverId),
    });
  }
  const guard = createStreamGuard({
    store: identityStore,
    ...(identity ? { identity } : {}),
    log,
    recheckMs: env.ROLLGATE_IDENTITY_RECHECK_MS,
  });
  const enrolment =
    ca && identity
      ? createEnrolmentServer({
          host: env.ROLLGATE_ENROL_HOST ?? env.ROLLGATE_GRPC_HOST,
          port: env.ROLLGATE_ENROL_PORT,
          ca,
          identity,
          log,
          rateLimit: env.ROLLGATE_ENROL_RATE_LIMIT,
        })
      : undefined;

  // The gateway and the engine need each other; the gateway's callbacks only run after start(),
  // by which time `engine` below is initialised.
  const gateway = createAgentGateway(
    {
      host: env.ROLLGATE_GRPC_HOST,
      port: env.ROLLGATE_GRPC_PORT,
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
      heartbeatIntervalMs: env.ROLLGATE_HEARTBEAT_MS,
      logLimits: {
        linesPerSecond: env.ROLLGATE_AGENT_LOG_LINES_PER_S,
        charsPerSecond: env.ROLLGATE_AGENT_LOG_CHARS_PER_S,
        maxLineChars: env.ROLLGATE_LOG_MAX_LINE_CHARS,
        maxBatchLines: env.ROLLGATE_LOG_MAX_BATCH_LINES,
      },
      coordinatorId: env.coordinatorId,
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
    {
      onActionUpdate: (u) => engine.onActionUpdate(u),
      onAgentConnected: (id) => engine.onAgentConnected(id),
      onAgentLost: (id) => {
        metrics.agentLost();
        return engine.onAgentLost(id);
      },
    },
  );
  // Several coordinators may share the database: each listens for its peers' commands to agents
  // whose streams it holds, and for "re-evaluate this run" addressed to the run's leader.
  const publish = (channel: string, payload: string) => notifier.notify(db.pool, channel, payload);
  const peers = createPeerBus({
    local: gateway.bus,
    store,
    coordinatorId: env.coordinatorId,
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
    ...(env.ROLLGATE_CONSOLE_URL ? { consoleUrl: env.ROLLGATE_CONSOLE_URL } : {}),
    ...(env.ROLLGATE_SMTP_HOST
      ? {
          smtp: {
            host: env.ROLLGATE_SMTP_HOST,
            port: env.ROLLGATE_SMTP_PORT,
            from: env.ROLLGATE_SMTP_FROM ?? `rollgate@${hostname()}`,
          },
        }
      : {}),
    maxAttempts: env.ROLLGATE_NOTIFY_MAX_ATTEMPTS,
    retryBaseMs: env.ROLLGATE_NOTIFY_RETRY_BASE_MS,
    maxPending: env.ROLLGATE_NOTIFY_MAX_PENDING,
  });
  const engine = createEngine({
    store,
    bus: peers.bus,
    leases: store,
    holder: env.coordinatorId,
    leaseTtlMs: env.ROLLGATE_LEASE_TTL_MS,
    leaseRenewMs: env.ROLLGATE_LEASE_RENEW_MS,
    notifyLeader: (runId) => {
      publish(RUN_CHANNEL, runId).catch((err: unknown) =>
        log.warn({ err, runId }, 'could not tell the run leader to re-evaluate; its next tick will'),
      );
    },
    clock,
    emit: (r) => {
      if (logWriter.write(r)) metrics.logLines('coordinator', 1);
      notifications.onRecord(r);
    },
    log,
    newRunId: () => newRunId(new Date(clock.now())),
    lb: lb.port,
    precheck: createScheduledPrecheck({ store, now: () => clock.now() }),
  });
  const authStore = createPgAuthStore(db.db);
  // `rollgate admin init` reads this file on this machine (docs/adr/0020); it is never logged.
  const bootstrapSecret = createBootstrapSecret({ dataDir: env.dataDir });
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
    host: env.ROLLGATE_HTTP_HOST,
    port: env.ROLLGATE_HTTP_PORT,
    services: { ...services, runChanges, notify: notifications.api },
    log,
    proxyTrust: env.proxyTrust,
    allowedHosts: env.allowedHosts,
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
  log.info(
    {
      grpc: `${env.ROLLGATE_GRPC_HOST}:${grpcPort}`,
      api: `http://${env.ROLLGATE_HTTP_HOST}:${httpPort}/trpc`,
      dataDir: env.dataDir,
      database: env.DATABASE_URL ? 'external' : 'embedded',
      coordinatorId: env.coordinatorId,
      agents: ca
        ? {
            tls: 'mtls',
            enrol: `https://${env.ROLLGATE_ENROL_HOST ?? env.ROLLGATE_GRPC_HOST}:${enrolPort}`,
            caFingerprint: ca.fingerprint,
          }
        : { tls: 'insecure' },
    },
    'coordinator ready',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'coordinator stopping');
    await http.stop();
    guard.stop();
    await enrolment?.stop();
    await gateway.stop();
    await engine.stop();
    await retention.stop();
    await notifications.stop();
    await notifier.stop();
    await logWriter.stop();
    await db.stop();
    log.info({}, 'coordinator stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  // Startup errors are for the operator: print the message plainly, not a stack.
  process.stderr.write(`rollgate coordinator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
