import type { BlockList } from 'node:net';
import { DEFAULT_COORDINATOR_URL, coordinatorUrlSchema } from '@rollgate/domain';
import { z } from 'zod';
import { parseTrustedProxies, type ProxyTrust } from './forwarded';

// Empty counts as unset, so `COORDINATOR_URL= npm start` falls back to the default (the domain's,
// as the CLI's).
const coordinatorUrl = z.preprocess(
  (v) => (v === '' ? undefined : v),
  coordinatorUrlSchema.default(DEFAULT_COORDINATOR_URL),
);

const envSchema = z.object({
  COORDINATOR_URL: coordinatorUrl,
  // The console's own proxies (a TLS terminator in front of it), docs/adr/0020. Default: none.
  ROLLGATE_TRUSTED_PROXIES: z.string().max(4000).default(''),
  ROLLGATE_TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(1),
});

export interface WebEnv {
  /** Base URL of the coordinator (COORDINATOR_URL); the route handler appends `/trpc/<procedure>`. */
  coordinatorUrl: string;
  /**
   * Whose X-Forwarded-* the console believes (ROLLGATE_TRUSTED_PROXIES, ROLLGATE_TRUSTED_PROXY_HOPS):
   * default nobody, so a browser's own X-Forwarded-For is replaced by its socket address.
   */
  proxyTrust: ProxyTrust;
}

/** Parses an environment; throws with the variable's name and what to set it to. */
export function parseEnv(source: Record<string, string | undefined>): WebEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message} (or unset it)`);
    throw new Error(`invalid environment for the web console:\n  ${lines.join('\n  ')}`);
  }
  let proxies: BlockList;
  try {
    proxies = parseTrustedProxies(parsed.data.ROLLGATE_TRUSTED_PROXIES);
  } catch (err) {
    throw new Error(
      `invalid environment for the web console:\n  ROLLGATE_TRUSTED_PROXIES: ${(err as Error).message}; give a comma-separated list like 10.0.0.5,loopback (or unset it)`,
    );
  }
  return {
    coordinatorUrl: parsed.data.COORDINATOR_URL.replace(/\/+$/, ''),
    proxyTrust: { proxies, hops: parsed.data.ROLLGATE_TRUSTED_PROXY_HOPS },
  };
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
