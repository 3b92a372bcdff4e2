import type { ActionStatus, RunStatus } from '@rollgate/domain';
import {
  StaleLeaseError,
  StoreConflictError,
  type ActionRecord,
  type AuditEvent,
  type EditionRecord,
  type EngineStore,
  type Fence,
  type LogRecord,
  type RunLeases,
  type RunRecord,
  type ServerRecord,
  type ServerTouch,
  type StepRecord,
  type StoredLog,
} from '@rollgate/engine';
import {
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  inArray,
  isNull,
  notInArray,
  sql,
  type SQL,
} from 'drizzle-orm';
import type pg from 'pg';
import type { Db } from './create-db';
import {
  actions,
  auditEvents,
  clusters,
  editions,
  lbLedger,
  logChunks,
  runLeases,
  runs,
  servers,
  steps,
} from './schema';

/**
 * Most lines in one log chunk, and the factor of a line's id: chunk id × LOG_CHUNK_SPAN + its
 * position in the chunk (migration 0010's `log_lines` view computes the same).
 */
export const LOG_CHUNK_SPAN = 1024;
/** queryLogs without a limit returns at most this many lines (the log table is the big one). */
export const DEFAULT_LOG_LIMIT = 1000;

const OUTSTANDING_ACTION: ActionStatus[] = ['pending', 'dispatched', 'accepted', 'running'];
const TERMINAL_RUN: RunStatus[] = ['succeeded', 'failed', 'aborted'];

/** The PostgreSQL error code of a failure, looking through drizzle's DrizzleQueryError wrapper. */
function pgCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = e.code ?? e.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Copies only the listed keys that are present (an explicit undefined means "leave as is"). */
function pick<T extends object, K extends keyof T>(patch: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (patch[k] !== undefined) out[k] = patch[k];
  return out;
}

const RUN_PATCH_KEYS = [
  'kind',
  'status',
  'plan',
  'currentStep',
  'failure',
  'createdBy',
  'createdAt',
  'startedAt',
  'finishedAt',
  'scheduledAt',
  'options',
  'readiness',
  'excluded',
  'proposal',
  'parentRunId',
] as const satisfies readonly (keyof RunRecord)[];
const STEP_PATCH_KEYS = [
  'status',
  'attempt',
  'startedAt',
  'finishedAt',
  'error',
] as const satisfies readonly (keyof StepRecord)[];
const ACTION_PATCH_KEYS = [
  'status',
  'error',
  'dispatchedAt',
  'finishedAt',
  'result',
] as const satisfies readonly (keyof ActionRecord)[];

function toEdition(row: typeof editions.$inferSelect): EditionRecord {
  const e: EditionRecord = {
    app: row.app,
    name: row.name,
    sha256: row.sha256,
    size: row.size,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
  };
  // Optional in the domain type: absent rather than null.
  if (row.description !== null) e.description = row.description;
  if (row.dbUpgradeCommand !== null) e.dbUpgradeCommand = row.dbUpgradeCommand;
  return e;
}

/**
 * A step's actions as one INSERT of unnest()ed column arrays (one bind parameter per column), so
 * that drizzle's `.values(rows)` built a 12-parameters-per-row statement whose SQL
 * building and planning held a 1 000-server fan-out back by ~200 ms before the first dispatch.
 * An action id that exists keeps its state (ON CONFLICT DO NOTHING).
 */
