// Retention (issue 17 item 4, docs/adr/0019): log chunks and dead letters past their age, expired
// sign-in sessions and expired portal links are deleted, in small batches so that no statement holds
// many row locks or a long transaction. Safe with several coordinators on one database: one prunes
// at a time (a session advisory lock; the others skip the round), and every delete is idempotent.
import type pg from 'pg';
import type { Db } from './create-db';

/** Rows deleted per statement. */
const PRUNE_BATCH = 5000;
/** The advisory lock key of a pruning round: "rg-prune" as 8 bytes. */
const PRUNE_LOCK = '0x72672d7072756e65';

export interface PruneOptions {
  /** Log chunks (and dead letters) stored before this epoch ms are deleted. */
  logsBefore: number;
  /** Sessions and portal links that expired before this epoch ms are deleted. */
  expiredBefore: number;
}

export interface PruneResult {
  /** false when another coordinator was pruning: this round did nothing. */
  ran: boolean;
  logChunks: number;
  deadLetters: number;
  sessions: number;
  portalTokens: number;
}

/** Deletes what `statement` selects, PRUNE_BATCH rows at a time, until none is left. */
async function deleteAll(client: pg.PoolClient, statement: string, param: number): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await client.query(statement, [new Date(param).toISOString(), PRUNE_BATCH]);
    total += r.rowCount ?? 0;
    if ((r.rowCount ?? 0) < PRUNE_BATCH) return total;
  }
}

/** One pruning round; see the file comment. */
export async function pruneExpired(db: Db, opts: PruneOptions): Promise<PruneResult> {
  const pool = (db as unknown as { $client?: pg.Pool }).$client;
  if (typeof pool?.connect !== 'function') throw new Error('pruneExpired needs a node-postgres Pool');
  const client = await pool.connect();
  const result: PruneResult = { ran: false, logChunks: 0, deadLetters: 0, sessions: 0, portalTokens: 0 };
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(${PRUNE_LOCK}::bigint) AS locked`,
    );
    if (!rows[0]?.locked) return result;
    try {
      result.ran = true;
      result.logChunks = await deleteAll(
        client,
        `DELETE FROM log_chunks WHERE id IN (
           SELECT id FROM log_chunks WHERE stored_at < $1::timestamptz ORDER BY id LIMIT $2)`,
        opts.logsBefore,
      );
      result.deadLetters = await deleteAll(
        client,
        `DELETE FROM log_dead_letters WHERE id IN (
           SELECT id FROM log_dead_letters WHERE at < $1::timestamptz ORDER BY id LIMIT $2)`,
        opts.logsBefore,
      );
      result.sessions = await deleteAll(
        client,
        `DELETE FROM sessions WHERE token_hash IN (
           SELECT token_hash FROM sessions WHERE expires_at < $1::timestamptz LIMIT $2)`,
        opts.expiredBefore,
      );
      result.portalTokens = await deleteAll(
        client,
        `DELETE FROM portal_tokens WHERE token_hash IN (
           SELECT token_hash FROM portal_tokens WHERE expires_at < $1::timestamptz LIMIT $2)`,
        opts.expiredBefore,
      );
      return result;
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${PRUNE_LOCK}::bigint)`);
    }
  } finally {
    client.release();
  }
}
