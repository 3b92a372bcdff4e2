// The roles and their order are the domain's (the coordinator enforces them; the console only
// hides controls).
import { roleAllows as domainRoleAllows, type Role } from '@rollgate/domain';

export type { Role };

/** Whether `role` may do what needs `need`; nobody signed in (null) may do nothing. */
export function roleAllows(role: Role | null | undefined, need: Role): boolean {
  return role ? domainRoleAllows(role, need) : false;
}

/** The note shown where a control is hidden. */
export const NEEDS_NOTE: Record<Role, string> = {
  viewer: 'needs a signed-in account',
  operator: 'needs the operator role',
  admin: 'needs the administrator role',
};

/** What the console knows about who is signed in. */
export interface SessionUser {
  username: string;
  role: Role;
}
