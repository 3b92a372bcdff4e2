import { resolve } from 'node:path';
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
});

export type CoordinatorEnv = z.infer<typeof schema> & { dataDir: string };

/** The coordinator's whole configuration from the environment, validated once at start. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): CoordinatorEnv {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid coordinator environment:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.ROLLGATE_DATA_DIR) };
}
