import type { Metadata } from 'next';
import type { ReactNode } from 'react';

export const metadata: Metadata = {
  title: 'Upgrade portal · Rollgate',
  // The link's token is in the address: it must not leak to other sites or into search engines.
  referrer: 'no-referrer',
  robots: { index: false, follow: false },
};

/** The customer's frame: no console navigation, nothing to reach but this run's portal. */
export default function PortalLayout({ children }: { children: ReactNode }) {
  return (
    <div className="portal">
      <header className="topbar portal-bar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ⇆
          </span>
          Rollgate <span className="muted">upgrade portal</span>
        </div>
      </header>
      <main className="content portal-content">{children}</main>
    </div>
  );
}
