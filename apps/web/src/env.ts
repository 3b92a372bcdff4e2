import { z } from 'zod';

/** Where the coordinator's tRPC endpoint lives when COORDINATOR_URL is unset. */
export const DEFAULT_COORDINATOR_URL = 'http://127.0.0.1:7400';

// Empty counts as unset, so `COORDINATOR_URL= npm start` falls back to the default.
const coordinatorUrl = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === '';
      } catch {
        return false;
      }
    }, `must be the coordinator's http(s) base URL, like ${DEFAULT_COORDINATOR_URL}`)
    .default(DEFAULT_COORDINATOR_URL),
);

const envSchema = z.object({ COORDINATOR_URL: coordinatorUrl });

export interface WebEnv {
  /** Base URL of the coordinator (COORDINATOR_URL); the route handler appends `/trpc/<procedure>`. */
  coordinatorUrl: string;
}

/** Parses an environment; throws with the variable's name and what to set it to. */
export function parseEnv(source: Record<string, string | undefined>): WebEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message} (or unset it)`);
    throw new Error(`invalid environment for the web console:\n  ${lines.join('\n  ')}`);
  }
  return { coordinatorUrl: parsed.data.COORDINATOR_URL.replace(/\/+$/, '') };
}

let cached: WebEnv | undefined;

/**
 * The web app's only reader of process.env: server side only (the browser never sees the
 * coordinator's address). instrumentation.ts calls it when the server starts, so a bad value stops
 * the server at once instead of failing the first request.
 */
export function serverEnv(): WebEnv {
  cached ??= parseEnv(process.env);
  return cached;
}
