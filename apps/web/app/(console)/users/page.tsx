import type { Metadata } from 'next';
import { UsersPage } from '../../../src/console/users-page';

export const metadata: Metadata = { title: 'Users · Rollgate' };

export default function Page() {
  return <UsersPage />;
}
