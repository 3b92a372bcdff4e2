// The audit log is append-only in the database itself (migration 0009): an UPDATE or DELETE is
// refused by PostgreSQL, whoever sends it, and the entry stays as written.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from './create-db';
import { createPgStore } from './pg-store';
import { seedFromTemplate } from '@rollgate/test-kit';

describe('audit log on PostgreSQL', () => {
  let db: RollgateDb;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-audit-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    db = createDb({ dataDir });
    await db.start();
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to change or remove an entry; appending still works', async () => {
    const store = createPgStore(db.db);
    await store.appendAudit({
      at: 1_700_000_000_123,
      actor: 'alice',
      action: 'run.start',
      target: 'r-1',
      details: { from: '10.0.0.5' },
    });
    await expect(db.pool.query(`UPDATE audit_events SET actor = 'mallory'`)).rejects.toThrow(
      /audit_events is append-only: UPDATE refused/,
    );
    await expect(db.pool.query('DELETE FROM audit_events')).rejects.toThrow(
      /audit_events is append-only: DELETE refused/,
    );
    await store.appendAudit({
      at: 1_700_000_000_456,
      actor: 'bob',
      action: 'run.abort',
      target: 'r-1',
      details: {},
    });
    const rows = await store.listAudit();
    expect(rows.map((r) => [r.actor, r.action])).toEqual([
      ['bob', 'run.abort'],
      ['alice', 'run.start'],
    ]);
    expect(rows[1]!.details).toEqual({ from: '10.0.0.5' });
  });
});
