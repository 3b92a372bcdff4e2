// @rollgate/app-db: the demo APPLICATION's database — a real PostgreSQL from Debian's packages
// (postgresql-15), started in its own directory on a free loopback port.
//
// Why not the embedded PostgreSQL 18 Rollgate itself uses: the agent backs the application's
// database up with Debian's pg_dump 15, and pg_dump refuses to dump a server newer than itself. So
// the application's database must be the same major as the client tools on the machine.
//
// Nothing here touches a default cluster Debian's postinst may have created on 5432: the cluster
// lives in its own directory, listens on 127.0.0.1:<free port> and keeps its unix socket inside its
// data directory.
//
// As root (CI, containers) PostgreSQL refuses to run, so initdb and postgres run as the `postgres`
// user, which must be able to traverse down to the cluster directory: when it cannot reach the
// directory we were given (e.g. a checkout under a private home directory), the cluster goes to
// `<os.tmpdir()>/rollgate-app-pg/<sha256(dir)[0..16]>/pg`, which every user can traverse, and stays
// there (remove it by hand). Directories inside os.tmpdir() (tests' mkdtemp dirs) are made
// traversable instead, so a test's cluster lives and dies with its directory.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@rollgate/lb/testing';

const execFileAsync = promisify(execFile);

export interface StartAppPostgresOptions {
  /** Where the cluster, its state file (port, passwords) and its log go; created when missing. */
  dir: string;
  /** Loopback port; default: the one used last time in this dir when free, else a free one. */
  port?: number;
  /** The application's database, owned by `rollgate_app`; default 'demo'. */
  database?: string;
  /** Directory of initdb/postgres/psql/pg_dump; default: the highest /usr/lib/postgresql/<N>/bin. */
  binDir?: string;
  /** How long to wait for the server to accept connections; default 30 s. */
  startTimeoutMs?: number;
}

export interface AppPostgres {
  /** postgres://rollgate_app:<pw>@127.0.0.1:<port>/<database> — the role owns the database. */
  url: string;
  /** postgres://postgres:<pw>@127.0.0.1:<port>/postgres — the cluster's superuser. */
  adminUrl: string;
  port: number;
  /** The Debian binaries used (initdb, postgres, psql, pg_dump, pg_restore, createdb). */
  binDir: string;
  /** Major version of the server, e.g. 15. */
  major: number;
  database: string;
  /** The cluster's data directory (also holds the unix socket). */
  dataDir: string;
  /** postmaster pid. */
  pid: number;
  /** Fast shutdown (then immediate, then SIGKILL); leaves no process behind. Idempotent. */
  stop(): Promise<void>;
}

export const APP_ROLE = 'rollgate_app';
const SUPERUSER = 'postgres';
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';
const INSTALL_HINT =
  'run tools/scripts/ensure-system-deps.sh (as root; npm test runs it) or apt-get install -y postgresql-15 postgresql-client-15';

/** Debian's PostgreSQL binaries on this machine: the highest /usr/lib/postgresql/<N>/bin with a server. */
export function findPgBinDir(root = DEBIAN_PG_ROOT): { binDir: string; major: number } | null {
  let majors: number[];
  try {
    majors = readdirSync(root)
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    return null;
  }
  for (const major of majors) {
    const binDir = path.join(root, String(major), 'bin');
    if (['postgres', 'initdb', 'psql', 'pg_dump'].every((b) => existsSync(path.join(binDir, b)))) {
      return { binDir, major };
    }
  }
  return null;
}

/** Why the application database cannot be started here, or null when it can. */
export function appPostgresUnavailableReason(): string | null {
  return findPgBinDir()
    ? null
    : `Debian's PostgreSQL server (${DEBIAN_PG_ROOT}/<N>/bin/postgres, initdb, psql, pg_dump) is not installed; ${INSTALL_HINT}`;
}

