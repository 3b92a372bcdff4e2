// The coordinator URL's schema is the domain's, shared with the console.
import { coordinatorUrlSchema } from '@rollgate/domain';
import { z } from 'zod';

// Empty strings count as unset: `ROLLGATE_URL= rollgate …` is how people clear a variable for one call.
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

const envSchema = z.object({
  ROLLGATE_URL: optional(coordinatorUrlSchema),
  // https://no-color.org: any non-empty value turns colour off.
  NO_COLOR: optional(z.string()),
  // Fallbacks for the default actor when the OS cannot tell who we are (e.g. an unknown uid in a container).
  USER: optional(z.string()),
  LOGNAME: optional(z.string()),
  // A token for scripts (CI): a service token (`rollgate token create`, docs/adr/0031) or a session
  // token, used instead of the session `rollgate login` saved. Never logged.
  ROLLGATE_TOKEN: optional(
    z
      .string()
      .regex(
        /^[A-Za-z0-9_-]{20,200}$/,
        'must be a token printed by `rollgate token create` or `rollgate login --print-token`',
      ),
  ),
  XDG_CONFIG_HOME: optional(z.string()),
  HOME: optional(z.string()),
  // The coordinator's data directory when the CLI runs on its machine (`admin init` reads its secret).
  ROLLGATE_DATA_DIR: optional(z.string()),
});

export interface CliEnv {
  /** Coordinator base URL from ROLLGATE_URL; undefined when unset. */
  coordinatorUrl: string | undefined;
  /** True when NO_COLOR is set to anything. */
  noColor: boolean;
  /** USER or LOGNAME, for the default actor; undefined when neither is set. */
  user: string | undefined;
  /** ROLLGATE_TOKEN; undefined when unset. */
  token: string | undefined;
  /** Where `rollgate login` keeps its sessions: $XDG_CONFIG_HOME/rollgate, else ~/.config/rollgate. */
  configDir: string | undefined;
  /** The coordinator's data directory on this machine: ROLLGATE_DATA_DIR, default .rollgate (as the coordinator). */
  dataDir: string;
}

export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}

/**
 * The only reader of the environment in the CLI. Validated once at start; a bad value stops the CLI
 * with the variable's name and what to set it to.
 */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): CliEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message} (or unset it)`);
    throw new EnvError(`invalid environment:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const base = e.XDG_CONFIG_HOME ?? (e.HOME ? `${e.HOME}/.config` : undefined);
  return {
    coordinatorUrl: e.ROLLGATE_URL,
    noColor: e.NO_COLOR !== undefined,
    user: e.USER ?? e.LOGNAME,
    token: e.ROLLGATE_TOKEN,
    configDir: base ? `${base}/rollgate` : undefined,
    dataDir: e.ROLLGATE_DATA_DIR ?? '.rollgate',
  };
}
