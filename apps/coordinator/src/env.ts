import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

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
});

export type CoordinatorEnv = z.infer<typeof schema> & {
  dataDir: string;
  /** Unique per coordinator; stable across restarts so a restarted one takes its runs back at once. */
  coordinatorId: string;
  /** Where edition archives are kept; shared storage when several coordinators serve agents. */
  artifactsDir: string;
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
  const dataDir = resolve(data.ROLLGATE_DATA_DIR);
  return {
    ...data,
    dataDir,
    // Host and data directory: unique on a machine (a data directory has one live coordinator).
    coordinatorId: data.ROLLGATE_COORDINATOR_ID ?? `${hostname()}:${dataDir}`,
    artifactsDir: resolve(data.ROLLGATE_ARTIFACTS_DIR ?? join(dataDir, 'artifacts')),
  };
}
