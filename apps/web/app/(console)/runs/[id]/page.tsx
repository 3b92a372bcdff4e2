import type { Metadata } from 'next';
import { LiveRunPage } from '../../../../src/console/live-run-page';

export const metadata: Metadata = { title: 'Run · Rollgate' };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  // key: another run is a fresh page state (its own subscription, logs and filters).
  return <LiveRunPage key={id} runId={decodeURIComponent(id)} />;
}
