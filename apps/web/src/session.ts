/**
 * The console's session cookie: the coordinator's bearer token, kept where page JavaScript cannot
 * read it (HttpOnly), sent only to this origin's own requests (SameSite=Strict, Path=/), Secure when
 * the console is served over https, and gone when the coordinator's session ends (Max-Age).
 */
import { isIP } from 'node:net';

export const SESSION_COOKIE = 'rollgate_session';

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
  const token = readCookie(request.headers.get('cookie'), SESSION_COOKIE);
  return token && TOKEN.test(token) ? token : null;
}

/** Whether the browser reached the console over https (directly, or through a TLS-terminating proxy). */
export function isHttps(request: Request): boolean {
  const proto = request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  if (proto) return proto === 'https';
  return new URL(request.url).protocol === 'https:';
}

/** `Set-Cookie` for a new session that ends when the coordinator's session does. */
export function sessionCookie(
  token: string,
  expiresAt: number,
  opts: { secure: boolean; now?: number },
): string {
  const maxAge = Math.max(0, Math.floor((expiresAt - (opts.now ?? Date.now())) / 1000));
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
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
    `${SESSION_COOKIE}=`,
    'Path=/',
    'Max-Age=0',
    'HttpOnly',
    'SameSite=Strict',
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * The browser's address as Next sees it: Next puts the peer's socket address in `x-forwarded-for`
 * when the request has none, and a reverse proxy in front appends the address it saw. The last entry
 * is therefore the nearest hop's word; only a valid IP address is passed on, else nothing.
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
 * the cookie off cross-site requests; this also refuses a cross-site sign-in (login CSRF).
 */
export function sameOrigin(request: Request): boolean {
  const origin = request.headers.get('origin');
  if (origin === null) return request.headers.get('sec-fetch-site') !== 'cross-site';
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
