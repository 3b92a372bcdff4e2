// Log lines in PostgreSQL, as chunks (log_chunks in schema.ts, migration 0010): writing a batch
// (COPY in binary format, resends dropped by each agent stream's stored seq) and reading lines back.
import type { LogRecord, LogQuery, StoredLog } from '@rollgate/engine';
import { sql, type SQL } from 'drizzle-orm';
import type pg from 'pg';
import type { Db } from './create-db';
import { logChunks } from './schema';

/**
 * Most lines in one log chunk, and the factor of a line's id: chunk id × LOG_CHUNK_SPAN + its
 * position in the chunk (migration 0010's `log_lines` view computes the same).
 */
export const LOG_CHUNK_SPAN = 1024;
/** queryLogs without a limit returns at most this many lines (the log table is the big one). */
export const DEFAULT_LOG_LIMIT = 1000;
/** Stored seqs remembered per store; beyond this the memory is dropped (the next write reads them). */
const KNOWN_STREAMS_MAX = 100_000;

/** The largest int32 (step_index is an integer column). */
const INT32_MAX = 0x7fff_ffff;
/** Times are epoch milliseconds a JavaScript Date can hold (±8.64e15), and so exact as numbers. */
const MAX_TIME_MS = 8.64e15;

/**
 * Why a line cannot be stored in log_chunks as it is (a field out of its column's range, or not of
 * its type), or null when it can. Checked per line before a batch is encoded, so one such line is
 * dropped and counted instead of failing its whole batch: a COPY that throws is a batch that would
 * be retried for ever (issue 17 item 2).
 */
export function unstorableLogLine(l: LogRecord): string | null {
  if (typeof l.at !== 'number' || !Number.isFinite(l.at) || Math.abs(l.at) > MAX_TIME_MS)
    return `time ${String(l.at)} is not an epoch time in milliseconds`;
  if (l.seq !== null && l.seq !== undefined && (!Number.isSafeInteger(l.seq) || l.seq < 0))
    return `seq ${String(l.seq)} is not an integer from 0 to 2^53`;
  if (
    l.stepIndex !== null &&
    l.stepIndex !== undefined &&
    (!Number.isInteger(l.stepIndex) || l.stepIndex < 0 || l.stepIndex > INT32_MAX)
  )
    return `step index ${String(l.stepIndex)} is not an integer from 0 to 2^31-1`;
  if (typeof l.message !== 'string' || typeof l.code !== 'string' || typeof l.level !== 'string')
    return 'level, code and message must be text';
  if (typeof l.source !== 'string') return 'source must be text';
  return null;
}

/** A batch that holds a line unstorableLogLine refuses: it will never be written (not retried). */
export class UnstorableLogLine extends RangeError {
  constructor(why: string) {
    super(`a log line cannot be stored: ${why}`);
    this.name = 'UnstorableLogLine';
  }
}

/**
 * Whether a failed append will fail again however often it is retried: the lines themselves are
 * wrong (encoding refused them, or PostgreSQL reported a data exception, an integrity violation or
 * a program limit). Everything else (connection lost, server shutting down, serialization, a batch
 * that failed behind an earlier one) may go away and is retried.
 */
export function isPermanentLogFailure(err: unknown): boolean {
  if (err instanceof EarlierLogBatchFailed) return false;
  if (err instanceof RangeError || err instanceof TypeError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** A line as queryLogs selects it from log_chunks. */
type LogRow = {
  id: number;
  run_id: string | null;
  action_id: string | null;
  server_id: string | null;
  step_index: number | null;
  at: number;
  level: LogRecord['level'];
  code: string;
  message: string;
  source: LogRecord['source'];
  stream_id: string | null;
  seq: number | null;
};

/** Lines of one source in append order, as one row of log_chunks. */
interface LogChunk {
  head: LogRecord;
  lines: LogRecord[];
}

/** An agent stream's key in the maps below (server and stream ids hold no NUL: they are ids). */
const streamKey = (serverId: string, streamId: string) => `${serverId}\0${streamId}`;

/**
 * Each line's agent stream (null when it has none: lines without a seq are never deduplicated).
 * The key is built once per run of lines of one stream, not per line: this runs at ingest rate.
 */
function streamKeys(lines: LogRecord[]): (string | null)[] {
  const keys = new Array<string | null>(lines.length);
  let server: string | null = null;
  let stream: string | null = null;
  let key: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.seq === null || l.seq === undefined || !l.serverId || !l.streamId) {
      keys[i] = null;
      continue;
    }
    if (l.serverId !== server || l.streamId !== stream) {
      server = l.serverId;
      stream = l.streamId;
      key = streamKey(server, stream);
    }
    keys[i] = key;
  }
  return keys;
}

