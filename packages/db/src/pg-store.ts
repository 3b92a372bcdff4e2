import type { ActionResult, ActionStatus, RunStatus } from '@rollgate/domain';
import {
  StaleLeaseError,
  StoreConflictError,
  type ActionRecord,
  type AuditEvent,
  type EditionRecord,
  type EngineStore,
  type Fence,
  type RunLeases,
  type RunRecord,
  type ServerRecord,
  type ServerTouch,
  type StepRecord,
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
  or,
  sql,
  type SQL,
} from 'drizzle-orm';
import type { Db } from './create-db';
import { createLogAppender, queryLogChunks } from './log-chunks';
import {
  actions,
  auditEvents,
  clusters,
  editions,
  lbLedger,
  runLeases,
  runs,
  servers,
  steps,
} from './schema';

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
  if (row.fetchBy === 'agents') e.fetchBy = 'agents';
  if (row.source !== null) e.source = row.source;
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
      ${col((a) => toJson(resultColumn(a.results)))}::jsonb[]
    )
    ON CONFLICT DO NOTHING`;
}

/**
 * The result column holds one result as itself and several (the ops of one action) as a list in
 * op order (the shape every coordinator sharing the database reads); the record has them all as
 * `results` (issue 15 item 4).
 */
function resultColumn(results: ActionResult[]): ActionResult | ActionResult[] | null {
  return results.length > 1 ? results : (results[0] ?? null);
}

function actionFromRow({ result, ...row }: typeof actions.$inferSelect): ActionRecord {
  return { ...row, results: result === null ? [] : Array.isArray(result) ? result : [result] };
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

/**
 * The engine's store on PostgreSQL. Ordering, where the port leaves it open:
 * listRuns newest first (createdAt, then id, descending); getSteps by index; getActions by step
 * then id; getOutstandingActions oldest first; queryLogs ascending id (append order); listAudit
 * newest first; listServers and listEditions by key.
 */
/**
 * PostgreSQL's text and jsonb cannot hold U+0000. An audit entry quotes what an untrusted party
 * sent (an agent's action id, a client's user name): its refusal must still be recorded, so NUL
 * becomes U+FFFD in every string and key instead of failing the insert.
 */
export function storableText<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/\u0000/g, '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(storableText) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), storableText(v)])) as T;
  }
  return value;
}

export function createPgStore(db: Db): EngineStore & RunLeases {
  const logs = createLogAppender(db);
  /**
   * A fenced write changed nothing: tells a stale token (StaleLeaseError) from an ordinary miss
   * (a version or status that moved on), which the caller answers with null as before.
   */
  /** First in a transaction, and held to its commit: a takeover waits for it or refuses it. */
  async function holdLease(tx: Parameters<Parameters<Db['transaction']>[0]>[0], fence: Fence | undefined) {
    if (!fence) return;
    const [lease] = await tx
      .select({ token: runLeases.token })
      .from(runLeases)
      .where(eq(runLeases.runId, fence.runId))
      .for('share');
    if (lease?.token !== fence.token) throw new StaleLeaseError(fence.runId, fence.token);
  }

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
        await holdLease(tx, fence);
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

    async completeStep(c, fence) {
      // One commit for a step's end (docs/adr/0050): ledger, step and run move together or not at all.
      return db.transaction(async (tx) => {
        await holdLease(tx, fence);
        const [row] = await tx
          .update(runs)
          .set({ ...pick(c.runPatch, RUN_PATCH_KEYS), version: sql`${runs.version} + 1` })
          .where(and(eq(runs.id, c.runId), eq(runs.version, c.expectedVersion)))
          .returning();
        if (!row) return null; // another writer got there first: nothing else is written either
        if (c.reopen.length > 0)
          await tx
            .update(lbLedger)
            .set({ reopenedAt: c.finishedAt })
            .where(
              and(
                isNull(lbLedger.reopenedAt),
                or(
                  ...c.reopen.map((e) => and(eq(lbLedger.runId, e.runId), eq(lbLedger.serverId, e.serverId))),
                ),
              ),
            );
        await tx
          .update(steps)
          .set({ status: 'succeeded', finishedAt: c.finishedAt, error: null })
          .where(and(eq(steps.runId, c.runId), eq(steps.index, c.index)));
        return row;
      });
    },

    async getActions(runId, stepIndex) {
      const rows = await db
        .select()
        .from(actions)
        .where(
          and(
            eq(actions.runId, runId),
            stepIndex !== undefined ? eq(actions.stepIndex, stepIndex) : undefined,
          ),
        )
        .orderBy(asc(actions.stepIndex), asc(actions.id));
      return rows.map(actionFromRow);
    },

    async getAction(id) {
      const [row] = await db.select().from(actions).where(eq(actions.id, id));
      return row ? actionFromRow(row) : null;
    },

    async getOutstandingActions(serverId) {
      const rows = await db
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
      return rows.map(actionFromRow);
    },

    async updateAction(id, from, patch, fence, opts) {
      if (from.length === 0) return null;
      const set: Partial<typeof actions.$inferInsert> = pick(patch, ACTION_PATCH_KEYS);
      if (patch.results) set.result = resultColumn(patch.results);
      // Conditional update: the status check and the write are one statement, so two reporters
      // of the same action cannot both move it. An agent's report is committed lazily (its journal
      // repeats it after a crash): set_config(…, true) in the statement is SET LOCAL for its own
      // implicit transaction, one round trip instead of BEGIN, SET LOCAL, UPDATE, COMMIT.
      const [row] = await db
        .update(actions)
        .set(Object.keys(set).length > 0 ? set : { status: sql`${actions.status}` })
        .where(
          and(
            eq(actions.id, id),
            inArray(actions.status, from),
            fenced(fence),
            opts?.lazyCommit ? sql`set_config('synchronous_commit', 'off', true) IS NOT NULL` : undefined,
          ),
        )
        .returning();
      if (!row) await assertFence(fence);
      return row ? actionFromRow(row) : null;
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

    appendLogs: (lines) => logs.append(lines),

    queryLogs: (q) => queryLogChunks(db, q),

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

    async insertEdition(edition: EditionRecord, fetchUrl?: string) {
      try {
        await db.insert(editions).values({
          fetchBy: edition.fetchBy ?? 'coordinator',
          source: edition.source ?? null,
          fetchUrl: edition.fetchBy === 'agents' ? (fetchUrl ?? null) : null,
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

    async editionFetchUrl(name, sha256) {
      const [row] = await db
        .select({ fetchUrl: editions.fetchUrl })
        .from(editions)
        .where(and(eq(editions.name, name), eq(editions.sha256, sha256), eq(editions.fetchBy, 'agents')))
        .limit(1);
      return row?.fetchUrl ?? null;
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
      await db.insert(auditEvents).values(storableText(event));
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
