// Subscriptions and deliveries in PostgreSQL (migration 0016, docs/adr/0032). Every coordinator on
// the database may send: a due delivery is claimed with FOR UPDATE SKIP LOCKED and its next_at moved
// past the send's timeout, so two coordinators never send it at once and a crashed sender's claim
// simply comes due again.
import type { RollgateDb } from '@rollgate/db';
import type { NotifyEvent } from './events';

type Pool = RollgateDb['pool'];

export interface SubscriptionRow {
  id: string;
  cluster: string;
  kind: 'webhook' | 'email';
  url: string | null;
  events: NotifyEvent[];
  createdBy: string;
  createdAt: number;
}

export interface DeliveryRow {
  id: number;
  subscriptionId: string;
  runId: string | null;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** A claimed delivery with what sending it needs (the secret never leaves this process). */
export interface ClaimedDelivery extends DeliveryRow {
  kind: 'webhook' | 'email';
  url: string | null;
  secret: string | null;
  payload: unknown;
}

const ms = (col: string, as: string) => `(extract(epoch from ${col}) * 1000)::float8 AS "${as}"`;
const at = (n: number) => `to_timestamp($${n}::float8 / 1000)`;

const SUB_COLS = `id, cluster, kind, url, events, created_by AS "createdBy", ${ms('created_at', 'createdAt')}`;
const DELIVERY_COLS = (p: string) =>
  `${p}id::float8 AS id, ${p}subscription_id AS "subscriptionId", ${p}run_id AS "runId", ${p}event,
   ${p}status, ${p}attempts, ${ms(`${p}next_at`, 'nextAt')}, ${p}last_status AS "lastStatus",
   ${p}last_error AS "lastError", ${ms(`${p}created_at`, 'createdAt')}, ${ms(`${p}finished_at`, 'finishedAt')}`;

export function createNotifyStore(pool: Pool) {
  return {
    async insertSubscription(s: SubscriptionRow & { secret: string | null }): Promise<void> {
      await pool.query(
        `INSERT INTO notify_subscriptions (id, cluster, kind, url, secret, events, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, ${at(8)})`,
        [s.id, s.cluster, s.kind, s.url, s.secret, s.events, s.createdBy, s.createdAt],
      );
    },

    async listSubscriptions(cluster?: string): Promise<SubscriptionRow[]> {
      const r = await pool.query<SubscriptionRow>(
        `SELECT ${SUB_COLS} FROM notify_subscriptions
         WHERE ($1::text IS NULL OR cluster = $1) ORDER BY created_at, id`,
        [cluster ?? null],
      );
      return r.rows;
    },

    /** Deletes it and its deliveries; false when there was none. */
    async removeSubscription(id: string): Promise<SubscriptionRow | null> {
      const r = await pool.query<SubscriptionRow>(
        `DELETE FROM notify_subscriptions WHERE id = $1 RETURNING ${SUB_COLS}`,
        [id],
      );
      return r.rows[0] ?? null;
    },

    /**
     * Queues `payload` for every subscription of `cluster` that wants `event`, unless one already
     * holds `maxPending` undelivered events (the queue is bounded; the rest are counted as dropped).
     */
    async enqueue(
      cluster: string,
      event: NotifyEvent,
      runId: string,
      payloadFor: (kind: 'webhook' | 'email') => unknown,
      now: number,
      maxPending: number,
    ): Promise<{ queued: number; dropped: string[] }> {
      const subs = await pool.query<{ id: string; kind: 'webhook' | 'email'; pending: number }>(
        `SELECT s.id, s.kind,
                (SELECT count(*)::int FROM notify_deliveries d
                  WHERE d.subscription_id = s.id AND d.status = 'pending') AS pending
           FROM notify_subscriptions s WHERE s.cluster = $1 AND $2 = ANY (s.events)`,
        [cluster, event],
      );
      let queued = 0;
      const dropped: string[] = [];
      for (const s of subs.rows) {
        if (s.pending >= maxPending) {
          dropped.push(s.id);
          continue;
        }
        const payload = payloadFor(s.kind);
        if (payload === null) continue;
        await pool.query(
          `INSERT INTO notify_deliveries (subscription_id, run_id, event, payload, status, next_at, created_at)
           VALUES ($1, $2, $3, $4, 'pending', ${at(5)}, ${at(5)})`,
          [s.id, runId, event, JSON.stringify(payload), now],
        );
        queued++;
      }
      return { queued, dropped };
    },

    /** Claims up to `limit` due deliveries: each attempt is counted and held until `holdUntil`. */
    async claimDue(now: number, holdUntil: number, limit: number): Promise<ClaimedDelivery[]> {
      const r = await pool.query<ClaimedDelivery>(
        `UPDATE notify_deliveries d SET attempts = d.attempts + 1, next_at = ${at(2)}
           FROM notify_subscriptions s
          WHERE s.id = d.subscription_id AND d.id IN (
            SELECT id FROM notify_deliveries
             WHERE status = 'pending' AND next_at <= ${at(1)}
             ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING ${DELIVERY_COLS('d.')}, d.payload, s.kind, s.url, s.secret`,
        [now, holdUntil, limit],
      );
      return r.rows;
    },

    async delivered(id: number, status: number | null, now: number): Promise<void> {
      await pool.query(
        `UPDATE notify_deliveries SET status = 'delivered', last_status = $2, last_error = NULL,
                finished_at = ${at(3)} WHERE id = $1`,
        [id, status, now],
      );
    },

    /** A failed attempt: retried at `retryAt`, or given up (status failed) when it is null. */
    async attemptFailed(
      id: number,
      status: number | null,
      error: string,
      retryAt: number | null,
      now: number,
    ): Promise<void> {
      await pool.query(
        retryAt === null
          ? `UPDATE notify_deliveries SET status = 'failed', last_status = $2, last_error = $3,
                    finished_at = ${at(4)} WHERE id = $1`
          : `UPDATE notify_deliveries SET last_status = $2, last_error = $3, next_at = ${at(4)}
              WHERE id = $1`,
        [id, status, error.slice(0, 1000), retryAt ?? now],
      );
    },

    /** The newest deliveries first, of one subscription or of a cluster's. */
    async listDeliveries(q: { cluster?: string; subscriptionId?: string; runId?: string; limit: number }) {
      const r = await pool.query<DeliveryRow>(
        `SELECT ${DELIVERY_COLS('d.')} FROM notify_deliveries d
           JOIN notify_subscriptions s ON s.id = d.subscription_id
          WHERE ($1::text IS NULL OR s.cluster = $1) AND ($2::text IS NULL OR d.subscription_id = $2)
            AND ($3::text IS NULL OR d.run_id = $3)
          ORDER BY d.id DESC LIMIT $4`,
        [q.cluster ?? null, q.subscriptionId ?? null, q.runId ?? null, q.limit],
      );
      return r.rows;
    },

    /** Deletes finished deliveries older than `before`; the log is kept bounded. */
    async pruneFinished(before: number): Promise<number> {
      const r = await pool.query(
        `DELETE FROM notify_deliveries WHERE status <> 'pending' AND finished_at < ${at(1)}`,
        [before],
      );
      return r.rowCount ?? 0;
    },
  };
}

export type NotifyStore = ReturnType<typeof createNotifyStore>;
