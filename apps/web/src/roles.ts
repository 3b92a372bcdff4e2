/** Roles as the console shows them (the coordinator enforces them; the console only hides controls). */
export type Role = 'viewer' | 'operator' | 'admin';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` may do what needs `need`; nobody signed in (null) may do nothing. */
export function roleAllows(role: Role | null | undefined, need: Role): boolean {
  return role ? RANK[role] >= RANK[need] : false;
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