/**
 * Splits a batch into chunks: runs of consecutive lines from one source (run, action, server, step,
 * stream), at most LOG_CHUNK_SPAN lines each, so ids keep append order exactly. Agent lines come in
 * runs (an agent batches its lines, and the gateway writes a batch's lines together); interleaved
 * engine lines make short chunks, and they are few. A stream's line at or below the seq already
 * stored (`stored`), or at or below one earlier in this batch, is a resend: dropped. Returns the
 * chunks and each stream's highest seq now stored.
 */
function chunkLogs(
  lines: LogRecord[],
  keys: (string | null)[],
  stored: ReadonlyMap<string, number>,
): { chunks: LogChunk[]; storedSeq: Map<string, number> } {
  const chunks: LogChunk[] = [];
  const storedSeq = new Map(stored);
  let chunk: LogChunk | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const stream = keys[i]!;
    if (stream !== null) {
      if (l.seq! <= (storedSeq.get(stream) ?? 0)) continue;
      storedSeq.set(stream, l.seq!);
    }
    const h = chunk?.head;
    if (
      !chunk ||
      chunk.lines.length >= LOG_CHUNK_SPAN ||
      h!.runId !== l.runId ||
      h!.actionId !== l.actionId ||
      h!.serverId !== l.serverId ||
      h!.stepIndex !== l.stepIndex ||
      h!.source !== l.source ||
      (h!.streamId ?? null) !== (l.streamId ?? null) ||
      (h!.seq == null) !== (l.seq == null)
    ) {
      chunk = { head: l, lines: [] };
      chunks.push(chunk);
    }
    chunk.lines.push(l);
  }
  return { chunks, storedSeq };
}

/**
 * Chunks as one `COPY log_chunks FROM STDIN` in PostgreSQL's binary format: every value goes as its
 * length and its bytes, so nothing is escaped here and nothing is parsed there. Rows get their ids
 * in input order.
 */
function copyChunks(chunks: LogChunk[], ids: number[]): Buffer {
  const w = new CopyWriter(64 + chunks.reduce((n, c) => n + 140 + c.lines.length * 160, 0));
  w.bytes(COPY_BINARY_HEADER);
  for (let i = 0; i < chunks.length; i++) {
    const { head, lines } = chunks[i]!;
    // Encoding would throw (or worse, wrap) on a value out of its column's range.
    for (const l of lines) {
      const why = unstorableLogLine(l);
      if (why) throw new UnstorableLogLine(why);
    }
    w.int16(12);
    w.int32(8);
    w.int64(ids[i]!);
    w.text(head.runId);
    w.text(head.actionId);
    w.text(head.serverId);
    if (head.stepIndex === null || head.stepIndex === undefined) w.int32(-1);
    else {
      w.int32(4);
      w.int32(head.stepIndex);
    }
    w.text(head.source);
    w.text(head.streamId);
    w.int64Array(lines, (l) => {
      if (!Number.isFinite(l.at)) throw new RangeError(`log line time is not a time: ${l.at}`);
      return Math.round(l.at);
    });
    w.textArray(lines, (l) => l.level);
    w.textArray(lines, (l) => l.code);
    w.textArray(lines, (l) => l.message);
    if (head.seq === null || head.seq === undefined) w.int32(-1);
    else w.int64Array(lines, (l) => Math.trunc(l.seq!));
  }
  w.int16(-1); // trailer
  return w.done();
}

