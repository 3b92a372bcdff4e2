import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseTrustedProxies, type ProxyTrust } from './http/request-origin';

const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);

const schema = z.object({
  ROLLGATE_DATA_DIR: z.string().default('.rollgate'),
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgres:// URL').optional(),
  ROLLGATE_HTTP_HOST: z.string().default('127.0.0.1'),
  ROLLGATE_HTTP_PORT: port(7400),
  ROLLGATE_GRPC_HOST: z.string().default('127.0.0.1'),
  ROLLGATE_GRPC_PORT: port(7401),
  ROLLGATE_HEARTBEAT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  ROLLGATE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  // Several coordinators on one PostgreSQL (README "Running several coordinators").
  ROLLGATE_COORDINATOR_ID: z
    .string()
    .regex(
      /^[A-Za-z0-9._:/@-]{1,200}$/,
      'ROLLGATE_COORDINATOR_ID must be 1-200 letters, digits or . _ : / @ -',
    )
    .optional(),
  ROLLGATE_LEASE_TTL_MS: z.coerce.number().int().min(500).max(600_000).default(3000),
  ROLLGATE_LEASE_RENEW_MS: z.coerce.number().int().min(50).max(300_000).default(1000),
  ROLLGATE_ARTIFACTS_DIR: z.string().min(1).optional(),
  /** Largest edition archive accepted (streamed upload or by URL), bytes; default 4 GiB (docs/adr/0036). */
  ROLLGATE_MAX_EDITION_BYTES: z.coerce
    .number()
    .int()
    .min(1024, 'ROLLGATE_MAX_EDITION_BYTES must be at least 1024 bytes')
    .max(2 ** 50)
    .default(4 * 1024 ** 3),
  /** How long fetching an edition by URL may take, ms; default 30 minutes. */
  ROLLGATE_EDITION_FETCH_TIMEOUT_MS: z.coerce.number().int().min(1000).max(86_400_000).default(1_800_000),
  // Agent identity (README "Agent identity (mTLS)", docs/adr/0013).
  /** Plaintext agent streams, no enrolment: only for benches and tests on loopback. Default off. */
  ROLLGATE_INSECURE_AGENTS: z
    .enum(['1', 'true', 'yes', '0', 'false', 'no', ''], {
      error: 'ROLLGATE_INSECURE_AGENTS must be 1/true/yes or 0/false/no',
    })
    .default('0')
    .transform((v) => v === '1' || v === 'true' || v === 'yes'),
  /** Where agents enrol and renew (HTTPS); default the gRPC host, port 7402. */
  ROLLGATE_ENROL_HOST: z.string().min(1).optional(),
  ROLLGATE_ENROL_PORT: port(7402),
  /** The CA's directory (ca.key 0600, ca.crt); default <data dir>/agent-ca. Shared by coordinators. */
  ROLLGATE_AGENT_CA_DIR: z.string().min(1).optional(),
  /** An operator-supplied CA instead: certificate and PKCS#8 ECDSA P-256 key, PEM paths (both). */
  ROLLGATE_AGENT_CA_CERT: z.string().min(1).optional(),
  ROLLGATE_AGENT_CA_KEY: z.string().min(1).optional(),
  /** Comma-separated DNS names / IPs agents dial, for the server certificate; default localhost,127.0.0.1. */
  ROLLGATE_TLS_SERVER_NAMES: z
    .string()
    .regex(
      /^[A-Za-z0-9.:*-]+(,[A-Za-z0-9.:*-]+)*$/,
      'ROLLGATE_TLS_SERVER_NAMES must be comma-separated host names or IP addresses, e.g. rollgate.internal,10.0.0.11',
    )
    .optional(),
  /** Lifetime of agents' certificates, ms (renewed at 2/3); default 24 h, at least 10 s, at most 90 days. */
  ROLLGATE_AGENT_CERT_LIFETIME_MS: z.coerce
    .number()
    .int()
    .min(10_000)
    .max(90 * 86_400_000)
    .default(86_400_000),
  /** Failed enrolment attempts per address per 5 minutes before it is refused; default 10. */
  ROLLGATE_ENROL_RATE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(10),
  /** How often open agent streams are re-checked for revocation and expiry, ms; default 10000. */
  ROLLGATE_IDENTITY_RECHECK_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  // Agents' logs: per-agent quotas and bounds, retention (README "Security model", docs/adr/0019).
  /** Log lines per second one agent may send; past it only its stream is read more slowly. Default 5000. */
  ROLLGATE_AGENT_LOG_LINES_PER_S: z.coerce.number().int().min(10).max(10_000_000).default(5000),
  /** Characters of log messages per second one agent may send; default 4000000. */
  ROLLGATE_AGENT_LOG_CHARS_PER_S: z.coerce.number().int().min(1000).max(1_000_000_000).default(4_000_000),
  /** Longest log line an agent may send, in characters (a longer one is refused); default 16384. */
  ROLLGATE_LOG_MAX_LINE_CHARS: z.coerce.number().int().min(256).max(1_048_576).default(16_384),
  /** Most lines in one LogBatch (a larger one is refused); default 1000 (agents send 50). */
  ROLLGATE_LOG_MAX_BATCH_LINES: z.coerce.number().int().min(50).max(100_000).default(1000),
  /** Days log lines (and dead letters) are kept; default 90. */
  ROLLGATE_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(90),
  /** How often old logs, expired sessions and expired portal links are pruned, ms; default 1 h. */
  ROLLGATE_PRUNE_INTERVAL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(3_600_000),
  // HTTP trust boundaries (README "Security model", docs/adr/0020).
  /** Peers whose X-Forwarded-For is believed: IPs, CIDRs, `loopback`; empty: none. Default loopback. */
  ROLLGATE_TRUSTED_PROXIES: z.string().max(4000).default('loopback'),
  /** How many trusted proxies may stand in a row in front of the API; default 1 (the console). */
  ROLLGATE_TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(1),
  /** Host names the API answers to (DNS rebinding); default loopback names, the HTTP host, TLS names. */
  ROLLGATE_ALLOWED_HOSTS: z
    .string()
    .regex(
      /^[A-Za-z0-9.:*[\]-]+(,[A-Za-z0-9.:*[\]-]+)*$/,
      'ROLLGATE_ALLOWED_HOSTS must be comma-separated host names or IP addresses, e.g. rollgate.internal,10.0.0.11',
    )
    .optional(),
  // Notifications (README "Notifications", docs/adr/0032).
  /** The SMTP relay email notifications go through (plain SMTP, no AUTH); unset: no email. */
  ROLLGATE_SMTP_HOST: z.string().min(1).max(253).optional(),
  ROLLGATE_SMTP_PORT: port(25),
  /** The sender of notification email; default rollgate@<this host>. */
  ROLLGATE_SMTP_FROM: z
    .string()
    .regex(/^[^\s<>@]+@[^\s<>@]+$/, 'ROLLGATE_SMTP_FROM must be an email address, e.g. rollgate@example.com')
    .optional(),
  /** The console's public base URL, for portal links emailed to customers, e.g. https://rollgate.example.com. */
  ROLLGATE_CONSOLE_URL: z
    .string()
    .url('ROLLGATE_CONSOLE_URL must be an http(s) URL, e.g. https://rollgate.example.com')
    .optional(),
  /** Attempts per notification before it is given up; default 8. */
  ROLLGATE_NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  /** Wait before the second attempt, doubled for each next one (at most 10 min), ms; default 5000. */
  ROLLGATE_NOTIFY_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(5000),
  /** Undelivered notifications one subscription may hold before new ones are dropped; default 1000. */
  ROLLGATE_NOTIFY_MAX_PENDING: z.coerce.number().int().min(1).max(1_000_000).default(1000),
});

