/**
 * The console's sign-in and sign-out (app/api/session): the coordinator's `auth.login` is called
 * from the console's server, and its token goes into the HttpOnly session cookie only; the page
 * gets the user, never the token.
 */
import { callCoordinator, retryAfterSeconds, type CallOptions } from './coordinator-call';
import type { SessionUser } from './roles';
import {
  clearSessionCookie,
  clientAddress,
  isPlainLoopback,
  sameOrigin,
  sessionCookie,
  sessionToken,
} from './session';

export interface SessionOptions {
  coordinatorUrl: string;
  fetch?: typeof fetch;
  now?: () => number;
}

/** What the sign-in page receives. */
export type SignInAnswer =
  | { ok: true; user: SessionUser; expiresAt: number }
  | {
      ok: false;
      error: {
        code: 'BAD_REQUEST' | 'UNAUTHORIZED' | 'TOO_MANY_REQUESTS' | 'UNREACHABLE' | 'FORBIDDEN' | string;
        message: string;
        retryAfterSec?: number;
      };
    };

const json = (body: SignInAnswer | { ok: true }, status: number, setCookie?: string) => {
  const headers = new Headers({ 'cache-control': 'no-store' });
  if (setCookie) headers.append('set-cookie', setCookie);
  return Response.json(body, { status, headers });
};

const fail = (status: number, code: string, message: string, retryAfterSec?: number) =>
  json(
    { ok: false, error: { code, message, ...(retryAfterSec !== undefined ? { retryAfterSec } : {}) } },
    status,
  );

async function readCredentials(request: Request): Promise<{ username: string; password: string } | null> {
  try {
    const type = request.headers.get('content-type') ?? '';
    const body: Record<string, unknown> = type.includes('application/json')
      ? ((await request.json()) as Record<string, unknown>)
      : Object.fromEntries((await request.formData()).entries());
    const { username, password } = body;
    if (typeof username !== 'string' || typeof password !== 'string') return null;
    return { username: username.trim(), password };
  } catch {
    return null;
  }
}

/** POST /api/session: sign in. */
export async function signIn(request: Request, opts: SessionOptions): Promise<Response> {
  if (!sameOrigin(request)) return fail(403, 'FORBIDDEN', 'Sign in from the console’s own page.');
  const creds = await readCredentials(request);
  if (!creds || !creds.username || !creds.password) {
    return fail(400, 'BAD_REQUEST', 'Enter your user name and password.');
  }
  const call: CallOptions = {
    coordinatorUrl: opts.coordinatorUrl,
    from: clientAddress(request),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  };
  const res = await callCoordinator<{
    token: string;
    user: SessionUser;
    expiresAt: number;
  }>('mutation', 'auth.login', creds, call);
  if (!res.ok) {
    if (res.code === 'UNREACHABLE') return fail(502, 'UNREACHABLE', res.message);
    if (res.code === 'TOO_MANY_REQUESTS') {
      const after = retryAfterSeconds(res.message);
      return fail(429, res.code, res.message, after ?? undefined);
    }
    if (res.code === 'BAD_REQUEST') return fail(400, res.code, 'Enter your user name and password.');
    return fail(res.status || 401, res.code, res.message);
  }
  const { token, user, expiresAt } = res.data;
  const cookie = sessionCookie(token, expiresAt, {
    secure: !isPlainLoopback(request),
    now: (opts.now ?? Date.now)(),
  });
  return json({ ok: true, user: { username: user.username, role: user.role }, expiresAt }, 200, cookie);
}

/** DELETE /api/session: sign out (the coordinator ends the session; the cookie goes either way). */
export async function signOut(request: Request, opts: SessionOptions): Promise<Response> {
  if (!sameOrigin(request)) return fail(403, 'FORBIDDEN', 'Sign out from the console’s own page.');
  const token = sessionToken(request);
  if (token) {
    await callCoordinator('mutation', 'auth.logout', undefined, {
      coordinatorUrl: opts.coordinatorUrl,
      token,
      from: clientAddress(request),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  }
  return json({ ok: true }, 200, clearSessionCookie({ secure: !isPlainLoopback(request) }));
}
