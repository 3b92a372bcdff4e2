// The only reader of process.env in the agent: everything else takes options.
import { z } from 'zod';

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
});

export interface AgentEnv {
  configPath: string | undefined;
  logLevel: z.infer<typeof envSchema>['ROLLGATE_LOG_LEVEL'];
  /** The join token, if given (a secret: never logged, not passed to managed services). */
  joinToken: string | undefined;
  insecure: boolean;
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
    inherited,
  };
}
