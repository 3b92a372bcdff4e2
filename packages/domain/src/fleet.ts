import { z } from 'zod';

/**
 * Names that end up in paths, HAProxy config and URLs: letters, digits, dot, dash, underscore;
 * must start with a letter or digit. Rejects spaces, slashes and `..` so a name can never
 * escape a directory.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const safeName = (what: string) =>
  z
    .string()
    .regex(
      SAFE_NAME,
      `${what} must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. "2.0" or "1.0.1_FIX")`,
    )
    .refine((s) => !s.includes('..'), `${what} must not contain '..'`);

/** One host with one agent. */
export interface ServerRef {
  id: string;
  cluster: string;
  role: string;
  hostname?: string;
}

/** A version of an application; installed side by side, never over another. */
export interface Edition {
  app: string;
  name: string;
  description?: string;
  sha256: string;
  size: number;
  /** Named command (from the service's config on the agent) that upgrades the database, if any. */
  dbUpgradeCommand?: string;
}

export const editionNameSchema = safeName('edition name');
export const appNameSchema = safeName('application name');
export const sha256Schema = z.string().regex(/^[a-f0-9]{64}$/, 'sha256 must be 64 lowercase hex characters');
