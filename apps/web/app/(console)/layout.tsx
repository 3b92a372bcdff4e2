import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { Shell } from '../../src/console/shell';
import { currentUser } from '../../src/current-user';
import { safeNext } from '../../src/session';

// Who is signed in is asked of the coordinator on every request: never cached.
export const dynamic = 'force-dynamic';

/**
 * Every console page needs a session the coordinator knows. Without one (no cookie, an expired or
 * revoked session, or a token that is not a session, such as a portal link's) the page is the sign-in.
 */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const who = await currentUser();
  if (who.state === 'signed-out') {
    const path = (await headers()).get('x-rollgate-path');
    const next = safeNext(path);
    redirect(next === '/fleet' ? '/login' : `/login?next=${encodeURIComponent(next)}`);
  }
  return (
    <Shell
      user={who.state === 'signed-in' ? who.user : null}
      unknownReason={who.state === 'unknown' ? who.message : null}
    >
      {children}
    </Shell>
  );
}
