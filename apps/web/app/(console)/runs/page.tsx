import type { Metadata } from 'next';
import { RunsPage } from '../../../src/console/runs-page';

export const metadata: Metadata = { title: 'Runs · Rollgate' };

export default function Page() {
  return <RunsPage />;
}
