import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAuthStoreContract } from '@rollgate/engine/testing';
import { createDb, type RollgateDb } from './create-db';
import { createPgAuthStore, createPgLoginAttempts } from './pg-auth-store';
import { seedFromTemplate } from '@rollgate/test-kit';

describe('PostgreSQL auth store (embedded)', () => {
  let db: RollgateDb;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-auth-contract-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    db = createDb({ dataDir });
    await db.start();
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  describeAuthStoreContract('pg-auth-store on embedded PostgreSQL', async () => {
    await db.pool.query('TRUNCATE portal_tokens, sessions, users RESTART IDENTITY CASCADE');
    return { store: createPgAuthStore(db.db), cleanup: async () => {} };
  });

  it('issue 17 item 7: sign-in attempts are counted atomically, per window, shared by every client of the database', async () => {
    const attempts = createPgLoginAttempts(db.db);
    const other = createPgLoginAttempts(db.db);
    const now = 1_800_000_000_000;
    // 40 concurrent attempts from two "coordinators": each gets its own count.
    const counts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? other : attempts).hit('login:k', 60_000, now + i)),
    );
    expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    expect(new Set(counts.map((c) => c.resetAt)).size).toBe(1);
    await attempts.refund('login:k');
    expect((await other.hit('login:k', 60_000, now + 100)).count).toBe(40);
    // A new window starts afresh; ended windows are pruned; reset forgets a key.
    expect(await other.hit('login:k', 60_000, now + 60_000 + 5)).toEqual({
      count: 1,
      resetAt: now + 120_005,
    });
    await attempts.hit('login:gone', 60_000, now);
    expect(await attempts.prune(60_000, now + 61_000)).toBe(1);
    await attempts.reset('login:k');
    expect((await attempts.hit('login:k', 60_000, now + 61_000)).count).toBe(1);
  });
});