function insertActions(rows: ActionRecord[]): SQL {
  const col = <T>(f: (a: ActionRecord) => T) => sql.param(rows.map(f));
  const ms = (v: number | null) => (v === null ? null : new Date(v).toISOString());
  // The same ops are usually sent to every server of a step: serialised once per distinct array.
  const json = new Map<unknown, string>();
  const toJson = (v: unknown) => {
    if (v === null || v === undefined) return null;
    let s = json.get(v);
    if (s === undefined) json.set(v, (s = JSON.stringify(v)));
    return s;
  };
  return sql`
    INSERT INTO ${actions} (id, run_id, step_index, server_id, attempt, ops, status, error, created_at, dispatched_at, finished_at, result)
    SELECT * FROM unnest(
      ${col((a) => a.id)}::text[], ${col((a) => a.runId)}::text[], ${col((a) => a.stepIndex)}::int[],
      ${col((a) => a.serverId)}::text[], ${col((a) => a.attempt)}::int[], ${col((a) => toJson(a.ops))}::jsonb[],
      ${col((a) => a.status)}::text[], ${col((a) => a.error)}::text[], ${col((a) => ms(a.createdAt))}::timestamptz[],
      ${col((a) => ms(a.dispatchedAt))}::timestamptz[], ${col((a) => ms(a.finishedAt))}::timestamptz[],
      ${col((a) => toJson(a.result))}::jsonb[]
    )
    ON CONFLICT DO NOTHING`;
}

/** Optional columns are absent from the record, not null, as the port declares them. */
function serverFromRow({ agentCheckPort, coordinatorId, ...row }: typeof servers.$inferSelect): ServerRecord {
  return {
    ...row,
    ...(agentCheckPort !== null ? { agentCheckPort } : {}),
    ...(coordinatorId !== null ? { coordinatorId } : {}),
  };
}

/**
 * The fencing condition of a leader's write, evaluated in the write's own statement: the run's
 * lease still carries the writer's token. FOR SHARE locks that lease row until the write commits,
 * so a takeover (which updates the row) waits for it: a write either commits before the takeover
 * or sees the new token and changes nothing. Without a fence: no condition.
 */
function fenced(fence: Fence | undefined): SQL | undefined {
  if (!fence) return undefined;
  return sql`EXISTS (SELECT 1 FROM ${runLeases} WHERE ${runLeases.runId} = ${fence.runId} AND ${runLeases.token} = ${fence.token} FOR SHARE)`;
}

const ttl = (ms: number) => sql`now() + ${Math.max(0, Math.round(ms))} * interval '1 millisecond'`;

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

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Lines of one source in append order, as one row of log_chunks. */
interface LogChunk {
  head: LogRecord;
  lines: LogRecord[];
}

/** An agent stream's key in the maps below (server and stream ids hold no NUL: they are ids). */
const streamKey = (serverId: string, streamId: string) => `${serverId}\0${streamId}`;

