/**
 * The console's session cookie: the coordinator's bearer token, kept where page JavaScript cannot
 * read it (HttpOnly), sent only to this origin's own requests (SameSite=Strict, Path=/), and gone
 * when the coordinator's session ends (Max-Age). It is `__Host-rollgate_session; Secure`: bound to
 * this exact host and never sent over plain HTTP. The one exception (docs/adr/0020): a console
 * served over plain HTTP on a loopback address (the demo, development), where a browser would
 * drop a Secure cookie; there it is `rollgate_session` without Secure.
 */
import { isIP } from 'node:net';

/** The session cookie (always Secure, host-only). */
export const SESSION_COOKIE = '__Host-rollgate_session';
/** The session cookie of a console served over plain HTTP on loopback only. */
export const LOOPBACK_SESSION_COOKIE = 'rollgate_session';

// A token is what the coordinator issues (base64url / hex); anything else is not ours to forward.
const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

/** The value of one cookie from a `Cookie` header, or null (first one wins, like browsers send). */
export function readCookie(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return null;
    }
  }
  return null;
}

/** The session token a request carries, when it is well-formed. */
export function sessionToken(request: Request): string | null {
  const cookies = request.headers.get('cookie');
  const token =
    readCookie(cookies, SESSION_COOKIE) ??
    (isPlainLoopback(request) ? readCookie(cookies, LOOPBACK_SESSION_COOKIE) : null);
  return token && TOKEN.test(token) ? token : null;
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/**
 * Whether the console is served over plain HTTP on a loopback address: the one case where the
 * session cookie is not Secure (a browser would drop it). The console's own server rewrites
 * X-Forwarded-Proto/-Host from untrusted peers (forwarded.ts), so a client cannot claim it.
 */
export function isPlainLoopback(request: Request): boolean {
  if (isHttps(request)) return false;
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host') ?? '';
  return LOOPBACK_HOST.test(host);
}

/** Whether the browser reached the console over https (directly, or through a TLS-terminating proxy). */
export function isHttps(request: Request): boolean {
  const proto = request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  if (proto) return proto === 'https';
  return new URL(request.url).protocol === 'https:';
}

/**
 * `Set-Cookie` for a new session that ends when the coordinator's session does. `secure: false`
 * only for a console on plain-HTTP loopback (isPlainLoopback): the cookie is then
 * `rollgate_session` without Secure; otherwise `__Host-rollgate_session; Secure`.
 */
export function sessionCookie(
  token: string,
  expiresAt: number,
  opts: { secure: boolean; now?: number },
): string {
  const maxAge = Math.max(0, Math.floor((expiresAt - (opts.now ?? Date.now())) / 1000));
  return [
    `${opts.secure ? SESSION_COOKIE : LOOPBACK_SESSION_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    `Max-Age=${maxAge}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

/** `Set-Cookie` that removes the session cookie. */
export function clearSessionCookie(opts: { secure: boolean }): string {
  return [
    `${opts.secure ? SESSION_COOKIE : LOOPBACK_SESSION_COOKIE}=`,
    'Path=/',
    'Max-Age=0',
    'HttpOnly',
    'SameSite=Strict',
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * The browser's address: the console's server replaced `x-forwarded-for` with the one address it
 * vouches for (forwarded.ts: the socket's peer, or what a trusted proxy forwarded) before Next saw
 * the request. Only a valid IP address is passed on, else nothing.
 */
export function clientAddress(request: Request): string | null {
  return addressFromForwardedFor(request.headers.get('x-forwarded-for'));
}

/** The last valid IP address of an `x-forwarded-for` value, or null. */
export function addressFromForwardedFor(xff: string | null | undefined): string | null {
  if (!xff) return null;
  const last = xff.split(',').pop()?.trim() ?? '';
  const bare = last.startsWith('[') && last.includes(']') ? last.slice(1, last.indexOf(']')) : last;
  return isIP(bare) ? bare : null;
}

/**
 * A state-changing request must come from this origin's own pages. SameSite=Strict already keeps
 * the cookie off cross-site requests; this also refuses a cross-site sign-in (login CSRF) and any
 * cross-origin POST to the API proxy. A browser sends Origin on every POST; without one, its
 * Sec-Fetch-Site must say same-origin (or none: typed by the user). A client that sends neither is
 * not a browser, which no other site can drive.
 */
export function sameOrigin(request: Request): boolean {
  const origin = request.headers.get('origin');
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin' && site !== 'none') return false;
  if (origin === null) return true;
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  try {
    return host !== null && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** A path inside the console to return to after signing in: never another origin, never the portal. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/fleet';
  if (next.startsWith('/login') || next.startsWith('/portal') || next.startsWith('/api')) return '/fleet';
  return next;
}