function requireBinDir(binDir?: string): { binDir: string; major: number } {
  if (binDir) {
    for (const b of ['postgres', 'initdb', 'psql']) {
      if (!existsSync(path.join(binDir, b))) {
        throw new Error(`${path.join(binDir, b)} does not exist; point binDir at a PostgreSQL bin directory`);
      }
    }
    const m = /\/(\d+)\/bin\/?$/.exec(binDir);
    return { binDir, major: m ? Number(m[1]) : 0 };
  }
  const found = findPgBinDir();
  if (!found) {
    throw new Error(
      `The demo application's database needs Debian's PostgreSQL (server and client tools, same major as pg_dump), ` +
        `but no ${DEBIAN_PG_ROOT}/<N>/bin/postgres was found: ${INSTALL_HINT}.`,
    );
  }
  return found;
}

interface RunAs {
  uid: number;
  gid: number;
}

async function postgresUser(): Promise<RunAs> {
  const lookup = async () => {
    try {
      const [u, g] = await Promise.all([
        execFileAsync('id', ['-u', SUPERUSER]),
        execFileAsync('id', ['-g', SUPERUSER]),
      ]);
      return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
    } catch {
      return null;
    }
  };
  const found = await lookup();
  if (found) return found;
  // Debian's postgresql-common creates it; create it ourselves when the packages came some other way.
  for (const bin of ['useradd', '/usr/sbin/useradd', '/sbin/useradd']) {
    try {
      await execFileAsync(bin, ['--system', '--no-create-home', '--user-group', SUPERUSER]);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') break;
    }
  }
  const created = await lookup();
  if (created) return created;
  throw new Error(
    `PostgreSQL refuses to run as root and there is no '${SUPERUSER}' user to run it as (useradd failed); create it, or run as a non-root user.`,
  );
}

