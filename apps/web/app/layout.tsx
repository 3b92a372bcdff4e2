import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'Rollgate console',
  description: 'Upgrade fleets of servers behind load balancers with no request lost.',
};

export const viewport: Viewport = { themeColor: '#f6f7f9' };

/** The document only: the console, the sign-in page and the customer portal each bring their own frame. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
