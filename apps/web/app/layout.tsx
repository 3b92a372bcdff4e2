import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import { Shell } from '../src/console/shell';
import './globals.css';

export const metadata: Metadata = {
  title: 'Rollgate console',
  description: 'Upgrade fleets of servers behind load balancers with no request lost.',
};

export const viewport: Viewport = { themeColor: '#f6f7f9' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Shell>{children}</Shell>
      </body>
    </html>
  );
}
