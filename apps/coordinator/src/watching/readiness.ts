// /readyz (issue 16 item 3, docs/adr/0030): the coordinator is ready when its database answers and
// holds every migration this build ships. /healthz stays the liveness check (the process serves).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** The part of a node-postgres pool readiness uses. */
export interface ReadinessPool {
  query(sql: string): Promise<{ rows: unknown[] }>;
}

export interface ReadinessOptions {
  pool: () => ReadinessPool;
  /** Folder of drizzle-kit migrations, the one the database was migrated from (meta/_journal.json). */
  migrationsFolder: string;
  /** A check slower than this counts as unreachable, ms; default 2000. */
  timeoutMs?: number;
}

export type Readiness = { ready: true } | { ready: false; reason: string };

const journalSchema = z.object({
  entries: z.array(z.object({ tag: z.string(), when: z.number().int() })).min(1),
});

const appliedSchema = z.object({ last: z.union([z.string(), z.number(), z.null()]) });

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * `check()` answers whether the coordinator can serve: a `SELECT 1` reaches the database, and the
 * newest migration it recorded (drizzle's `drizzle.__drizzle_migrations`, by `created_at` = the
 * journal's `when`, as drizzle's migrator decides) is this build's newest one. Reasons are for an
 * operator and carry no connection string.
 */
export function createReadiness(opts: ReadinessOptions) {
  const timeoutMs = opts.timeoutMs ?? 2000;
  let newest: Promise<{ tag: string; when: number }> | null = null;

  const shipped = () =>
    (newest ??= readFile(join(opts.migrationsFolder, 'meta', '_journal.json'), 'utf8').then((text) => {
      const entries = journalSchema.parse(JSON.parse(text)).entries;
      return entries.reduce((a, b) => (b.when > a.when ? b : a));
    }));

  async function check(): Promise<Readiness> {
    let want: { tag: string; when: number };
    try {
      want = await shipped();
    } catch (err) {
      newest = null;
      return { ready: false, reason: `cannot read this build's migrations: ${(err as Error).message}` };
    }
    let last: string | number | null;
    try {
      const pool = opts.pool();
      await withTimeout(pool.query('SELECT 1'), timeoutMs, 'the database');
      const res = await withTimeout(
        pool.query(
          `SELECT (SELECT max(created_at) FROM drizzle.__drizzle_migrations) AS last
           WHERE to_regclass('drizzle.__drizzle_migrations') IS NOT NULL
           UNION ALL SELECT NULL WHERE to_regclass('drizzle.__drizzle_migrations') IS NULL`,
        ),
        timeoutMs,
        'the database',
      );
      last = appliedSchema.parse(res.rows[0]).last;
    } catch (err) {
      return { ready: false, reason: `database unreachable: ${(err as Error).message.slice(0, 200)}` };
    }
    const applied = last === null ? 0 : Number(last);
    if (applied < want.when) {
      return {
        ready: false,
        reason: `database migrations pending: this build's newest is ${want.tag}, the database has not applied it (restart the coordinator to migrate)`,
      };
    }
    return { ready: true };
  }

  return { check };
}