export type CoordinatorEnv = z.infer<typeof schema> & {
  dataDir: string;
  /** Unique per coordinator; stable across restarts so a restarted one takes its runs back at once. */
  coordinatorId: string;
  /** Where edition archives are kept; shared storage when several coordinators serve agents. */
  artifactsDir: string;
  /** The agent CA's directory (used unless ROLLGATE_AGENT_CA_CERT/_KEY are given). */
  agentCaDir: string;
  /** Names and addresses in the coordinator's TLS server certificate. */
  tlsServerNames: string[];
  /** Whose X-Forwarded-For the API believes (ROLLGATE_TRUSTED_PROXIES, _HOPS). */
  proxyTrust: ProxyTrust;
  /** Host header names the API answers to, lower case, without port. */
  allowedHosts: string[];
};

/** The coordinator's whole configuration from the environment, validated once at start. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): CoordinatorEnv {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid coordinator environment:\n${lines.join('\n')}`);
  }
  const data = parsed.data;
  if (data.ROLLGATE_LEASE_RENEW_MS * 2 > data.ROLLGATE_LEASE_TTL_MS) {
    throw new Error(
      `invalid coordinator environment:\n  ROLLGATE_LEASE_RENEW_MS (${data.ROLLGATE_LEASE_RENEW_MS}) must be at most half of ROLLGATE_LEASE_TTL_MS (${data.ROLLGATE_LEASE_TTL_MS}), so one late renewal does not lose a run's lease`,
    );
  }
  if ((data.ROLLGATE_AGENT_CA_CERT === undefined) !== (data.ROLLGATE_AGENT_CA_KEY === undefined)) {
    throw new Error(
      'invalid coordinator environment:\n  ROLLGATE_AGENT_CA_CERT and ROLLGATE_AGENT_CA_KEY go together: give both (an operator-supplied CA) or neither (a CA kept in the data directory)',
    );
  }
  const dataDir = resolve(data.ROLLGATE_DATA_DIR);
  const tlsServerNames = data.ROLLGATE_TLS_SERVER_NAMES?.split(',') ?? [
    'localhost',
    '127.0.0.1',
    // A specific listen address is one agents dial too.
    ...(['127.0.0.1', 'localhost', '0.0.0.0', '::'].includes(data.ROLLGATE_GRPC_HOST)
      ? []
      : [data.ROLLGATE_GRPC_HOST]),
  ];
  let proxies;
  try {
    proxies = parseTrustedProxies(data.ROLLGATE_TRUSTED_PROXIES);
  } catch (err) {
    throw new Error(
      `invalid coordinator environment:\n  ROLLGATE_TRUSTED_PROXIES: ${(err as Error).message}; give a comma-separated list, e.g. loopback,10.0.0.0/8 (empty trusts no proxy)`,
    );
  }
  const allowedHosts = (
    data.ROLLGATE_ALLOWED_HOSTS?.split(',') ?? [
      'localhost',
      '127.0.0.1',
      '::1',
      ...(['0.0.0.0', '::'].includes(data.ROLLGATE_HTTP_HOST) ? [] : [data.ROLLGATE_HTTP_HOST]),
      ...tlsServerNames,
    ]
  ).map((h) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1'));
  return {
    ...data,
    proxyTrust: { proxies, hops: data.ROLLGATE_TRUSTED_PROXY_HOPS },
    allowedHosts: [...new Set(allowedHosts)],
    dataDir,
    // Host and data directory: unique on a machine (a data directory has one live coordinator).
    coordinatorId: data.ROLLGATE_COORDINATOR_ID ?? `${hostname()}:${dataDir}`,
    artifactsDir: resolve(data.ROLLGATE_ARTIFACTS_DIR ?? join(dataDir, 'artifacts')),
    agentCaDir: resolve(data.ROLLGATE_AGENT_CA_DIR ?? join(dataDir, 'agent-ca')),
    tlsServerNames,
  };
}
