// The only reader of process.env in the agent: everything else takes options.
import { z } from 'zod';

const envSchema = z.object({
  /** Path of the agent's JSON config file; `--config` wins over it. */
  ROLLGATE_AGENT_CONFIG: z.string().min(1).optional(),
  /** pino level for the agent's own log; the config file's logLevel wins over it. */
  ROLLGATE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
});

export interface AgentEnv {
  configPath: string | undefined;
  logLevel: z.infer<typeof envSchema>['ROLLGATE_LOG_LEVEL'];
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
  for (const [k, v] of Object.entries(source)) if (v !== undefined) inherited[k] = v;
  return {
    configPath: parsed.data.ROLLGATE_AGENT_CONFIG,
    logLevel: parsed.data.ROLLGATE_LOG_LEVEL,
    inherited,
  };
}
