'use client';

import { createContext, useContext, type ReactNode } from 'react';
import { NEEDS_NOTE, roleAllows, type Role, type SessionUser } from '../roles';

const SessionContext = createContext<SessionUser | null>(null);

export function SessionProvider({ user, children }: { user: SessionUser | null; children: ReactNode }) {
  return <SessionContext.Provider value={user}>{children}</SessionContext.Provider>;
}

/** Who is signed in (null while the coordinator cannot be asked). */
export function useSessionUser(): SessionUser | null {
  return useContext(SessionContext);
}

/** Whether the signed-in user's role allows what needs `need`. */
export function useCan(need: Role): boolean {
  return roleAllows(useContext(SessionContext)?.role, need);
}

/** Where a control is hidden for the role: says which role it needs. */
export function NeedsRole({ role, what }: { role: Role; what?: string }) {
  return (
    <p className="needs-role muted small" data-needs-role={role}>
      {what ? `${what}: ` : ''}
      {NEEDS_NOTE[role]}.
    </p>
  );
}