/** PGCOPY signature, flags (no OIDs), header extension length 0. */
const COPY_BINARY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** Element type oids of the arrays written. */
const INT8_OID = 20;
const TEXT_OID = 25;

/** A growing buffer for COPY's binary rows. */
class CopyWriter {
  private buf: Buffer;
  private at = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  bytes(b: Buffer): void {
    this.room(b.length);
    this.at += b.copy(this.buf, this.at);
  }
  int16(v: number): void {
    this.room(2);
    this.at = this.buf.writeInt16BE(v, this.at);
  }
  int32(v: number): void {
    this.room(4);
    this.at = this.buf.writeInt32BE(v, this.at);
  }
  /** An integer of up to 53 bits, as two 32-bit halves (a BigInt per value was garbage per line). */
  int64(v: number): void {
    this.room(8);
    const hi = Math.floor(v / 0x1_0000_0000);
    this.at = this.buf.writeInt32BE(hi, this.at);
    this.at = this.buf.writeUInt32BE(v - hi * 0x1_0000_0000, this.at);
  }
  /** A text value, or NULL. PostgreSQL text cannot hold NUL: it becomes U+FFFD. */
  text(v: string | null | undefined): void {
    if (v === null || v === undefined) {
      this.int32(-1);
      return;
    }
    const s = v.includes('\0') ? v.replace(/\0/g, '\uFFFD') : v;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the length goes in front once it is known.
    this.room(4 + s.length * 3);
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeInt32BE(n, this.at);
    this.at += 4 + n;
  }
  /** A one-dimensional array value without NULLs: header, dimension, then length + bytes each. */
  private array<T>(items: readonly T[], oid: number, element: (item: T) => void): void {
    this.room(4);
    const start = this.at;
    this.at += 4; // the value's length, written once known
    this.int32(1); // dimensions
    this.int32(0); // no NULLs
    this.int32(oid);
    this.int32(items.length);
    this.int32(1); // lower bound
    for (const item of items) element(item);
    this.buf.writeInt32BE(this.at - start - 4, start);
  }
  int64Array<T>(items: readonly T[], f: (item: T) => number): void {
    this.array(items, INT8_OID, (item) => {
      this.int32(8);
      this.int64(f(item));
    });
  }
  textArray<T>(items: readonly T[], f: (item: T) => string): void {
    this.array(items, TEXT_OID, (item) => this.text(f(item)));
  }
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

const COPY_CHUNKS =
  'COPY log_chunks (id, run_id, action_id, server_id, step_index, source, stream_id, ats, levels, codes, messages, seqs) FROM STDIN (FORMAT binary)';

/**
 * Ids for `n` chunks from the table's sequence, ascending. Batches in flight COPY at the same time
 * (one commits while the next is sent), so ids taken as rows are copied would interleave them: a
 * stream's later lines could get lower ids. Each batch takes its ids before its COPY, in call order
 * (after the batch before it took its own), and COPYs them: ids keep call order, COPYs still overlap.
 */
async function reserveIds(client: pg.ClientBase, n: number): Promise<number[]> {
  if (n === 0) return [];
  const { rows } = await client.query<{ id: number }>(
    `SELECT nextval(pg_get_serial_sequence('log_chunks', 'id'))::float8 AS id FROM generate_series(1, $1)`,
    [n],
  );
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/**
 * Runs `COPY … FROM STDIN` with `data` on one connection. node-postgres has no COPY API of its own;
 * this is the submittable protocol that pg-copy-streams uses: send the statement, answer
 * CopyInResponse with CopyData + CopyDone, settle on ReadyForQuery (or the error).
 */
function copyFrom(client: pg.ClientBase, statement: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    type Conn = { query(text: string): void; sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void };
    const noop = () => {};
    const submittable = {
      submit: (connection: Conn) => connection.query(statement),
      handleCopyInResponse: (connection: Conn) => {
        connection.sendCopyFromChunk(data);
        connection.endCopyFrom();
      },
      handleError: (err: Error) => reject(err),
      handleReadyForQuery: () => resolve(),
      handleCommandComplete: noop,
      handleRowDescription: noop,
      handleDataRow: noop,
      handleEmptyQuery: noop,
      handlePortalSuspended: noop,
      handleCopyData: noop,
    };
    client.query(submittable as unknown as pg.Submittable);
  });
}

