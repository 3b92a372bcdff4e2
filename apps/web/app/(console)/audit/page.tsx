import type { Metadata } from 'next';
import { AuditPage } from '../../../src/console/audit-page';

export const metadata: Metadata = { title: 'Audit · Rollgate' };

export default function Page() {
  return <AuditPage />;
}
