// PostgreSQL client tools (pg_dump, pg_restore, psql) run as children with a deadline. The
// password never goes on a command line (where `ps` would show it): the URL is passed without it
// and the password travels as PGPASSWORD in the child's environment.
import { spawn } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../lib/fs-util';
import { displayUrl } from './redact';
import { atNicenessZero } from '../lib/niceness';

/** The parts of a database URL the tools need. */
export interface PgTarget {
  /** The URL without its password: safe for a command line and a message. */
  url: string;
  password: string | undefined;
  database: string;
}

export function pgTarget(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`the database URL ${displayUrl(url)} is not a valid URL; fix services[].database`);
  }
  const password = u.password === '' ? undefined : decodeURIComponent(u.password);
  u.password = '';
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '') {
    throw new Error(
      `the database URL ${u.toString()} names no database (e.g. postgres://app@127.0.0.1:5432/appdb)`,
    );
  }
  return { url: u.toString(), password, database };
}

/** The same server and credentials, another database. */
export function withDatabase(t: PgTarget, database: string): PgTarget {
  const u = new URL(t.url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return { url: u.toString(), password: t.password, database };
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/**
 * Where pg_dump lives: the configured directory; else the highest /usr/lib/postgresql/<n>/bin
 * (Debian's layout, where /usr/bin holds version-switching wrappers); else '' (search PATH).
 */
export async function findPgBinDir(
  configured: string | undefined,
  root = '/usr/lib/postgresql',
): Promise<string> {
  if (configured !== undefined) {
    if (!(await exists(join(configured, 'pg_dump')))) {
      throw new Error(
        `services[].database.pgBinDir ${configured} has no pg_dump; install the PostgreSQL client tools or fix pgBinDir`,
      );
    }
    return configured;
  }
  let versions: string[] = [];
  try {
    versions = (await readdir(root)).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    versions = [];
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(root, v, 'bin');
    if (await exists(join(dir, 'pg_dump'))) return dir;
  }
  return '';
}

export interface PgRunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface PgRunOptions {
  binDir: string;
  target: PgTarget;
  /** Absolute deadline (performance.now() clock). */
  deadline: number;
  signal: AbortSignal;
  baseEnv: Record<string, string>;
  /** Described in errors, e.g. "dump demo-app's database". */
  what: string;
}

/** Runs one tool; throws on timeout, cancellation, spawn failure or a non-zero exit. */
export async function runPg(tool: string, args: string[], o: PgRunOptions): Promise<PgRunResult> {
  const started = performance.now();
  const remaining = Math.max(1, o.deadline - started);
  const env: Record<string, string> = { ...o.baseEnv, PGCONNECT_TIMEOUT: '10' };
  delete env.PGPASSWORD;
  if (o.target.password !== undefined) env.PGPASSWORD = o.target.password;
  const cmd = o.binDir ? join(o.binDir, tool) : tool;
  const run = atNicenessZero(cmd, args);
  const child = spawn(run.command, run.args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    if (stdout.length < 16 * 1024 * 1024) stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-8192);
  });
  let timedOut = false;
  const kill = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
    setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, 2000).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, remaining);
  const onAbort = () => kill();
  o.signal.addEventListener('abort', onAbort, { once: true });
  let code: number | null;
  try {
    code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (e) => reject(e));
      child.once('close', (c) => resolve(c));
    });
  } catch (err) {
    const hint =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? `; install the PostgreSQL client tools (e.g. apt-get install postgresql-client-15) or set services[].database.pgBinDir`
        : '';
    throw new Error(`could not run ${cmd} to ${o.what}: ${errorMessage(err)}${hint}`);
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', onAbort);
  }
  if (o.signal.aborted) throw o.signal.reason;
  const ms = Math.round(performance.now() - started);
  if (timedOut) {
    throw new Error(
      `${tool} did not finish within the op's timeout while trying to ${o.what}; it was stopped`,
    );
  }
  if (code !== 0) {
    const last = stderr.trim().split('\n').slice(-5).join(' | ');
    throw new Error(`${tool} failed to ${o.what} (exit code ${code ?? 'signal'}): ${last || 'no output'}`);
  }
  return { code, stdout, stderr, ms };
}

/** Exact row counts (count(*)) of every table outside the system schemas, in one round trip. */
export const ROW_COUNTS_SQL = `SELECT schemaname || '.' || tablename,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text
FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\\_toast%' AND schemaname NOT LIKE 'pg\\_temp%'
ORDER BY 1`;

export async function rowCounts(o: PgRunOptions): Promise<Record<string, number>> {
  const r = await runPg(
    'psql',
    [
      '-X',
      '-A',
      '-t',
      '-q',
      '-F',
      '\t',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      ROW_COUNTS_SQL,
      `--dbname=${o.target.url}`,
    ],
    o,
  );
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const tab = line.lastIndexOf('\t');
    out[line.slice(0, tab)] = Number(line.slice(tab + 1));
  }
  return out;
}

/** Runs one SQL statement (outside a transaction: CREATE/DROP DATABASE). */
export async function psqlCommand(sql: string, o: PgRunOptions): Promise<void> {
  await runPg('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql, `--dbname=${o.target.url}`], o);
}

/** "a" → "\"a\"" with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Tables whose counts differ, e.g. `public.items 3 → 2`, `public.x missing`. */
export function diffCounts(expected: Record<string, number>, got: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [t, n] of Object.entries(expected)) {
    if (!(t in got)) out.push(`${t} missing after restore (had ${n} rows)`);
    else if (got[t] !== n) out.push(`${t} ${n} rows in the source, ${got[t]} restored`);
  }
  for (const t of Object.keys(got)) if (!(t in expected)) out.push(`${t} not in the source`);
  return out;
}