type Stream = { serverId: string; streamId: string };
/** A batch's place among those in flight: it takes its ids after the earlier one took its own. */
type Order = { earlierReserved: Promise<void>; reserved: () => void };

/** Thrown by a batch that waited on an earlier one which failed: it wrote nothing either. */
export class EarlierLogBatchFailed extends Error {
  constructor(cause: unknown) {
    super(
      `an earlier batch of log lines failed, so this one was not written: ${(cause as Error)?.message ?? cause}`,
    );
    this.name = 'EarlierLogBatchFailed';
  }
}

/**
 * Appends batches of log lines. Each agent stream's stored seq lives in log_streams; a line at or
 * below it is a resend and is dropped. Every batch is one transaction that lands whole.
 *
 * Batches may be appended while earlier ones are still being written (the coordinator's log writer
 * keeps three in flight, so their COPYs overlap the earlier ones' commits): they commit in call
 * order, and a batch started while an earlier one is in flight fails with it
 * (EarlierLogBatchFailed) and writes nothing, so a caller that puts failed batches back in order
 * loses and reorders nothing.
 *
 * Two paths to the stored seqs:
 * - streams this appender wrote last (or has in flight): their seqs are known. COPY, then, once
 *   the earlier batch committed, advance each seq only if it still holds what this appender
 *   expects (compare-and-set). Another coordinator's write in between (an agent that moved
 *   there) fails the set: rolled back, then done the locked way.
 * - otherwise: lock the streams' rows first (created at 0 when new) and read their seqs.
 * The fast path saves the locking read, which under load waited ~28 ms per 20 000 lines for this
 * process's event loop.
 */
