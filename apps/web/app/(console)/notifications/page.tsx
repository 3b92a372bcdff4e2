import type { Metadata } from 'next';
import { NotificationsPage } from '../../../src/console/notifications-page';

export const metadata: Metadata = { title: 'Notifications · Rollgate' };

export default function Page() {
  return <NotificationsPage />;
}
