import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { currentUser } from '../../src/current-user';
import { LoginPage } from '../../src/console/login-page';
import { safeNext } from '../../src/session';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Sign in · Rollgate' };

export default async function Page({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const sp = await searchParams;
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  // Already signed in (a session the coordinator knows): straight on.
  if ((await currentUser()).state === 'signed-in') redirect(safeNext(one(sp.next)));
  return (
    <LoginPage
      next={safeNext(one(sp.next))}
      expired={one(sp.expired) === '1'}
      signedOut={one(sp['signed-out']) === '1'}
    />
  );
}
