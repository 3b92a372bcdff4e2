import { headers } from 'next/headers';
import { callCoordinator } from './coordinator-call';
import { serverEnv } from './env';
import type { SessionUser } from './roles';
import { addressFromForwardedFor, sessionToken } from './session';

export type CurrentUser =
  | { state: 'signed-in'; user: SessionUser }
  /** No cookie, or the coordinator does not know it (expired, signed out, a portal token…). */
  | { state: 'signed-out' }
  /** The coordinator did not answer: the console shows that instead of a sign-in form. */
  | { state: 'unknown'; message: string };

/** Who the request's session cookie belongs to, asked of the coordinator (server side only). */
export async function currentUser(): Promise<CurrentUser> {
  const h = await headers();
  // The same rules as the API proxy: which cookie name counts depends on how the console is served.
  const token = sessionToken(new Request('http://console/', { headers: new Headers(h) }));
  if (!token) return { state: 'signed-out' };
  const res = await callCoordinator<SessionUser>('query', 'auth.whoami', undefined, {
    coordinatorUrl: serverEnv().coordinatorUrl,
    token,
    from: addressFromForwardedFor(h.get('x-forwarded-for')),
    timeoutMs: 5000,
  });
  if (res.ok) return { state: 'signed-in', user: { username: res.data.username, role: res.data.role } };
  if (res.code === 'UNAUTHORIZED' || res.code === 'FORBIDDEN') return { state: 'signed-out' };
  return { state: 'unknown', message: res.message };
}
