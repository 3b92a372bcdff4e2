'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import type { ReactNode } from 'react';
import { consoleClient } from '../trpc-client';
import { usePolled } from './hooks';

const NAV = [
  { href: '/fleet', label: 'Fleet' },
  { href: '/editions', label: 'Editions' },
  { href: '/plan', label: 'Plan upgrade' },
  { href: '/runs', label: 'Runs' },
  { href: '/audit', label: 'Audit' },
] as const;

/** Whether a nav entry is the page shown (the run pages belong to "Runs"). */
export function isActive(href: string, pathname: string): boolean {
  return pathname === href || pathname.startsWith(`${href}/`) || (href === '/fleet' && pathname === '/');
}

/** The top bar on every page: the brand, the pages, and whether the coordinator answers. */
export function Shell({ children }: { children: ReactNode }) {
  const pathname = usePathname() ?? '/';
  const health = usePolled(() => consoleClient().health.query(), 5000);
  const state = health.error ? 'unreachable' : health.data ? 'connected' : 'connecting';
  return (
    <div className="console">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ⇆
          </span>
          Rollgate <span className="muted">console</span>
        </div>
        <nav className="nav" aria-label="console pages">
          {NAV.map((n) => (
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
      </header>
      {health.error ? (
        <div className="alert alert-bad banner" role="alert">
          <strong>Coordinator unreachable.</strong> {health.error}
        </div>
      ) : null}
      <main className="content">{children}</main>
    </div>
  );
}
