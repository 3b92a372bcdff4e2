import type { Metadata } from 'next';
import { EditionsPage } from '../../../src/console/editions-page';

export const metadata: Metadata = { title: 'Editions · Rollgate' };

export default function Page() {
  return <EditionsPage />;
}