/** The agent stream of a line, when it has one (lines without a seq are never deduplicated). */
function streamOf(l: LogRecord): string | null {
  return l.serverId && l.streamId && l.seq !== null && l.seq !== undefined
    ? streamKey(l.serverId, l.streamId)
    : null;
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
  stored: ReadonlyMap<string, number>,
): { chunks: LogChunk[]; storedSeq: Map<string, number> } {
  const chunks: LogChunk[] = [];
  const storedSeq = new Map(stored);
  let chunk: LogChunk | null = null;
  for (const l of lines) {
    const stream = streamOf(l);
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
function copyChunks(chunks: LogChunk[]): Buffer {
  const w = new CopyWriter(64 + chunks.reduce((n, c) => n + 128 + c.lines.length * 160, 0));
  w.bytes(COPY_BINARY_HEADER);
  for (const { head, lines } of chunks) {
    w.int16(11);
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
  int64(v: number): void {
    this.room(8);
    this.at = this.buf.writeBigInt64BE(BigInt(v), this.at);
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
  'COPY log_chunks (run_id, action_id, server_id, step_index, source, stream_id, ats, levels, codes, messages, seqs) FROM STDIN (FORMAT binary)';

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

/**
 * The engine's store on PostgreSQL. Ordering, where the port leaves it open:
 * listRuns newest first (createdAt, then id, descending); getSteps by index; getActions by step
 * then id; getOutstandingActions oldest first; queryLogs ascending id (append order); listAudit
 * newest first; listServers and listEditions by key.
 */
export function createPgStore(db: Db): EngineStore & RunLeases {
  /**
   * A fenced write changed nothing: tells a stale token (StaleLeaseError) from an ordinary miss
   * (a version or status that moved on), which the caller answers with null as before.
   */
  async function assertFence(fence: Fence | undefined): Promise<void> {
    if (!fence) return;
    const [row] = await db
      .select({ token: runLeases.token })
      .from(runLeases)
      .where(eq(runLeases.runId, fence.runId));
    if (row?.token !== fence.token) throw new StaleLeaseError(fence.runId, fence.token);
  }

  return {
    async createRun(run, stepRows) {
      try {
        await db.transaction(async (tx) => {
          await tx.insert(runs).values(run);
          if (stepRows.length > 0) await tx.insert(steps).values(stepRows);
        });
      } catch (err) {
        if (pgCode(err) === '23505') throw new StoreConflictError(`Run '${run.id}' already exists.`);
        throw err;
      }
    },

    async getRun(id) {
      const [row] = await db.select().from(runs).where(eq(runs.id, id));
      return row ?? null;
    },

    async listRuns(opts = {}) {
      if (opts.statuses && opts.statuses.length === 0) return [];
      const q = db
        .select()
        .from(runs)
        .where(opts.statuses ? inArray(runs.status, opts.statuses) : undefined)
        .orderBy(desc(runs.createdAt), desc(runs.id));
      return opts.limit !== undefined ? q.limit(opts.limit) : q;
    },

    async updateRun(id, expectedVersion, patch, fence) {
      // Optimistic lock: the WHERE on version makes a stale writer update nothing.
      const [row] = await db
        .update(runs)
        .set({ ...pick(patch, RUN_PATCH_KEYS), version: sql`${runs.version} + 1` })
        .where(and(eq(runs.id, id), eq(runs.version, expectedVersion), fenced(fence)))
        .returning();
      if (!row) await assertFence(fence);
      return row ?? null;
    },

    async getSteps(runId) {
      return db.select().from(steps).where(eq(steps.runId, runId)).orderBy(asc(steps.index));
    },

    async updateStep(runId, index, patch, fence) {
      const set = pick(patch, STEP_PATCH_KEYS);
      if (Object.keys(set).length === 0) return;
      const rows = await db
        .update(steps)
        .set(set)
        .where(and(eq(steps.runId, runId), eq(steps.index, index), fenced(fence)))
        .returning({ index: steps.index });
      if (rows.length === 0) await assertFence(fence);
    },

    async startStep(runId, index, attempt, startedAt, actionRows, ledger, fence) {
      // Durable before effect: all of it commits, or none of it, before anything is dispatched.
      await db.transaction(async (tx) => {
        if (fence) {
          // First, and held to the commit: a takeover waits for this step start or refuses it.
          const [lease] = await tx
            .select({ token: runLeases.token })
            .from(runLeases)
            .where(eq(runLeases.runId, fence.runId))
            .for('share');
          if (lease?.token !== fence.token) throw new StaleLeaseError(fence.runId, fence.token);
        }
        await tx
          .update(steps)
          .set({ status: 'running', attempt, startedAt, finishedAt: null, error: null })
          .where(and(eq(steps.runId, runId), eq(steps.index, index)));
        // An action id that exists keeps its state: a replayed startStep must not reset progress.
        if (actionRows.length > 0) await tx.execute(insertActions(actionRows));
        // A retried step closes its gates again: the entry is open again whatever an earlier attempt did.
        if (ledger.length > 0)
          await tx
            .insert(lbLedger)
            .values(ledger)
            .onConflictDoUpdate({
              target: [lbLedger.runId, lbLedger.serverId, lbLedger.stepIndex],
              set: { reopenedAt: sql`NULL` },
            });
      });
    },

    async getActions(runId, stepIndex) {
      return db
        .select()
        .from(actions)
        .where(
          and(
            eq(actions.runId, runId),
            stepIndex !== undefined ? eq(actions.stepIndex, stepIndex) : undefined,
          ),
        )
        .orderBy(asc(actions.stepIndex), asc(actions.id));
    },

    async getAction(id) {
      const [row] = await db.select().from(actions).where(eq(actions.id, id));
      return row ?? null;
    },

    async getOutstandingActions(serverId) {
      return db
        .select(getTableColumns(actions))
        .from(actions)
        .innerJoin(runs, eq(actions.runId, runs.id))
        .where(
          and(
            inArray(actions.status, OUTSTANDING_ACTION),
            notInArray(runs.status, TERMINAL_RUN),
            serverId !== undefined ? eq(actions.serverId, serverId) : undefined,
          ),
        )
        .orderBy(asc(actions.createdAt), asc(actions.id));
    },

    async updateAction(id, from, patch, fence) {
      if (from.length === 0) return null;
      const set = pick(patch, ACTION_PATCH_KEYS);
      // Conditional update: the status check and the write are one statement, so two reporters
      // of the same action cannot both move it.
      const [row] = await db
        .update(actions)
        .set(Object.keys(set).length > 0 ? set : { status: sql`${actions.status}` })
        .where(and(eq(actions.id, id), inArray(actions.status, from), fenced(fence)))
        .returning();
      if (!row) await assertFence(fence);
      return row ?? null;
    },

    async markDispatched(ids, at, fence) {
      if (ids.length === 0) return [];
      // One statement for a step's whole fan-out; the ids travel as one array parameter.
      const rows = await db
        .update(actions)
        .set({ status: 'dispatched', dispatchedAt: at })
        .where(
          and(
            sql`${actions.id} = ANY(${sql.param(ids)}::text[])`,
            eq(actions.status, 'pending'),
            fenced(fence),
          ),
        )
        .returning({ id: actions.id });
      if (rows.length === 0) await assertFence(fence);
      return rows.map((r) => r.id);
    },

    async openLedger(runId) {
      return db
        .select()
        .from(lbLedger)
        .where(and(isNull(lbLedger.reopenedAt), runId !== undefined ? eq(lbLedger.runId, runId) : undefined))
        .orderBy(
          asc(lbLedger.closedAt),
          asc(lbLedger.runId),
          asc(lbLedger.serverId),
          asc(lbLedger.stepIndex),
        );
    },

    async reopenLedger(runId, serverId, at, fence) {
      const rows = await db
        .update(lbLedger)
        .set({ reopenedAt: at })
        .where(
          and(
            eq(lbLedger.runId, runId),
            eq(lbLedger.serverId, serverId),
            isNull(lbLedger.reopenedAt),
            fenced(fence),
          ),
        )
        .returning({ serverId: lbLedger.serverId });
      if (rows.length === 0) await assertFence(fence);
    },

    async appendLogs(lines: LogRecord[]) {
      if (lines.length === 0) return;
      // drizzle over a pg Pool exposes it as $client (not in the Db type): COPY needs a connection.
      const pool = (db as unknown as { $client?: pg.Pool }).$client;
      if (typeof pool?.connect !== 'function') throw new Error('appendLogs needs a node-postgres Pool');
      const streams = new Map<string, { serverId: string; streamId: string }>();
      for (const l of lines) {
        const key = streamOf(l);
        if (key !== null && !streams.has(key))
          streams.set(key, { serverId: l.serverId!, streamId: l.streamId! });
      }
      const client = await pool.connect();
      try {
        if (streams.size === 0) {
          // Engine and coordinator lines only: one COPY, one statement, so the batch lands whole.
          await copyFrom(client, COPY_CHUNKS, copyChunks(chunkLogs(lines, new Map()).chunks));
          return;
        }
        await client.query('BEGIN');
        try {
          // Lock each stream's row (created at 0 when new) and read how far it is stored; a second
          // coordinator writing the same stream (lines resent after a failover) waits here and
          // then drops what this one stored. Sorted, so two writers lock in the same order.
          const keys = [...streams.values()].sort((x, y) =>
            x.serverId === y.serverId ? cmp(x.streamId, y.streamId) : cmp(x.serverId, y.serverId),
          );
          const locked = await client.query<{ server_id: string; stream_id: string; stored_seq: number }>(
            `INSERT INTO log_streams (server_id, stream_id, stored_seq)
             SELECT server_id, stream_id, 0 FROM unnest($1::text[], $2::text[]) AS u(server_id, stream_id)
             ON CONFLICT (server_id, stream_id) DO UPDATE SET stored_seq = log_streams.stored_seq
             RETURNING server_id, stream_id, stored_seq::float8 AS stored_seq`,
            [keys.map((k) => k.serverId), keys.map((k) => k.streamId)],
          );
          const stored = new Map(locked.rows.map((r) => [streamKey(r.server_id, r.stream_id), r.stored_seq]));
          const { chunks, storedSeq } = chunkLogs(lines, stored);
          if (chunks.length > 0) await copyFrom(client, COPY_CHUNKS, copyChunks(chunks));
          const moved = keys.filter((k) => {
            const key = streamKey(k.serverId, k.streamId);
            return storedSeq.get(key)! > stored.get(key)!;
          });
          if (moved.length > 0)
            await client.query(
              `UPDATE log_streams s SET stored_seq = u.seq
               FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(server_id, stream_id, seq)
               WHERE s.server_id = u.server_id AND s.stream_id = u.stream_id`,
              [
                moved.map((k) => k.serverId),
                moved.map((k) => k.streamId),
                moved.map((k) => storedSeq.get(streamKey(k.serverId, k.streamId))!),
              ],
            );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      } finally {
        client.release();
      }
    },

    async queryLogs(q): Promise<StoredLog[]> {
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
    },

    async getClusterLb(cluster) {
      const [row] = await db.select({ lb: clusters.lb }).from(clusters).where(eq(clusters.name, cluster));
      return row?.lb ?? null;
    },

    async setClusterLb(cluster, lb) {
      await db
        .insert(clusters)
        .values({ name: cluster, createdAt: sql`now()`, lb })
        .onConflictDoUpdate({ target: clusters.name, set: { lb } });
    },

    async getClusterSettings(cluster) {
      const [row] = await db
        .select({ settings: clusters.settings })
        .from(clusters)
        .where(eq(clusters.name, cluster));
      return row?.settings ?? {};
    },

    async setClusterSettings(cluster, settings) {
      await db
        .insert(clusters)
        .values({ name: cluster, createdAt: sql`now()`, settings })
        .onConflictDoUpdate({ target: clusters.name, set: { settings } });
    },

    async upsertServer(server) {
      const { id: _key, ...rest } = server;
      // Servers reference their cluster; the first server of a cluster registers it. One statement
      // (a data-modifying WITH; the foreign key is checked at its end), not a four-round-trip
      // transaction: every agent's Hello comes here, and a reconnect storm brings thousands at once.
      const upsert = db.insert(servers).values(server).onConflictDoUpdate({ target: servers.id, set: rest });
      await db.execute(sql`
        WITH registered AS (
          INSERT INTO ${clusters} (name, created_at) VALUES (${server.cluster}, now()) ON CONFLICT DO NOTHING
        )
        ${upsert.getSQL()}`);
    },

    async touchServers(touches: ServerTouch[]) {
      if (touches.length === 0) return;
      // Merge several touches of one server (later fields win): UPDATE ... FROM would otherwise
      // apply an arbitrary one of the duplicates.
      const merged = new Map<string, ServerTouch>();
      for (const t of touches) {
        const prev = merged.get(t.id);
        merged.set(
          t.id,
          prev ? { ...prev, ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) } : t,
        );
      }
      const rows = [...merged.values()].map((t) => ({
        id: t.id,
        hb: new Date(t.lastHeartbeatAt).toISOString(),
        status: t.status ?? null,
        gate_open: t.gateOpen ?? null,
        services: t.services ?? null,
        coord: t.coordinatorId ?? null,
      }));
      // One statement, one bind parameter, however many servers: the rows travel as one JSON
      // document and are unpacked server-side. Absent fields (null) keep the stored value.
      await db.execute(sql`
        UPDATE ${servers} AS s SET
          last_heartbeat_at = v.hb,
          status = COALESCE(v.status, s.status),
          gate_open = COALESCE(v.gate_open, s.gate_open),
          services = COALESCE(v.services, s.services)
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          AS v(id text, hb timestamptz, status text, gate_open boolean, services jsonb, coord text)
        WHERE s.id = v.id
          AND (v.coord IS NULL OR s.coordinator_id IS NULL OR s.coordinator_id = v.coord)`);
    },

    async listServers(opts = {}) {
      const rows = await db
        .select()
        .from(servers)
        .where(opts.cluster !== undefined ? eq(servers.cluster, opts.cluster) : undefined)
        .orderBy(asc(servers.id));
      return rows.map(serverFromRow);
    },

    async pageServers(q) {
      const search = q.search?.trim().toLowerCase();
      // strpos, not LIKE: a search for "%" or "_" means those characters, with nothing to escape.
      const searched = search
        ? sql`(strpos(lower(${servers.id}), ${search}) > 0
            OR strpos(lower(${servers.hostname}), ${search}) > 0
            OR strpos(lower(${servers.role}), ${search}) > 0
            OR EXISTS (
              SELECT 1 FROM jsonb_array_elements(${servers.services}) AS svc
              WHERE lower(svc->>'activeEdition') = ${search}
                 OR EXISTS (
                   SELECT 1 FROM jsonb_array_elements_text(svc->'installedEditions') AS ed
                   WHERE lower(ed) = ${search})))`
        : undefined;
      const where = and(
        q.cluster !== undefined ? eq(servers.cluster, q.cluster) : undefined,
        q.role !== undefined ? eq(servers.role, q.role) : undefined,
        q.status !== undefined ? eq(servers.status, q.status) : undefined,
        q.gateOpen !== undefined ? eq(servers.gateOpen, q.gateOpen) : undefined,
        searched,
      );
      const dir = sql.raw(q.desc ? 'DESC' : 'ASC');
      const key = q.sort ?? 'id';
      // COLLATE "C": the same code-point order whatever the database's locale (and the memory store's).
      const order =
        key === 'lastHeartbeatAt'
          ? sql`${servers.lastHeartbeatAt} ${dir} NULLS ${sql.raw(q.desc ? 'LAST' : 'FIRST')}`
          : sql`${servers[key]} COLLATE "C" ${dir}`;
      const unhealthy = sql`EXISTS (
        SELECT 1 FROM jsonb_array_elements(${servers.services}) AS svc
        WHERE svc->>'health' IN ('unhealthy', 'stopped'))`;
      const [rows, [counts], clusterRows, roleRows] = await Promise.all([
        db
          .select()
          .from(servers)
          .where(where)
          .orderBy(order, sql`${servers.id} COLLATE "C" ASC`)
          .limit(q.limit ?? 100)
          .offset(q.offset ?? 0),
        db
          .select({
            total: sql<number>`count(*)::int`,
            connected: sql<number>`count(*) FILTER (WHERE ${servers.status} = 'connected')::int`,
            lost: sql<number>`count(*) FILTER (WHERE ${servers.status} = 'lost')::int`,
            disconnected: sql<number>`count(*) FILTER (WHERE ${servers.status} = 'disconnected')::int`,
            gateClosed: sql<number>`count(*) FILTER (WHERE NOT ${servers.gateOpen})::int`,
            unhealthy: sql<number>`count(*) FILTER (WHERE ${unhealthy})::int`,
          })
          .from(servers)
          .where(where),
        db
          .selectDistinct({ v: sql<string>`${servers.cluster} COLLATE "C"` })
          .from(servers)
          .orderBy(sql`1`),
        db
          .selectDistinct({ v: sql<string>`${servers.role} COLLATE "C"` })
          .from(servers)
          .orderBy(sql`1`),
      ]);
      const { total, ...summary } = counts!;
      return {
        rows: rows.map(serverFromRow),
        total,
        summary,
        clusters: clusterRows.map((r) => r.v),
        roles: roleRows.map((r) => r.v),
      };
    },

    async getServer(id) {
      const [row] = await db.select().from(servers).where(eq(servers.id, id));
      return row ? serverFromRow(row) : null;
    },

    async insertEdition(edition: EditionRecord) {
      try {
        await db.insert(editions).values({
          app: edition.app,
          name: edition.name,
          description: edition.description ?? null,
          sha256: edition.sha256,
          size: edition.size,
          dbUpgradeCommand: edition.dbUpgradeCommand ?? null,
          createdAt: edition.createdAt,
          createdBy: edition.createdBy,
        });
      } catch (err) {
        if (pgCode(err) === '23505') {
          throw new StoreConflictError(
            `Edition '${edition.name}' of ${edition.app} already exists; editions are never replaced, give the new one another name.`,
          );
        }
        throw err;
      }
    },

    async getEdition(app, name) {
      const [row] = await db
        .select()
        .from(editions)
        .where(and(eq(editions.app, app), eq(editions.name, name)));
      return row ? toEdition(row) : null;
    },

    async listEditions(app) {
      const rows = await db
        .select()
        .from(editions)
        .where(app !== undefined ? eq(editions.app, app) : undefined)
        .orderBy(asc(editions.app), asc(editions.createdAt), asc(editions.name));
      return rows.map(toEdition);
    },

    async appendAudit(event: AuditEvent) {
      await db.insert(auditEvents).values(event);
    },

    async acquireLease(runId, holder, ttlMs, force = false) {
      // One statement: a new row (token 1), or the next token when the lease is free to take.
      // Expiry is the database's now(), so coordinators' clocks never decide who leads.
      const r = await db.execute<{ token: string | number }>(sql`
        INSERT INTO ${runLeases} (run_id, holder, token, acquired_at, expires_at)
        VALUES (${runId}, ${holder}, 1, now(), ${ttl(ttlMs)})
        ON CONFLICT (run_id) DO UPDATE SET
          holder = EXCLUDED.holder,
          token = ${runLeases.token} + 1,
          acquired_at = now(),
          expires_at = EXCLUDED.expires_at
        WHERE ${force}::boolean OR ${runLeases.holder} = EXCLUDED.holder OR ${runLeases.expiresAt} <= now()
        RETURNING token`);
      const row = r.rows[0];
      return row ? { runId, holder, token: Number(row.token) } : null;
    },

    async renewLease(lease, ttlMs) {
      const rows = await db
        .update(runLeases)
        .set({ expiresAt: sql`${ttl(ttlMs)}` })
        .where(
          and(
            eq(runLeases.runId, lease.runId),
            eq(runLeases.token, lease.token),
            eq(runLeases.holder, lease.holder),
          ),
        )
        .returning({ token: runLeases.token });
      return rows.length > 0;
    },

    async releaseLease(lease) {
      await db
        .update(runLeases)
        .set({ expiresAt: sql`now()` })
        .where(and(eq(runLeases.runId, lease.runId), eq(runLeases.token, lease.token)));
    },

    async getLease(runId) {
      const [row] = await db
        .select({
          runId: runLeases.runId,
          holder: runLeases.holder,
          token: runLeases.token,
          expiresAt: runLeases.expiresAt,
        })
        .from(runLeases)
        .where(eq(runLeases.runId, runId));
      return row ?? null;
    },

    async listAudit(opts = {}) {
      const q = db
        .select({
          at: auditEvents.at,
          actor: auditEvents.actor,
          action: auditEvents.action,
          target: auditEvents.target,
          details: auditEvents.details,
        })
        .from(auditEvents)
        .orderBy(desc(auditEvents.at), desc(auditEvents.id));
      return opts.limit !== undefined ? q.limit(opts.limit) : q;
    },
  } satisfies EngineStore & RunLeases;
}
