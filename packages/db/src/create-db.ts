import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import {
  createEmbeddedPostgres,
  isTransientConnectError,
  silentLogger,
  type DbLogger,
  type EmbeddedConnection,
  type EmbeddedPostgres,
} from './embedded-postgres';
import { probeAnswers } from './pg-probe';
import { sleep } from './process-utils';
import * as schema from './schema';

export type { DbLogger } from './embedded-postgres';

/** The drizzle database handle of Rollgate's schema. */
export type Db = NodePgDatabase<typeof schema>;

export interface CreateDbOptions {
  /**
   * An existing PostgreSQL (`postgres://user:pass@host:5432/db`). When set, no embedded server is
   * started and `port`/`binaryCacheDir` are ignored. Default: unset, i.e. the embedded server.
   */
  databaseUrl?: string;
  /** Rollgate's data directory. The embedded cluster lives in `<dataDir>/pg`, its log in `<dataDir>/postgres.log`. */
  dataDir: string;
  /**
   * Loopback port of the embedded server. Default: the port chosen on the first start (persisted in
   * `<dataDir>/pg-state.json`), or a free one when that is taken or on the very first start.
   */
  port?: number;
  /** pino-like logger (object first). Default: silent. Never receives the password. */
  logger?: DbLogger;
  /** Database the embedded server creates and Rollgate uses. Default: `rollgate`. */
  database?: string;
  /** Connections in the pool. Default: 10. */
  poolSize?: number;
  /** Apply the committed migrations on start. Default: true. */
  migrate?: boolean;
  /** Folder of drizzle-kit migrations. Default: `packages/db/migrations` (beside this package's src). */
  migrationsFolder?: string;
  /** Root only: where the world-readable copy of the PostgreSQL binaries is cached. Default: `os.tmpdir()`. */
  binaryCacheDir?: string;
  /**
   * Root only: where the embedded cluster goes when the postgres user cannot traverse down to
   * dataDir (e.g. a checkout under a private home directory). Default: /var/lib/rollgate/pg.
   */
  fallbackRoot?: string;
  /** How long start() waits for PostgreSQL to accept connections. Default: 60 000 ms. */
  startTimeoutMs?: number;
  /** How long the embedded server's fast shutdown may take before an immediate one. Default: 30 000 ms. */
  stopTimeoutMs?: number;
}

export interface RollgateDb {
  /** drizzle over `pool`; available after start(). */
  readonly db: Db;
  /** The node-postgres pool; available after start(). */
  readonly pool: pg.Pool;
  /** Connection URL, password included: a secret, never log it (use `redactedUrl`). Available after start(). */
  readonly url: string;
  /** `url` with the password replaced by `***`, for logs and messages. */
  readonly redactedUrl: string;
  /** True when this instance runs the embedded server. */
  readonly embedded: boolean;
  /** Start-up figures of the embedded server (null for an external database or before start()). */
  readonly stats: { initMs: number | null; startMs: number; adopted: boolean; pid: number } | null;
  /**
   * Embedded: starts (or adopts) PostgreSQL, takes the data directory's ownership lock, creates the
   * database. Both: waits until the server accepts connections and applies migrations.
   */
  start(): Promise<void>;
  /** Ends the pool; embedded: stops PostgreSQL (fast shutdown) and waits until it has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Session-level advisory lock keys (arbitrary constants; ASCII "RollOwnr"/"RollMigr"). */
const OWNER_LOCK = '5939040475853541490';
const MIGRATION_LOCK = '5939040475853482354';

/** Where this package's migrations are; createDb applies them from here by default. */
export const defaultMigrationsFolder = () => fileURLToPath(new URL('../migrations', import.meta.url));

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

async function withRetry<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientConnectError(err) || Date.now() >= deadline) throw err;
      await sleep(100);
    }
  }
}

/**
 * The database of a coordinator: the embedded PostgreSQL under `dataDir` by default, or the
 * PostgreSQL at `databaseUrl`. Nothing happens until start().
 *
 * Crash safety of the embedded server: postgres runs in its own process group, so a SIGKILLed
 * coordinator leaves it running; the next start() on the same dataDir finds it through
 * postmaster.pid and reuses it (no restart, no crash recovery). While a coordinator runs it holds
 * an advisory lock in that server, released by PostgreSQL the moment its connection dies: a second
 * live coordinator on the same dataDir fails to start instead of sharing (and later stopping) it.
 */
