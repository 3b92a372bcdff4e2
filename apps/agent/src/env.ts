// The only reader of process.env in the agent: everything else takes options.
import { z } from 'zod';
import { DEFAULT_URL_FETCH_LIMITS, type UrlFetchLimits } from './heavy/url-fetch';

const envSchema = z.object({
  /** Path of the agent's JSON config file; `--config` wins over it. */
  ROLLGATE_AGENT_CONFIG: z.string().min(1).optional(),
  /** pino level for the agent's own log; the config file's logLevel wins over it. */
  ROLLGATE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  /** A join token for the first start (docs/adr/0013); `--join-token-file` wins over it. */
  ROLLGATE_JOIN_TOKEN: z.string().min(1).max(512).optional(),
  /** 1/true: plaintext gRPC, no identity (the coordinator must run with ROLLGATE_INSECURE_AGENTS). */
  ROLLGATE_AGENT_INSECURE: z
    .enum(['1', 'true', 'yes', '0', 'false', 'no', ''], {
      error: 'ROLLGATE_AGENT_INSECURE must be 1/true/yes or 0/false/no',
    })
    .optional(),
  /** Most bytes of an edition the agent downloads from its URL (docs/adr/0039); default 4 GiB. */
  ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES: z.coerce
    .number({ error: 'ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES must be a number of bytes, e.g. 4294967296' })
    .int('ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES must be a whole number of bytes')
    .min(1024 * 1024, 'ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES must be at least 1 MiB (1048576)')
    .optional(),
  /** Longest download of an edition from its URL, ms; default 30 minutes. */
  ROLLGATE_AGENT_FETCH_TIMEOUT_MS: z.coerce
    .number({ error: 'ROLLGATE_AGENT_FETCH_TIMEOUT_MS must be a number of milliseconds' })
    .int('ROLLGATE_AGENT_FETCH_TIMEOUT_MS must be a whole number of milliseconds')
    .min(1000, 'ROLLGATE_AGENT_FETCH_TIMEOUT_MS must be at least 1000 (1 s)')
    .max(24 * 3_600_000, 'ROLLGATE_AGENT_FETCH_TIMEOUT_MS must be at most 86400000 (24 h)')
    .optional(),
});

export interface AgentEnv {
  configPath: string | undefined;
  logLevel: z.infer<typeof envSchema>['ROLLGATE_LOG_LEVEL'];
  /** The join token, if given (a secret: never logged, not passed to managed services). */
  joinToken: string | undefined;
  insecure: boolean;
  /** Bounds on an edition downloaded from its URL (docs/adr/0039). */
  urlFetch: UrlFetchLimits;
  /**
   * The agent's own environment, copied: managed services start with it plus their configured env,
   * as a service started by hand in a shell would.
   */
  inherited: Record<string, string>;
}

/** Reads and validates the environment once at start; throws a readable message when it is wrong. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): AgentEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join('\n')}`);
  }
  const inherited: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) {
    // The join token is the agent's secret, not the services'.
    if (v !== undefined && k !== 'ROLLGATE_JOIN_TOKEN') inherited[k] = v;
  }
  const insecure = parsed.data.ROLLGATE_AGENT_INSECURE;
  return {
    configPath: parsed.data.ROLLGATE_AGENT_CONFIG,
    logLevel: parsed.data.ROLLGATE_LOG_LEVEL,
    joinToken: parsed.data.ROLLGATE_JOIN_TOKEN,
    insecure: insecure === '1' || insecure === 'true' || insecure === 'yes',
    urlFetch: {
      maxBytes: parsed.data.ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES ?? DEFAULT_URL_FETCH_LIMITS.maxBytes,
      timeoutMs: parsed.data.ROLLGATE_AGENT_FETCH_TIMEOUT_MS ?? DEFAULT_URL_FETCH_LIMITS.timeoutMs,
    },
    inherited,
  };
}
