/** Reading the errors the tRPC client throws, without importing its class (works for any value). */

export interface ErrorInfo {
  /** The coordinator (or the console's server) did not answer: show the unreachable state. */
  unreachable: boolean;
  /** tRPC error code when the coordinator answered with one. */
  code: string | null;
  message: string;
}

export function errorInfo(err: unknown): ErrorInfo {
  const e = err as { message?: unknown; data?: { code?: unknown } | null };
  const code = typeof e?.data?.code === 'string' ? e.data.code : null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // BAD_GATEWAY / GATEWAY_TIMEOUT come from our route handler; no code at all means the console's
  // own server did not answer (the browser's fetch failed).
  const unreachable = code === null || code === 'BAD_GATEWAY' || code === 'GATEWAY_TIMEOUT';
  return {
    unreachable,
    code,
    message: code === null ? `The console's server does not answer (${message}).` : message,
  };
}
