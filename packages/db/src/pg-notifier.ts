import pg from 'pg';
import { silentLogger, type DbLogger } from './embedded-postgres';
import { sleep } from './process-utils';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; ours are ids, far below. */
const MAX_PAYLOAD_BYTES = 7900;
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PgNotifierOptions {
  /** Connection URL of the shared PostgreSQL (RollgateDb.url). A secret: never logged. */
  url: string;
  /** Channels to LISTEN on; each must be a lower-case SQL identifier (e.g. `rollgate_agent`). */
  channels: string[];
  /** Receives every notification on those channels, also the ones this process sent. */
  onNotification: (channel: string, payload: string) => void;
  /**
   * Called after the listening connection was re-established: notifications sent meanwhile are
   * lost, so the caller re-reads what it must not miss. Default: nothing.
   */
  onReconnect?: () => void;
  /** pino-like logger; default silent. */
  logger?: DbLogger;
  /** Delay before reconnecting a lost listening connection, in ms; default 500. */
  reconnectMs?: number;
}

export interface PgNotifier {
  /** Connects and LISTENs; resolves once notifications are being received. */
  start(): Promise<void>;
  /** NOTIFY on `channel` through the given pool (one statement; delivered on commit). */
  notify(pool: pg.Pool, channel: string, payload: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * LISTEN/NOTIFY between coordinators sharing one PostgreSQL: the database delivers every
 * notification to every listening session, so no coordinator needs to know its peers' addresses.
 * One dedicated connection listens (a pooled one would be handed to other queries); it reconnects
 * by itself when the database restarts or the connection drops.
 */
export function createPgNotifier(opts: PgNotifierOptions): PgNotifier {
  for (const c of opts.channels) {
    if (!CHANNEL.test(c)) throw new Error(`channel "${c}" must be a lower-case SQL identifier`);
  }
  const log = opts.logger ?? silentLogger;
  const reconnectMs = opts.reconnectMs ?? 500;
  let client: pg.Client | null = null;
  let stopped = false;

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: opts.url, connectionTimeoutMillis: 10_000 });
    c.on('notification', (n) => {
      if (n.payload !== undefined) opts.onNotification(n.channel, n.payload);
    });
    const lost = (why: string) => {
      if (client !== c || stopped) return;
      client = null;
      log.warn({ why }, 'LISTEN connection lost; reconnecting');
      void c.end().catch(() => undefined);
      void reconnect();
    };
    c.on('error', (err) => lost(err.message));
    c.on('end', () => lost('connection ended'));
    await c.connect();
    for (const ch of opts.channels) await c.query(`LISTEN ${ch}`);
    client = c;
  }

  async function reconnect(): Promise<void> {
    while (!stopped) {
      await sleep(reconnectMs);
      if (stopped) return;
      try {
        await connect();
        log.info({ channels: opts.channels }, 'LISTEN connection re-established');
        opts.onReconnect?.();
        return;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'LISTEN reconnect failed; retrying');
      }
    }
  }

  return {
    async start() {
      stopped = false;
      await connect();
    },
    async notify(pool, channel, payload) {
      if (!opts.channels.includes(channel) && !CHANNEL.test(channel)) {
        throw new Error(`channel "${channel}" must be a lower-case SQL identifier`);
      }
      if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
        throw new Error(
          `NOTIFY payload of ${Buffer.byteLength(payload)} bytes on ${channel} is too large; send an id and read the rest from the database`,
        );
      }
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async stop() {
      stopped = true;
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
