import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import type { RollgateClient } from './api-types';
import { httpFetch } from './http-fetch';

/** The header the coordinator reads the caller's identity from, for its audit log. */
export const ACTOR_HEADER = 'x-rollgate-actor';

export interface ClientOptions {
  /** Coordinator base URL, e.g. `http://127.0.0.1:7400`; the tRPC endpoint `/trpc` is appended. */
  url: string;
  /** Who is calling, sent as `x-rollgate-actor` (e.g. `cli:alice@build-7`). */
  actor: string;
  /** The session token (`rollgate login`, or ROLLGATE_TOKEN), sent as a bearer token. Default none. */
  token?: string | undefined;
  /**
   * How long one request may take before it is given up, in ms, unless the call passes its own
   * `signal`. Default 30000: without it a coordinator that accepts the connection but never answers
   * would hang a script forever.
   */
  timeoutMs?: number;
}

/**
 * The tRPC endpoint for a coordinator base URL. Accepts the endpoint itself too (`…/trpc`), since
 * that is what people copy from the coordinator's start-up log.
 */
export function trpcEndpoint(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  return trimmed.endsWith('/trpc') ? trimmed : `${trimmed}/trpc`;
}

export function createClient(opts: ClientOptions): RollgateClient {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return createTRPCClient<AppRouter>({
    links: [
      // httpLink, not httpBatchLink: the coordinator does not accept batched calls.
      httpLink({
        url: trpcEndpoint(opts.url),
        headers: {
          [ACTOR_HEADER]: opts.actor,
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
        fetch: (input, init) => {
          const timeout = AbortSignal.timeout(timeoutMs);
          const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
          return httpFetch(input as string | URL, {
            ...(init as { method?: string; headers?: Record<string, string>; body?: string | null }),
            signal,
          }) as unknown as Promise<Response>;
        },
      }),
    ],
  });
}
