/**
 * Server-side calls from the console's own server to the coordinator (sign-in, sign-out, who is
 * signed in): plain tRPC over HTTP, no client library, with the same clear errors as the proxy.
 */
import { CONSOLE_ACTOR } from './coordinator-proxy';

export type CallResult<T> =
  | { ok: true; data: T }
  | {
      ok: false;
      /** tRPC error code (UNAUTHORIZED, FORBIDDEN, TOO_MANY_REQUESTS…), or UNREACHABLE. */
      code: string;
      message: string;
      status: number;
    };

export interface CallOptions {
  coordinatorUrl: string;
  /** The bearer token (a session), if any. */
  token?: string | null;
  /** The browser's address, passed on as `x-forwarded-for`. */
  from?: string | null;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export async function callCoordinator<T>(
  kind: 'query' | 'mutation',
  procedure: string,
  input: unknown,
  opts: CallOptions,
): Promise<CallResult<T>> {
  const base = opts.coordinatorUrl.replace(/\/+$/, '');
  const headers = new Headers({ 'x-rollgate-actor': CONSOLE_ACTOR, accept: 'application/json' });
  if (opts.token) headers.set('authorization', `Bearer ${opts.token}`);
  if (opts.from) headers.set('x-forwarded-for', opts.from);
  let url = `${base}/trpc/${procedure}`;
  let body: string | undefined;
  if (kind === 'query') {
    if (input !== undefined) url += `?input=${encodeURIComponent(JSON.stringify(input))}`;
  } else {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(input ?? {});
  }
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      method: kind === 'query' ? 'GET' : 'POST',
      headers,
      body,
      cache: 'no-store',
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const e = err as { name?: string; cause?: { message?: string }; message?: string };
    return {
      ok: false,
      code: 'UNREACHABLE',
      status: 502,
      message:
        e?.name === 'TimeoutError'
          ? `The coordinator at ${base} did not answer in time.`
          : `Cannot reach the coordinator at ${base}: ${e?.cause?.message ?? e?.message ?? String(err)}.`,
    };
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    return {
      ok: false,
      code: 'UNREACHABLE',
      status: 502,
      message: `The coordinator at ${base} answered ${res.status} without a tRPC body.`,
    };
  }
  const j = json as {
    result?: { data?: unknown };
    error?: { message?: string; data?: { code?: string; httpStatus?: number } };
  };
  if (res.ok && j.result) return { ok: true, data: j.result.data as T };
  return {
    ok: false,
    code: j.error?.data?.code ?? 'INTERNAL_SERVER_ERROR',
    status: j.error?.data?.httpStatus ?? res.status,
    message: j.error?.message ?? `The coordinator answered ${res.status}.`,
  };
}

/** "try again in 42 s" → 42, from the coordinator's rate-limit message. */
export function retryAfterSeconds(message: string): number | null {
  const m = /try again in (\d+)\s*s/i.exec(message);
  return m ? Number(m[1]) : null;
}
