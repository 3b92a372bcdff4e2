import type { Metadata } from 'next';
import { PlannerPage } from '../../../src/console/planner-page';

export const metadata: Metadata = { title: 'Plan an upgrade · Rollgate' };

export default function Page() {
  return <PlannerPage />;
}
