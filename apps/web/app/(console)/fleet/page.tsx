import type { Metadata } from 'next';
import { FleetPage } from '../../../src/console/fleet-page';

export const metadata: Metadata = { title: 'Fleet · Rollgate' };

export default function Page() {
  return <FleetPage />;
}
