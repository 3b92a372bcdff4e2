import { z } from 'zod';

/**
 * Operator accounts and their roles. A viewer reads; an operator runs upgrades (plan, start,
 * pause, resume, skip, roll back, sign off on the customer's word); an administrator also changes
 * settings (load balancers, cluster settings, users) and waives readiness gates.
 */
export const ROLES = ['admin', 'operator', 'viewer'] as const;

export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` may do what needs `need`. */
export function roleAllows(role: Role, need: Role): boolean {
  return RANK[role] >= RANK[need];
}

/** The roles from the one allowed least to the one allowed most. */
export const ROLES_BY_RANK: readonly Role[] = [...ROLES].sort((a, b) => RANK[a] - RANK[b]);

/** What each role may do, in the words shown beside it where accounts are managed. */
export const ROLE_DESCRIPTION: Readonly<Record<Role, string>> = {
  viewer: 'reads everything, changes nothing',
  operator: 'plans and runs upgrades and edition verbs, controls runs',
  admin: 'also load balancers, cluster settings, waivers and accounts',
};

export const roleSchema = z.enum(ROLES, {
  error: 'a role is "admin", "operator" or "viewer"',
});

export const usernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^[a-z0-9][a-z0-9._@-]{0,63}$/,
    'a user name is 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
  );

/** Long enough to resist guessing at the login rate limit; no composition rules (NIST 800-63B). */
export const passwordSchema = z
  .string()
  .min(12, 'a password has at least 12 characters')
  .max(256, 'a password has at most 256 characters');

export interface UserRecord {
  id: string;
  username: string;
  role: Role;
  /** `scrypt$N$r$p$salt$hash` (base64): never the password, never sent to a client. */
  passwordHash: string;
  createdAt: number;
  createdBy: string;
  /** Disabled accounts cannot sign in; their sessions end. */
  disabledAt: number | null;
}

/** A user as clients see it. */
export type UserView = Omit<UserRecord, 'passwordHash'>;

export interface SessionRecord {
  /** sha256 of the bearer token: a leaked table does not give sessions away. */
  tokenHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  /** Where the session was opened from (IP address), for the audit log. */
  from: string;
}

/** A customer's link to one run's portal: what it may see and decide is that run only. */
export interface PortalTokenRecord {
  tokenHash: string;
  runId: string;
  /** Who it was sent to, for the audit log (e.g. the lead contact's name). */
  recipient: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}
