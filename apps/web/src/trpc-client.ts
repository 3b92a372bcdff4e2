import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import type { ConsoleClient } from './api-types';

/**
 * The browser's tRPC client. It calls the console's own origin (`/api/trpc`), whose route handler
 * forwards to the coordinator: one origin, no CORS, and the coordinator's address stays server-side.
 * httpLink, not httpBatchLink: the coordinator does not accept batched calls.
 */
export function createConsoleClient(url = '/api/trpc'): ConsoleClient {
  return createTRPCClient<AppRouter>({ links: [httpLink({ url })] });
}