export function createLogAppender(db: Db): { append(lines: LogRecord[]): Promise<void> } {
  // drizzle over a pg Pool exposes it as $client (not in the Db type): COPY needs a connection.
  const pool = (db as unknown as { $client?: pg.Pool }).$client;
  /** Stored seq of each stream as of the last batch encoded here (committed or in flight). */
  const known = new Map<string, number>();
  /** The last batch: settles when it committed or failed. */
  let last: { done: Promise<void>; projected: Promise<void>; reserved: Promise<void>; settled: boolean } = {
    done: Promise.resolve(),
    projected: Promise.resolve(),
    reserved: Promise.resolve(),
    settled: true,
  };

  function project(storedSeq: Map<string, number>): void {
    if (known.size + storedSeq.size > KNOWN_STREAMS_MAX) known.clear();
    for (const [k, v] of storedSeq) known.set(k, v);
  }

  /** Streams whose stored seq moves past `from`, as unnest() arrays. */
  function moves(streams: Map<string, Stream>, from: ReadonlyMap<string, number>, to: Map<string, number>) {
    const m = {
      servers: [] as string[],
      ids: [] as string[],
      seqs: [] as number[],
      expected: [] as number[],
    };
    for (const [key, s] of streams) {
      if (to.get(key)! <= from.get(key)!) continue;
      m.servers.push(s.serverId);
      m.ids.push(s.streamId);
      m.seqs.push(to.get(key)!);
      m.expected.push(from.get(key)!);
    }
    return m;
  }

  /** Waits for the earlier batch; its failure is this batch's too. */
  async function after(earlier: Promise<void>): Promise<void> {
    try {
      await earlier;
    } catch (err) {
      throw new EarlierLogBatchFailed(err);
    }
  }

  /**
   * The fast path, encoded already (`prepared`); false when another coordinator moved a stream
   * (nothing written).
   */
  async function appendKnown(
    client: pg.PoolClient,
    prepared: { chunks: LogChunk[]; m: ReturnType<typeof moves> },
    earlier: Promise<void>,
    order: Order,
  ): Promise<boolean> {
    const { chunks, m } = prepared;
    // BEGIN is not awaited on its own: node-postgres sends the next statement right behind it.
    client.query('BEGIN').catch(() => undefined);
    await order.earlierReserved;
    const ids = await reserveIds(client, chunks.length);
    order.reserved();
    if (chunks.length > 0) await copyFrom(client, COPY_CHUNKS, copyChunks(chunks, ids));
    await after(earlier);
    if (m.servers.length > 0) {
      const advanced = await client.query(
        `UPDATE log_streams s SET stored_seq = u.seq
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(server_id, stream_id, seq, expected)
         WHERE s.server_id = u.server_id AND s.stream_id = u.stream_id AND s.stored_seq = u.expected`,
        [m.servers, m.ids, m.seqs, m.expected],
      );
      if (advanced.rowCount !== m.servers.length) {
        await client.query('ROLLBACK');
        return false;
      }
    }
    await client.query('COMMIT');
    return true;
  }

  async function appendLocked(
    client: pg.PoolClient,
    lines: LogRecord[],
    keys: (string | null)[],
    streams: Map<string, Stream>,
    earlier: Promise<void>,
    projected: () => void,
    reserved: () => void,
  ): Promise<void> {
    // After the earlier batch: its seqs must be committed before these are read.
    await after(earlier);
    client.query('BEGIN').catch(() => undefined);
    // Sorted, so two writers lock in the same order; a second coordinator writing the same
    // stream (lines resent after a failover) waits here, then drops what this one stored.
    const ordered = [...streams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const locked = await client.query<{ server_id: string; stream_id: string; stored_seq: number }>(
      `INSERT INTO log_streams (server_id, stream_id, stored_seq)
       SELECT server_id, stream_id, 0 FROM unnest($1::text[], $2::text[]) AS u(server_id, stream_id)
       ON CONFLICT (server_id, stream_id) DO UPDATE SET stored_seq = log_streams.stored_seq
       RETURNING server_id, stream_id, stored_seq::float8 AS stored_seq`,
      [ordered.map(([, s]) => s.serverId), ordered.map(([, s]) => s.streamId)],
    );
    const stored = new Map(locked.rows.map((r) => [streamKey(r.server_id, r.stream_id), r.stored_seq]));
    const { chunks, storedSeq } = chunkLogs(lines, keys, stored);
    project(storedSeq);
    projected();
    const ids = await reserveIds(client, chunks.length);
    reserved();
    if (chunks.length > 0) await copyFrom(client, COPY_CHUNKS, copyChunks(chunks, ids));
    const m = moves(streams, stored, storedSeq);
    if (m.servers.length > 0)
      await client.query(
        `UPDATE log_streams s SET stored_seq = u.seq
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(server_id, stream_id, seq)
         WHERE s.server_id = u.server_id AND s.stream_id = u.stream_id`,
        [m.servers, m.ids, m.seqs],
      );
    await client.query('COMMIT');
  }

  /**
   * `earlier`: the previous batch's outcome; `earlierProjected`: settles once that batch set the
   * seqs it will store in `known` (this batch's expected values), `projected` tells the next one.
   */
  async function write(
    lines: LogRecord[],
    earlier: Promise<void>,
    earlierProjected: Promise<void>,
    projected: () => void,
    order: Order,
  ): Promise<void> {
    const keys = streamKeys(lines);
    const streams = new Map<string, Stream>();
    for (let i = 0; i < lines.length; i++) {
      const key = keys[i]!;
      if (key !== null && !streams.has(key))
        streams.set(key, { serverId: lines[i]!.serverId!, streamId: lines[i]!.streamId! });
    }
    let client: pg.PoolClient | null = null;
    try {
      if (typeof pool?.connect !== 'function') throw new Error('appendLogs needs a node-postgres Pool');
      await earlierProjected;
      // Read and projected with no await in between: the next batch builds on these seqs.
      let prepared: Parameters<typeof appendKnown>[1] | null = null;
      if (streams.size > 0 && [...streams.keys()].every((k) => known.has(k))) {
        const stored = new Map([...streams.keys()].map((k) => [k, known.get(k)!]));
        const { chunks, storedSeq } = chunkLogs(lines, keys, stored);
        project(storedSeq);
        prepared = { chunks, m: moves(streams, stored, storedSeq) };
      }
      if (streams.size === 0 || prepared) projected();
      client = await pool.connect();
      if (streams.size === 0) {
        // Engine and coordinator lines only: no seqs to check.
        const { chunks } = chunkLogs(lines, keys, new Map());
        client.query('BEGIN').catch(() => undefined);
        await order.earlierReserved;
        const ids = await reserveIds(client, chunks.length);
        order.reserved();
        await copyFrom(client, COPY_CHUNKS, copyChunks(chunks, ids));
        await after(earlier);
        await client.query('COMMIT');
        return;
      }
      if (prepared && (await appendKnown(client, prepared, earlier, order))) return;
      await appendLocked(client, lines, keys, streams, earlier, projected, order.reserved);
    } catch (err) {
      await client?.query('ROLLBACK').catch(() => undefined);
      // What was projected for these streams may never have been stored: read it again next time.
      for (const k of streams.keys()) known.delete(k);
      throw err;
    } finally {
      projected(); // a failed batch must not hold the next one
      order.reserved();
      client?.release();
    }
  }

  return {
    async append(lines) {
      if (lines.length === 0) return;
      // A batch already settled (failed or not) does not hold this one back.
      const previous = last.settled ? null : last;
      let projected!: () => void;
      let reserved!: () => void;
      const entry = {
        done: Promise.resolve(),
        projected: new Promise<void>((r) => (projected = r)),
        reserved: new Promise<void>((r) => (reserved = r)),
        settled: false,
      };
      entry.done = write(
        lines,
        previous?.done ?? Promise.resolve(),
        previous?.projected ?? Promise.resolve(),
        projected,
        { earlierReserved: previous?.reserved ?? Promise.resolve(), reserved },
      );
      last = entry;
      entry.done.then(
        () => (entry.settled = true),
        () => (entry.settled = true),
      );
      return entry.done;
    },
  };
}

/** Lines of a query, unnested from their chunks, in append order. */
export async function queryLogChunks(db: Db, q: LogQuery): Promise<StoredLog[]> {
  // Lines are unnested from their chunks; the chunk-level conditions come first so the
  // (run_id, id) and (server_id, id) indexes find the chunks.
  const where: SQL[] = [sql`true`];
  if (q.runId !== undefined) where.push(sql`c.run_id = ${q.runId}`);
  if (q.serverId !== undefined) where.push(sql`c.server_id = ${q.serverId}`);
  if (q.stepIndex !== undefined) where.push(sql`c.step_index = ${q.stepIndex}`);
  if (q.afterId !== undefined)
    where.push(
      sql`c.id >= ${Math.floor(q.afterId / LOG_CHUNK_SPAN)}`,
      sql`c.id * ${LOG_CHUNK_SPAN} + u.ord - 1 > ${q.afterId}`,
    );
  if (q.code !== undefined) where.push(sql`u.code = ${q.code}`);
  const { rows } = await db.execute<LogRow>(sql`
    SELECT (c.id * ${LOG_CHUNK_SPAN} + u.ord - 1)::float8 AS id, c.run_id, c.action_id, c.server_id,
      c.step_index, u.at::float8 AS at, u.level, u.code, u.message, c.source, c.stream_id,
      u.seq::float8 AS seq
    FROM ${logChunks} c
    CROSS JOIN LATERAL unnest(c.ats, c.levels, c.codes, c.messages, c.seqs)
      WITH ORDINALITY AS u(at, level, code, message, seq, ord)
    WHERE ${sql.join(where, sql` AND `)}
    ORDER BY c.id, u.ord
    LIMIT ${q.limit ?? DEFAULT_LOG_LIMIT}`);
  return rows.map((r) => {
    const line: StoredLog = {
      id: r.id,
      runId: r.run_id,
      actionId: r.action_id,
      serverId: r.server_id,
      stepIndex: r.step_index,
      at: r.at,
      level: r.level,
      code: r.code,
      message: r.message,
      source: r.source,
    };
    // Stream position is a delivery detail of agent lines: present only where there is one.
    if (r.stream_id !== null && r.seq !== null) {
      line.streamId = r.stream_id;
      line.seq = r.seq;
    }
    return line;
  });
}

/** Dead letters kept at most (the oldest go first); each keeps at most DEAD_LETTER_LINES lines. */
export const DEAD_LETTERS_MAX = 1000;
const DEAD_LETTER_LINES = 100;
const DEAD_LETTER_TEXT = 2000;

/** A batch of log lines set aside because it can never be stored (log_dead_letters, migration 0012). */
export interface LogDeadLetter {
  id: number;
  at: number;
  reason: string;
  /** Lines in the batch set aside; `lines` holds the first DEAD_LETTER_LINES of them. */
  lineCount: number;
  serverIds: string[];
  runIds: string[];
  lines: unknown[];
}

/** Text fit for jsonb (no NUL) and short; a non-text value is shown, not trusted. */
function letterText(v: unknown): unknown {
  if (typeof v !== 'string') return typeof v === 'number' && Number.isFinite(v) ? v : String(v);
  const s = v.length > DEAD_LETTER_TEXT ? `${v.slice(0, DEAD_LETTER_TEXT)}…` : v;
  // jsonb takes neither NUL nor a lone surrogate (JSON.stringify writes those as \u escapes).
  return s.replace(/\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Where log lines that can never be stored go instead of being retried for ever (issue 17 item 2):
 * a bounded table an operator lists (`SELECT * FROM log_dead_letters`, or list() here).
 */
export function createLogDeadLetters(db: Db) {
  return {
    async put(lines: LogRecord[], reason: string): Promise<void> {
      const kept = lines.slice(0, DEAD_LETTER_LINES).map((l) => ({
        runId: letterText(l.runId ?? null),
        actionId: letterText(l.actionId ?? null),
        serverId: letterText(l.serverId ?? null),
        stepIndex: letterText(l.stepIndex ?? null),
        at: letterText(l.at),
        level: letterText(l.level),
        code: letterText(l.code),
        message: letterText(l.message),
        source: letterText(l.source),
        streamId: letterText(l.streamId ?? null),
        seq: letterText(l.seq ?? null),
      }));
      const distinct = (f: (l: LogRecord) => string | null | undefined) =>
        [...new Set(lines.map(f).filter((v): v is string => typeof v === 'string'))]
          .slice(0, 100)
          .map((v) => letterText(v) as string);
      await db.execute(sql`
        WITH added AS (
          INSERT INTO log_dead_letters (reason, line_count, server_ids, run_ids, lines)
          VALUES (${letterText(reason)}, ${lines.length},
            ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(distinct((l) => l.serverId))}::jsonb)),
            ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(distinct((l) => l.runId))}::jsonb)),
            ${JSON.stringify(kept)}::jsonb)
          RETURNING id)
        DELETE FROM log_dead_letters
        WHERE id <= (SELECT id FROM added) - ${DEAD_LETTERS_MAX}`);
    },
    /** The newest dead letters first. */
    async list(limit = 100): Promise<LogDeadLetter[]> {
      const { rows } = await db.execute<{
        id: number;
        at: number;
        reason: string;
        line_count: number;
        server_ids: string[];
        run_ids: string[];
        lines: unknown[];
      }>(sql`
        SELECT id::float8 AS id, (extract(epoch FROM at) * 1000)::float8 AS at, reason, line_count,
          server_ids, run_ids, lines
        FROM log_dead_letters ORDER BY id DESC LIMIT ${Math.max(1, Math.min(1000, limit))}`);
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        reason: r.reason,
        lineCount: r.line_count,
        serverIds: r.server_ids,
        runIds: r.run_ids,
        lines: r.lines,
      }));
    },
  };
}
