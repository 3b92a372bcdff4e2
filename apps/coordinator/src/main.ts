import { readEnv, type CoordinatorEnv } from './env';
import { createCoordinator, type CoordinatorOptions } from './create-coordinator';
import { versionLine } from './version';

/** Every setting the operator gave (or env.ts defaulted), passed explicitly: no default is decided twice. */
function optionsFromEnv(env: CoordinatorEnv): CoordinatorOptions {
  return {
    dataDir: env.dataDir,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    logLevel: env.ROLLGATE_LOG_LEVEL,
    httpHost: env.ROLLGATE_HTTP_HOST,
    httpPort: env.ROLLGATE_HTTP_PORT,
    grpcHost: env.ROLLGATE_GRPC_HOST,
    grpcPort: env.ROLLGATE_GRPC_PORT,
    enrolHost: env.ROLLGATE_ENROL_HOST ?? env.ROLLGATE_GRPC_HOST,
    enrolPort: env.ROLLGATE_ENROL_PORT,
    heartbeatMs: env.ROLLGATE_HEARTBEAT_MS,
    coordinatorId: env.coordinatorId,
    leaseTtlMs: env.ROLLGATE_LEASE_TTL_MS,
    leaseRenewMs: env.ROLLGATE_LEASE_RENEW_MS,
    artifactsDir: env.artifactsDir,
    maxEditionBytes: env.ROLLGATE_MAX_EDITION_BYTES,
    editionFetchTimeoutMs: env.ROLLGATE_EDITION_FETCH_TIMEOUT_MS,
    insecureAgents: env.ROLLGATE_INSECURE_AGENTS,
    agentCaDir: env.agentCaDir,
    ...(env.ROLLGATE_AGENT_CA_CERT && env.ROLLGATE_AGENT_CA_KEY
      ? { agentCa: { certPath: env.ROLLGATE_AGENT_CA_CERT, keyPath: env.ROLLGATE_AGENT_CA_KEY } }
      : {}),
    tlsServerNames: env.tlsServerNames,
    agentCertLifetimeMs: env.ROLLGATE_AGENT_CERT_LIFETIME_MS,
    enrolRateLimit: env.ROLLGATE_ENROL_RATE_LIMIT,
    identityRecheckMs: env.ROLLGATE_IDENTITY_RECHECK_MS,
    agentLogs: {
      linesPerSecond: env.ROLLGATE_AGENT_LOG_LINES_PER_S,
      charsPerSecond: env.ROLLGATE_AGENT_LOG_CHARS_PER_S,
      maxLineChars: env.ROLLGATE_LOG_MAX_LINE_CHARS,
      maxBatchLines: env.ROLLGATE_LOG_MAX_BATCH_LINES,
    },
    logRetentionDays: env.ROLLGATE_LOG_RETENTION_DAYS,
    pruneIntervalMs: env.ROLLGATE_PRUNE_INTERVAL_MS,
    proxyTrust: env.proxyTrust,
    allowedHosts: env.allowedHosts,
    ...(env.ROLLGATE_SMTP_HOST
      ? {
          smtp: {
            host: env.ROLLGATE_SMTP_HOST,
            port: env.ROLLGATE_SMTP_PORT,
            ...(env.ROLLGATE_SMTP_FROM ? { from: env.ROLLGATE_SMTP_FROM } : {}),
          },
        }
      : {}),
    ...(env.ROLLGATE_CONSOLE_URL ? { consoleUrl: env.ROLLGATE_CONSOLE_URL } : {}),
    notify: {
      maxAttempts: env.ROLLGATE_NOTIFY_MAX_ATTEMPTS,
      retryBaseMs: env.ROLLGATE_NOTIFY_RETRY_BASE_MS,
      maxPending: env.ROLLGATE_NOTIFY_MAX_PENDING,
    },
  };
}

async function main() {
  // Before the environment is read: `--version` works on a machine not yet configured.
  if (process.argv.slice(2).includes('--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  const env = readEnv();
  const coordinator = createCoordinator(optionsFromEnv(env));
  const log = coordinator.log;
  await coordinator.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'coordinator stopping');
    try {
      await coordinator.stop();
    } catch (err) {
      log.error({ err }, 'coordinator stopped with an error');
      process.exit(1);
    }
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
