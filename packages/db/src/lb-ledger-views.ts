// Each balancer's view on the LB ledger (docs/adr/0026): what Rollgate last set for a server in a
// pool on one load balancer. Written after every exchange a balancer answered, read by `lb show`.
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './create-db';
import { lbLedgerViews } from './schema';

export interface LbLedgerView {
  cluster: string;
  balancer: string;
  /** Agent id, or `id@beside` for a second instance. */
  serverId: string;
  pool: string;
  backend: string;
  server: string;
  state: 'ready' | 'drain' | 'maint';
  setAt: number;
}

/** Most rows one record() writes; a cluster's change is far below (servers × pools). */
const MAX_ROWS = 10_000;

export function createPgLbLedgerViews(db: Db) {
  return {
    /** Upserts one row per (cluster, balancer, server, pool): the latest state set wins. */
    async record(rows: LbLedgerView[]): Promise<void> {
      if (rows.length === 0) return;
      if (rows.length > MAX_ROWS) throw new Error(`record: ${rows.length} rows at once; at most ${MAX_ROWS}`);
      await db
        .insert(lbLedgerViews)
        .values(rows)
        .onConflictDoUpdate({
          target: [lbLedgerViews.cluster, lbLedgerViews.balancer, lbLedgerViews.serverId, lbLedgerViews.pool],
          set: {
            backend: sql`excluded.backend`,
            server: sql`excluded.server`,
            state: sql`excluded.state`,
            setAt: sql`excluded.set_at`,
          },
          // A late write from a slower exchange never overwrites a newer state.
          setWhere: sql`${lbLedgerViews.setAt} <= excluded.set_at`,
        });
    },
    /** A cluster's rows, by server, pool and balancer. */
    async list(cluster: string): Promise<LbLedgerView[]> {
      const rows = await db
        .select()
        .from(lbLedgerViews)
        .where(and(eq(lbLedgerViews.cluster, cluster)))
        .orderBy(asc(lbLedgerViews.serverId), asc(lbLedgerViews.pool), asc(lbLedgerViews.balancer));
      return rows.map((r) => ({ ...r, state: r.state as LbLedgerView['state'] }));
    },
  };
}

export type PgLbLedgerViews = ReturnType<typeof createPgLbLedgerViews>;