export function createDb(opts: CreateDbOptions): RollgateDb {
  const log = opts.logger ?? silentLogger;
  const database = opts.database ?? 'rollgate';
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const isEmbedded = opts.databaseUrl === undefined;

  let pool: pg.Pool | null = null;
  let db: Db | null = null;
  let url: string | null = null;
  let ownerLock: pg.Client | null = null;
  let embedded: EmbeddedPostgres | null = null;
  let stats: RollgateDb['stats'] = null;
  let starting: Promise<void> | null = null;

  function need<T>(v: T | null, what: string): T {
    if (v === null) throw new Error(`${what} is available after createDb(...).start() has resolved`);
    return v;
  }

  async function startEmbedded(): Promise<pg.PoolConfig> {
    embedded = createEmbeddedPostgres({
      dataDir: opts.dataDir,
      port: opts.port,
      binaryCacheDir: opts.binaryCacheDir ?? os.tmpdir(),
      ...(opts.fallbackRoot ? { fallbackRoot: opts.fallbackRoot } : {}),
      logger: log,
      startTimeoutMs,
      stopTimeoutMs: opts.stopTimeoutMs ?? 30_000,
    });
    const base = (c: { port: number; password: string }, dbName: string): pg.ClientConfig => ({
      host: '127.0.0.1',
      port: c.port,
      user: 'postgres',
      password: c.password,
      database: dbName,
      connectionTimeoutMillis: 5_000,
    });
    const probe = (port: number, password: string) => probeAnswers(base({ port, password }, 'postgres'));
    const conn: EmbeddedConnection = await embedded.start(probe);
    try {
      ownerLock = new pg.Client(base(conn, 'postgres'));
      ownerLock.on('error', (err) =>
        log.error({ err: err.message }, 'lost the embedded PostgreSQL ownership connection'),
      );
      await ownerLock.connect();
      // Only an adopted server can have another owner. A SIGKILLed previous owner's session ends
      // when the kernel closes its socket, but give PostgreSQL a moment to notice.
      let owned = false;
      for (let i = 0; i < (conn.adopted ? 20 : 1) && !owned; i++) {
        const r = await ownerLock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
          OWNER_LOCK,
        ]);
        owned = r.rows[0]?.ok === true;
        if (!owned) await sleep(100);
      }
      if (!owned) {
        const err = new Error(
          `Another running Rollgate process uses the embedded PostgreSQL in ${embedded.dataDir} ` +
            `(postgres pid ${conn.pid}, port ${conn.port}). Stop it first, or give this process its own data directory.`,
        );
        (err as Error & { code: string }).code = 'EMBEDDED_DB_IN_USE';
        throw err;
      }
      const admin = new pg.Client(base(conn, 'postgres'));
      admin.on('error', () => undefined); // surfaced by the failing query instead
      await admin.connect();
      try {
        const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
        if (exists.rowCount === 0) {
          await admin
            .query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`)
            .catch((err: { code?: string }) => {
              if (err.code !== '42P04') throw err; // created meanwhile by another start
            });
        }
      } finally {
        await admin.end();
      }
    } catch (err) {
      const inUse = (err as { code?: string }).code === 'EMBEDDED_DB_IN_USE';
      await ownerLock?.end().catch(() => undefined);
      ownerLock = null;
      // Stop the server only if it is ours to stop: never one that another live process owns.
      if (!inUse) await embedded.stop();
      embedded = null;
      throw err;
    }
    stats = { initMs: conn.initMs, startMs: conn.startMs, adopted: conn.adopted, pid: conn.pid };
    const cfg = base(conn, database);
    url = `postgres://postgres:${encodeURIComponent(conn.password)}@127.0.0.1:${conn.port}/${encodeURIComponent(database)}`;
    return cfg;
  }

  async function doStart(): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    let cfg: pg.PoolConfig;
    if (isEmbedded) {
      cfg = await startEmbedded();
    } else {
      url = opts.databaseUrl!;
      cfg = { connectionString: url, connectionTimeoutMillis: 10_000 };
    }
    const p = new pg.Pool({ ...cfg, max: opts.poolSize ?? 10 });
    // Every connection has its own 'error' listener for its whole life. pg-pool listens only while
    // a client is idle: one checked out between two statements (inside a transaction) that lost
    // its server (a restart, a failover, pg_terminate_backend) would emit an unheard 'error' and
    // end the process. Its next statement fails instead, and the caller sees that; an idle one is
    // dropped by the pool. One line per lost connection, whichever state it was in.
    p.on('connect', (client) => {
      // pg may raise a second error for the same loss ("terminated unexpectedly" when the socket
      // ends after the server's FATAL): one line per connection.
      let logged = false;
      client.on('error', (err) => {
        if (logged) return;
        logged = true;
        log.warn({ err: err.message }, 'PostgreSQL connection lost');
      });
    });
    // The pool re-emits an idle client's error: already logged above, but an 'error' event with no
    // listener would crash the process.
    p.on('error', () => {});
    try {
      await withRetry(deadline, async () => {
        const c = await p.connect();
        c.release();
      });
      if (opts.migrate ?? true) {
        const t0 = performance.now();
        const client = await p.connect();
        try {
          // Several coordinators may share one external PostgreSQL: drizzle's migrator decides what
          // to apply before its transaction, so two concurrent runs would both apply. Serialise them.
          await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK]);
          try {
            await migrate(drizzle(client), {
              migrationsFolder: opts.migrationsFolder ?? defaultMigrationsFolder(),
            });
          } finally {
            await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK]);
          }
        } finally {
          client.release();
        }
        log.info({ ms: Math.round(performance.now() - t0) }, 'database migrations applied');
      }
    } catch (err) {
      await p.end().catch(() => undefined);
      await stopEmbedded();
      throw err;
    }
    pool = p;
    db = drizzle(p, { schema });
    log.info({ url: redactUrl(url!), embedded: isEmbedded }, 'database ready');
  }

  async function stopEmbedded(): Promise<void> {
    await ownerLock?.end().catch(() => undefined);
    ownerLock = null;
    await embedded?.stop();
    embedded = null;
  }

  return {
    get db() {
      return need(db, 'db');
    },
    get pool() {
      return need(pool, 'pool');
    },
    get url() {
      return need(url, 'url');
    },
    get redactedUrl() {
      return url === null ? '' : redactUrl(url);
    },
    embedded: isEmbedded,
    get stats() {
      return stats;
    },
    start() {
      if (pool) return Promise.resolve();
      starting ??= doStart().finally(() => (starting = null));
      return starting;
    },
    async stop() {
      await starting?.catch(() => undefined);
      const p = pool;
      pool = null;
      db = null;
      await p?.end();
      await stopEmbedded();
      if (isEmbedded && url !== null) log.info({}, 'embedded PostgreSQL stopped');
      url = null;
    },
  };
}