function canSearch(st: { uid: number; gid: number; mode: number }, who: RunAs): boolean {
  if (st.uid === who.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === who.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

async function reachable(target: string, who: RunAs): Promise<boolean> {
  for (let p = path.resolve(target); ; p = path.dirname(p)) {
    const st = await fs.stat(p).catch(() => null);
    if (!st || !canSearch(st, who)) return false;
    if (path.dirname(p) === p) return true;
  }
}

/** Root only: a cluster directory under os.tmpdir() the postgres user can reach, stable per dir. */
async function fallbackClusterDir(dir: string): Promise<string> {
  const base = path.join(tmpdir(), 'rollgate-app-pg');
  const own = path.join(base, createHash('sha256').update(dir).digest('hex').slice(0, 16));
  await fs.mkdir(own, { recursive: true, mode: 0o755 });
  for (const p of [base, own]) {
    const st = await fs.stat(p);
    if (st.uid === 0) await fs.chmod(p, (st.mode & 0o7777) | 0o555);
  }
  return own;
}

interface State {
  format: 1;
  port: number | null;
  adminPassword: string;
  appPassword: string;
  /** Where the cluster lives (it may be outside dir, see fallbackClusterDir). */
  dataDir: string;
  initialized: boolean;
}

const pgEnv = { LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };

function run(bin: string, args: string[], cwd: string, runAs: RunAs | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, {
      cwd,
      env: pgEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', reject);
    p.once('close', (code, signal) =>
      code === 0
        ? resolve(out)
        : reject(
            new Error(`${path.basename(bin)} failed (exit ${code ?? signal}): ${out.trim().slice(-2000)}`),
          ),
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !isAlive(pid);
}

/** A postmaster left running in dataDir by an earlier (killed) process: shut it down. */
async function stopLeftover(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let pid = 0;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  let ours = false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    ours = cmdline.includes('postgres') && cmdline.includes(dataDir);
  } catch {
    /* gone */
  }
  if (pid > 0 && ours && isAlive(pid)) {
    process.kill(pid, 'SIGINT');
    if (!(await waitForExit(pid, 15_000))) {
      process.kill(pid, 'SIGQUIT');
      await waitForExit(pid, 5_000);
    }
  }
  await fs.rm(pidFile, { force: true });
}

const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

export interface PsqlOptions {
  /** Directory holding psql; default: Debian's highest, else `psql` from PATH. */
  binDir?: string;
  timeoutMs?: number;
}

/**
 * Runs SQL through `psql -X -At -v ON_ERROR_STOP=1` and returns its output, trimmed: one line per
 * row, columns separated by `|`. Rejects with psql's message on any error.
 */
export function psqlQuery(url: string, sql: string, opts: PsqlOptions = {}): Promise<string> {
  const binDir = opts.binDir ?? findPgBinDir()?.binDir;
  const psql = binDir ? path.join(binDir, 'psql') : 'psql';
  const env: Record<string, string> = { ...pgEnv, PATH: process.env.PATH ?? '', PGCONNECT_TIMEOUT: '5' };
  return new Promise((resolve, reject) => {
    const p = spawn(psql, ['-X', '-At', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', '-'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`psql failed (exit ${code ?? signal}): ${err.trim() || out.trim()}`));
    });
    p.stdin.end(sql);
  });
}

/** The rows of a query as arrays of column strings (psqlQuery split on newlines and `|`). */
export async function psqlRows(url: string, sql: string, opts: PsqlOptions = {}): Promise<string[][]> {
  const out = await psqlQuery(url, sql, opts);
  return out === '' ? [] : out.split('\n').map((l) => l.split('|'));
}

async function waitReady(
  binDir: string,
  port: number,
  proc: ChildProcess,
  deadline: number,
  logFile: string,
): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const log = await fs.readFile(logFile, 'utf8').catch(() => '');
      throw new Error(
        `the application PostgreSQL exited during start-up (${proc.exitCode ?? proc.signalCode}); its log says:\n${log.trim().slice(-2000)}`,
      );
    }
    const ok = await execFileAsync(
      path.join(binDir, 'pg_isready'),
      ['-q', '-h', '127.0.0.1', '-p', String(port), '-d', 'postgres', '-t', '1'],
      { env: pgEnv },
    ).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) {
      throw new Error(
        `the application PostgreSQL did not accept connections on port ${port}; see ${logFile}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts (initialising on first use) a Debian PostgreSQL cluster for the demo application in
 * `<dir>` and returns its URLs. Re-starting on the same dir keeps the data, the passwords and,
 * when still free, the port. The role `rollgate_app` owns the database and has CREATEDB (the
 * agent's backup verification restores into a scratch database).
 */
export async function startAppPostgres(opts: StartAppPostgresOptions): Promise<AppPostgres> {
  const { binDir, major } = requireBinDir(opts.binDir);
  const database = opts.database ?? 'demo';
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(database)) {
    throw new Error(`database name ${JSON.stringify(database)} is not allowed (letters, digits, '_', '-')`);
  }
  const dir = path.resolve(opts.dir);
  await fs.mkdir(dir, { recursive: true, mode: 0o750 });
  const runAs = process.getuid?.() === 0 ? await postgresUser() : null;

  const stateFile = path.join(dir, 'app-db.json');
  let state: State | null = null;
  try {
    state = JSON.parse(await fs.readFile(stateFile, 'utf8')) as State;
    if (state.format !== 1 || !existsSync(path.join(state.dataDir, 'PG_VERSION'))) state = null;
  } catch {
    state = null;
  }

  if (!state || !state.initialized) {
    let clusterParent = dir;
    if (runAs) {
      // Let postgres traverse (not list) our directory and, inside the system temp directory, the
      // root-owned directories above it (a test's mkdtemp dir is 0700): so the cluster stays in dir
      // and is removed with it. Anywhere else we do not touch permissions: a private directory
      // (e.g. a checkout under /root) sends the cluster to a fallback directory instead.
      const tmp = path.resolve(tmpdir());
      for (
        let p = dir;
        p !== path.dirname(p) && (p === dir || p.startsWith(`${tmp}${path.sep}`));
        p = path.dirname(p)
      ) {
        const st = await fs.stat(p);
        if (st.uid === 0 && (st.mode & 0o001) === 0) await fs.chmod(p, (st.mode & 0o7777) | 0o001);
      }
      if (!(await reachable(dir, runAs))) clusterParent = await fallbackClusterDir(dir);
    }
    state = {
      format: 1,
      port: null,
      adminPassword: randomBytes(18).toString('hex'),
      appPassword: randomBytes(18).toString('hex'),
      dataDir: path.join(clusterParent, 'pg'),
      initialized: false,
    };
    await fs.rm(state.dataDir, { recursive: true, force: true });
    await fs.mkdir(state.dataDir, { mode: 0o700 });
    if (runAs) await fs.chown(state.dataDir, runAs.uid, runAs.gid);
    const pwFile = path.join(clusterParent, `.pw-${randomBytes(4).toString('hex')}`);
    await fs.writeFile(pwFile, `${state.adminPassword}\n`, { mode: 0o600 });
    try {
      if (runAs) await fs.chown(pwFile, runAs.uid, runAs.gid);
      await run(
        path.join(binDir, 'initdb'),
        [
          `--pgdata=${state.dataDir}`,
          `--username=${SUPERUSER}`,
          `--pwfile=${pwFile}`,
          '--auth-host=scram-sha-256',
          '--auth-local=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          '--no-instructions',
        ],
        runAs ? state.dataDir : dir,
        runAs,
      );
    } finally {
      await fs.rm(pwFile, { force: true });
    }
    await fs.writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  }
  const dataDir = state.dataDir;
  await stopLeftover(dataDir);

  const logFile = path.join(dir, 'postgres.log');
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  let port = 0;
  let proc: ChildProcess | null = null;
  for (let attempt = 1; ; attempt++) {
    port =
      opts.port ??
      (state.port !== null && attempt === 1 && (await portIsFree(state.port))
        ? state.port
        : await freePort());
    const fd = openSync(logFile, 'a', 0o600);
    try {
      proc = spawn(
        path.join(binDir, 'postgres'),
        [
          '-D',
          dataDir,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `unix_socket_directories=${dataDir}`,
          // A demo database: no need to survive a power cut, and it makes tests faster.
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
        ],
        {
          cwd: runAs ? dataDir : dir,
          env: pgEnv,
          stdio: ['ignore', fd, fd],
          ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
        },
      );
    } finally {
      closeSync(fd);
    }
    const p = proc;
    await new Promise<void>((resolve, reject) => {
      p.once('spawn', resolve);
      p.once('error', reject);
    });
    try {
      await waitReady(binDir, port, p, deadline, logFile);
      break;
    } catch (err) {
      if (p.exitCode === null) {
        p.kill('SIGQUIT');
        await waitForExit(p.pid!, 5_000);
      }
      const log = await fs.readFile(logFile, 'utf8').catch(() => '');
      if (attempt < 3 && opts.port === undefined && /could not bind|could not create any TCP/i.test(log)) {
        continue;
      }
      throw err;
    }
  }
  const pid = proc.pid!;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    };
    signal('SIGINT');
    if (await waitForExit(pid, 15_000)) return;
    signal('SIGQUIT');
    if (await waitForExit(pid, 5_000)) return;
    signal('SIGKILL');
    await waitForExit(pid, 5_000);
  };

  try {
    const adminUrl = `postgres://${SUPERUSER}:${state.adminPassword}@127.0.0.1:${port}/postgres`;
    const psql = { binDir };
    await psqlQuery(
      adminUrl,
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${sqlLiteral(APP_ROLE)}) THEN
           CREATE ROLE ${sqlIdent(APP_ROLE)} LOGIN CREATEDB;
         END IF;
       END $$;
       ALTER ROLE ${sqlIdent(APP_ROLE)} LOGIN CREATEDB PASSWORD ${sqlLiteral(state.appPassword)};`,
      psql,
    );
    const exists = await psqlQuery(
      adminUrl,
      `SELECT 1 FROM pg_database WHERE datname = ${sqlLiteral(database)}`,
      psql,
    );
    if (exists !== '1') {
      await psqlQuery(adminUrl, `CREATE DATABASE ${sqlIdent(database)} OWNER ${sqlIdent(APP_ROLE)}`, psql);
    }
    if (state.port !== port || !state.initialized) {
      state.port = port;
      state.initialized = true;
      await fs.writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
    }
    return {
      url: `postgres://${APP_ROLE}:${state.appPassword}@127.0.0.1:${port}/${database}`,
      adminUrl,
      port,
      binDir,
      major,
      database,
      dataDir,
      pid,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
