import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import type { ConsoleClient } from './api-types';

export interface ClientOptions {
  /** Called when the coordinator answers 401 (UNAUTHORIZED): the session ended. */
  onUnauthorized?: () => void;
  /**
   * Whether the browser sends its cookies (the session). The customer portal sends none: its link's
   * token, in the procedure's input, is its only credential.
   */
  credentials?: RequestCredentials;
}

/**
 * The browser's tRPC client. It calls the console's own origin (`/api/trpc`), whose route handler
 * forwards to the coordinator: one origin, no CORS, and the coordinator's address stays server-side.
 * The session travels as an HttpOnly cookie this code never sees; the route handler turns it into a
 * bearer token. Subscriptions (the live run view and its logs) go over Server-Sent Events; queries
 * and mutations over httpLink, not httpBatchLink, because the coordinator does not accept batched calls.
 */
export function createConsoleClient(url = '/api/trpc', opts: ClientOptions = {}): ConsoleClient {
  const credentials = opts.credentials ?? 'same-origin';
  const watchedFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, { ...init, credentials });
    if (res.status === 401) opts.onUnauthorized?.();
    return res;
  };
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url }),
        false: httpLink({ url, fetch: watchedFetch }),
      }),
    ],
  });
}

/** Where an ended session sends the browser: the sign-in page, then back to this page. */
export function toSignIn(): void {
  if (typeof window === 'undefined') return;
  const here = `${window.location.pathname}${window.location.search}`;
  window.location.assign(`/login?expired=1&next=${encodeURIComponent(here)}`);
}

let shared: ConsoleClient | undefined;
let leaving = false;

/** One client per browser tab; an UNAUTHORIZED answer from any call goes to the sign-in page. */
export function consoleClient(): ConsoleClient {
  shared ??= createConsoleClient('/api/trpc', {
    onUnauthorized: () => {
      if (leaving) return;
      leaving = true;
      toSignIn();
    },
  });
  return shared;
}
