import { NextResponse, type NextRequest } from 'next/server';
import { LOOPBACK_SESSION_COOKIE, SESSION_COOKIE } from './src/session';

/**
 * Before any console page renders: without a session cookie, straight to the sign-in page (with
 * the page to return to). The console's layout then asks the coordinator whether the session is
 * real; this only saves a round trip and tells the layout which page was asked for.
 */
export function proxy(request: NextRequest) {
  const path = `${request.nextUrl.pathname}${request.nextUrl.search}`;
  // Either name (session.ts): the coordinator decides whether the session is real.
  if (!request.cookies.get(SESSION_COOKIE)?.value && !request.cookies.get(LOOPBACK_SESSION_COOKIE)?.value) {
    const url = request.nextUrl.clone();
    url.pathname = '/login';
    url.search = request.nextUrl.pathname === '/' ? '' : `?next=${encodeURIComponent(path)}`;
    return NextResponse.redirect(url);
  }
  const forwarded = new Headers(request.headers);
  forwarded.set('x-rollgate-path', path);
  return NextResponse.next({ request: { headers: forwarded } });
}

export const config = {
  // The console's pages only: not the sign-in page, the customer portal, the API routes or assets.
  matcher: ['/((?!api/|_next/|login|portal/|favicon\\.ico).*)'],
};
