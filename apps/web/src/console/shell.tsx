'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useState, type ReactNode } from 'react';
import { roleAllows, type Role, type SessionUser } from '../roles';
import { consoleClient } from '../trpc-client';
import { usePolled } from './hooks';
import { SessionProvider } from './session-context';

const NAV: readonly { href: string; label: string; need: Role }[] = [
  { href: '/fleet', label: 'Fleet', need: 'viewer' },
  { href: '/editions', label: 'Editions', need: 'viewer' },
  { href: '/plan', label: 'Plan upgrade', need: 'viewer' },
  { href: '/runs', label: 'Runs', need: 'viewer' },
  { href: '/audit', label: 'Audit', need: 'viewer' },
  { href: '/notifications', label: 'Notifications', need: 'viewer' },
  { href: '/users', label: 'Users', need: 'admin' },
];

/** Whether a nav entry is the page shown (the run pages belong to "Runs"). */
export function isActive(href: string, pathname: string): boolean {
  return pathname === href || pathname.startsWith(`${href}/`) || (href === '/fleet' && pathname === '/');
}

/** Ends the session (the coordinator's and the cookie) and goes to the sign-in page. */
export async function signOut(): Promise<void> {
  try {
    await fetch('/api/session', { method: 'DELETE', credentials: 'same-origin' });
  } finally {
    window.location.assign('/login?signed-out=1');
  }
}

/**
 * The top bar on every console page: the brand, the pages, whether the coordinator answers, and who
 * is signed in (with their role and a sign-out button).
 */
export function Shell(props: {
  children: ReactNode;
  user: SessionUser | null;
  unknownReason?: string | null;
}) {
  const { children, unknownReason } = props;
  const pathname = usePathname() ?? '/';
  const health = usePolled(() => consoleClient().health.query(), 5000);
  // The role may change (or the session end) while the page is open: ask again now and then. An
  // ended session answers UNAUTHORIZED, and the client sends the browser to the sign-in page.
  const who = usePolled(() => consoleClient().auth.whoami.query(), 30_000);
  const user: SessionUser | null = who.data
    ? { username: who.data.username, role: who.data.role }
    : props.user;
  const [leaving, setLeaving] = useState(false);
  const state = health.error ? 'unreachable' : health.data ? 'connected' : 'connecting';
  return (
    <SessionProvider user={user}>
      <div className="console">
        <header className="topbar">
          <div className="brand">
            <span className="logo" aria-hidden="true">
              ⇆
            </span>
            Rollgate <span className="muted">console</span>
          </div>
          <nav className="nav" aria-label="console pages">
            {NAV.filter((n) => n.need === 'viewer' || roleAllows(user?.role, n.need)).map((n) => (
              <Link
                key={n.href}
                href={n.href}
                className={isActive(n.href, pathname) ? 'nav-link active' : 'nav-link'}
                aria-current={isActive(n.href, pathname) ? 'page' : undefined}
              >
                {n.label}
              </Link>
            ))}
          </nav>
          <div className="conn" data-connection={state} title={health.error ?? undefined}>
            <span
              className={`dot tone-${state === 'connected' ? 'ok' : state === 'unreachable' ? 'bad' : 'idle'}`}
            />
            coordinator {state === 'connecting' ? 'connecting…' : state}
            {health.data ? <span className="muted"> · v{health.data.version}</span> : null}
          </div>
          <div className="whoami" data-user={user?.username ?? ''} data-role={user?.role ?? ''}>
            {user ? (
              <>
                <span className="user-name">{user.username}</span>{' '}
                <span
                  className={`badge tone-${user.role === 'admin' ? 'warn' : user.role === 'operator' ? 'active' : 'idle'}`}
                >
                  {user.role}
                </span>
              </>
            ) : (
              <span className="muted">not verified</span>
            )}
            <button
              type="button"
              className="btn btn-quiet btn-small"
              name="sign-out"
              disabled={leaving}
              onClick={() => {
                setLeaving(true);
                void signOut();
              }}
            >
              {leaving ? 'Signing out…' : 'Sign out'}
            </button>
          </div>
        </header>
        {health.error || unknownReason ? (
          <div className="alert alert-bad banner" role="alert">
            <strong>Coordinator unreachable.</strong> {health.error ?? unknownReason}
          </div>
        ) : null}
        <main className="content">{children}</main>
      </div>
    </SessionProvider>
  );
}
