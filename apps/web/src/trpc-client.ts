import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import type { ConsoleClient } from './api-types';

/**
 * The browser's tRPC client. It calls the console's own origin (`/api/trpc`), whose route handler
 * forwards to the coordinator: one origin, no CORS, and the coordinator's address stays server-side.
 * Subscriptions (the live run view and its logs) go over Server-Sent Events; queries and mutations
 * over httpLink, not httpBatchLink, because the coordinator does not accept batched calls.
 */
export function createConsoleClient(url = '/api/trpc'): ConsoleClient {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url }),
        false: httpLink({ url }),
      }),
    ],
  });
}

let shared: ConsoleClient | undefined;

/** One client per browser tab. */
export function consoleClient(): ConsoleClient {
  shared ??= createConsoleClient();
  return shared;
}
