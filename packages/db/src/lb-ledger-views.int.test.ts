// Migration 0014 on embedded PostgreSQL: each balancer's view on the LB ledger is kept per
// (cluster, balancer, server, pool); the latest state wins and a late write never goes back in time.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from './create-db';
import { createPgLbLedgerViews, type LbLedgerView } from './lb-ledger-views';
import { createPgStore } from './pg-store';
import { seedFromTemplate } from '@rollgate/test-kit';

describe('lb_ledger_views (migration 0014, issue 14 item 1)', () => {
  let db: RollgateDb;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-lb-views-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    db = createDb({ dataDir });
    await db.start();
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const row = (balancer: string, state: LbLedgerView['state'], setAt: number): LbLedgerView => ({
    cluster: 'seed',
    balancer,
    serverId: 'stream-1',
    pool: 'stream',
    backend: 'be_stream',
    server: 's1',
    state,
    setAt,
  });

  it("issue 14.1: records each balancer's view, the newest state wins, and a cluster's removal takes them", async () => {
    const store = createPgStore(db.db);
    await store.setClusterLb('seed', null);
    const views = createPgLbLedgerViews(db.db);
    await views.record([row('lb1', 'drain', 100), row('lb2', 'drain', 100)]);
    await views.record([row('lb1', 'ready', 200)]);
    // A slower exchange's write that arrives late does not undo the newer one.
    await views.record([row('lb1', 'maint', 150)]);
    const got = await views.list('seed');
    expect(got.map((v) => [v.balancer, v.state, v.setAt])).toEqual([
      ['lb1', 'ready', 200],
      ['lb2', 'drain', 100],
    ]);
    await db.pool.query(`DELETE FROM clusters WHERE name = 'seed'`);
    expect(await views.list('seed')).toEqual([]);
  });
});
