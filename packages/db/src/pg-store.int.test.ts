import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStoreContract } from '@rollgate/engine/testing';
import { createDb, type RollgateDb } from './create-db';
import { createPgStore } from './pg-store';
import { seedFromTemplate } from '@rollgate/test-kit';

const TABLES = [
  'log_chunks',
  'log_streams',
  'run_leases',
  'audit_events',
  'lb_ledger',
  'actions',
  'steps',
  'runs',
  'servers',
  'clusters',
  'editions',
];

interface Handle {
  db: RollgateDb;
  dispose(): Promise<void>;
}

/** One database for the whole suite; every test starts from empty tables (TRUNCATE is ~ms). */
function contractAgainst(name: string, open: () => Promise<Handle>): void {
  let handle: Handle | null = null;
  beforeAll(async () => {
    handle = await open();
  });
  afterAll(async () => {
    await handle?.dispose();
  });
  describeStoreContract(name, async () => {
    const h = handle!;
    await h.db.pool.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY CASCADE`);
    return { store: createPgStore(h.db.db), cleanup: async () => {} };
  });
}

describe('PostgreSQL store (embedded)', () => {
  contractAgainst('pg-store on embedded PostgreSQL', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-db-contract-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    const db = createDb({ dataDir });
    await db.start();
    return {
      db,
      async dispose() {
        await db.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  });
});

describe('pg-store lazyCommit (docs/adr/0050)', () => {
  it('issue 18: an agent report committed lazily leaves the connection it used committing synchronously again', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-db-lazy-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    const db = createDb({ dataDir });
    await db.start();
    try {
      const store = createPgStore(db.db);
      // The contract covers what the update does; here only what it leaves on the connection.
      for (let i = 0; i < 2; i++)
        expect(
          await store.updateAction('no-such-action', ['pending'], { status: 'accepted' }, undefined, {
            lazyCommit: true,
          }),
        ).toBeNull();
      // What the store relies on: set_config(…, true) in an UPDATE's WHERE is in force for the row
      // it updates (so for the statement's own commit), and only for that statement.
      const client = await db.pool.connect();
      try {
        await client.query('CREATE TEMP TABLE lazy_probe (id int, v int)');
        await client.query('INSERT INTO lazy_probe VALUES (1, 0)');
        const probe = await client.query<{ s: string }>(
          `UPDATE lazy_probe SET v = v + 1 WHERE id = 1 AND set_config('synchronous_commit', 'off', true) IS NOT NULL RETURNING current_setting('synchronous_commit') AS s`,
        );
        expect(probe.rows).toEqual([{ s: 'off' }]);
        expect((await client.query('SHOW synchronous_commit')).rows).toEqual([{ synchronous_commit: 'on' }]);
      } finally {
        client.release();
      }
      // It ends with its transaction: the pooled connection is back to the server's default.
      for (let i = 0; i < 3; i++) {
        const r = await db.pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
        expect(r.rows[0]!.synchronous_commit).toBe('on');
      }
    } finally {
      await db.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

// Tests may read the environment (packages may not). Runs in a throwaway database on that server.
const externalUrl = process.env.DATABASE_URL;
// Registered only when DATABASE_URL is set, so a run without it has nothing skipped.
if (externalUrl)
  describe('PostgreSQL store (DATABASE_URL)', () => {
    contractAgainst('pg-store on DATABASE_URL', async () => {
      const name = `rollgate_test_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: externalUrl });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } catch (err) {
        throw new Error(
          `The DATABASE_URL role needs CREATEDB to run these tests in a throwaway database: ${(err as Error).message}`,
        );
      } finally {
        await admin.end();
      }
      const url = new URL(externalUrl!);
      url.pathname = `/${name}`;
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-db-external-'));
      const db = createDb({ databaseUrl: url.toString(), dataDir });
      await db.start();
      return {
        db,
        async dispose() {
          await db.stop();
          const c = new pg.Client({ connectionString: externalUrl });
          await c.connect();
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await c.end();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    });
  });

// appendLogs writes with COPY and falls back to INSERT … ON CONFLICT when a batch repeats a line.
describe('pg-store appendLogs (COPY fast path)', () => {
  let db: RollgateDb;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-db-copy-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    db = createDb({ dataDir });
    await db.start();
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const line = (seq: number, message: string, streamId = 'st') => ({
    runId: null,
    actionId: null,
    serverId: 'a-1',
    stepIndex: seq % 3 === 0 ? null : seq,
    at: 1_700_000_000_000 + seq,
    level: 'info' as const,
    code: 'RG0190I',
    message,
    source: 'agent' as const,
    streamId,
    seq,
  });

  /** Lines `from`..`to` of one agent stream of server a-1. */
  const streamLines = (stream: string, from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => line(from + i, `${stream}-${from + i}`, stream));
  const seqsFrom = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  /** The seqs of a stream as the store returns them, in line order. */
  const storedSeqs = async (store: ReturnType<typeof createPgStore>, stream: string) =>
    (await store.queryLogs({ serverId: 'a-1', limit: 5000 }))
      .filter((l) => l.streamId === stream)
      .map((l) => l.seq);

  it('stores text COPY would misread as it was given, and NUL as U+FFFD', async () => {
    const store = createPgStore(db.db);
    const messages = ['\\N', 'a\\b', 'tab\there', 'line\nbreak\r\n', '', 'nul\0byte', 'ünï ✓'];
    await store.appendLogs(messages.map((m, i) => line(i + 1, m, 'esc')));
    const got = await store.queryLogs({ serverId: 'a-1' });
    expect(got.map((l) => l.message)).toEqual([...messages.slice(0, 5), 'nul\uFFFDbyte', 'ünï ✓']);
    expect(got.map((l) => l.stepIndex)).toEqual([1, 2, null, 4, 5, null, 7]);
    expect(got.every((l, i) => l.at === 1_700_000_000_000 + i + 1 && l.seq === i + 1)).toBe(true);
  });

  it('stores long multi-byte lines and lines without a stream whole (the COPY buffer grows)', async () => {
    const store = createPgStore(db.db);
    const long = (i: number) => `${i}:${'ü✓€'.repeat(1300)}`; // ~3 900 UTF-16 units, ~9 000 bytes
    const batch = [
      ...[1, 2, 3].map((i) => ({ ...line(i, long(i), 'big'), serverId: 'a-2' })),
      {
        ...line(4, 'no stream', 'x'),
        serverId: 'a-2',
        streamId: null,
        seq: null,
        runId: 'r-9',
        code: 'RG0001I',
      },
    ];
    await store.appendLogs(batch);
    const got = await store.queryLogs({ serverId: 'a-2' });
    expect(got.map((l) => l.message)).toEqual([long(1), long(2), long(3), 'no stream']);
    expect(got[3]).toMatchObject({ runId: 'r-9', code: 'RG0001I', at: 1_700_000_000_004 });
    expect(got[3]).not.toHaveProperty('streamId');
    expect(got[3]).not.toHaveProperty('seq');
  });

  it('a batch repeating stored lines keeps the new ones, once, in order', async () => {
    const store = createPgStore(db.db);
    await store.appendLogs([1, 2, 3].map((i) => line(i, `m${i}`, 'dup')));
    await store.appendLogs([2, 3, 4, 5].map((i) => line(i, `m${i}`, 'dup')));
    const got = (await store.queryLogs({ limit: 100 })).filter((l) => l.streamId === 'dup');
    expect(got.map((l) => l.message)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(got.map((l) => l.id)).toEqual([...got.map((l) => l.id)].sort((a, b) => a - b));
  });

  it('two coordinators storing the same resent lines at once keep each line once', async () => {
    // The agent's old coordinator flushes lines 1–300 while the new one stores what the agent
    // resent (everything unacknowledged: 1–300) and 301–400: each its own store, racing.
    const a = createPgStore(db.db);
    const b = createPgStore(db.db);
    for (let round = 0; round < 5; round++) {
      const stream = `race-${round}`;
      await Promise.all([
        a.appendLogs(streamLines(stream, 1, 300)),
        b.appendLogs(streamLines(stream, 1, 400)),
      ]);
      expect(await storedSeqs(a, stream)).toEqual(seqsFrom(1, 400));
    }
  });

  it('batches appended while earlier ones are in flight commit in order, and fail with a failed one', async () => {
    const store = createPgStore(db.db);
    const range = (from: number, to: number) => streamLines('pipe', from, to);
    await Promise.all([
      store.appendLogs(range(1, 100)),
      store.appendLogs(range(101, 300)),
      store.appendLogs(range(301, 310)),
    ]);
    expect(await storedSeqs(store, 'pipe')).toEqual(seqsFrom(1, 310));
    // A batch that cannot be written (a time that is not a time) takes the one behind it down too:
    // nothing of either is stored, so putting both back in order loses and reorders nothing.
    const bad = range(311, 320).map((l, i) => (i === 5 ? { ...l, at: Number.NaN } : l));
    const results = await Promise.allSettled([store.appendLogs(bad), store.appendLogs(range(321, 330))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(
      /an earlier batch of log lines failed/,
    );
    expect(await storedSeqs(store, 'pipe')).toEqual(seqsFrom(1, 310));
    await store.appendLogs(range(311, 320));
    await store.appendLogs(range(321, 330));
    expect(await storedSeqs(store, 'pipe')).toEqual(seqsFrom(1, 330));
  });

  it('a coordinator that wrote a stream last, then finds another wrote it since, stores nothing twice', async () => {
    // Each store remembers the seq it stored last and skips the locking read; the other
    // coordinator's writes must still win over that memory.
    const a = createPgStore(db.db);
    const b = createPgStore(db.db);
    const range = (from: number, to: number) => streamLines('known', from, to);
    await a.appendLogs(range(1, 10));
    await b.appendLogs(range(1, 20)); // the agent moved to b and resent from 1
    await a.appendLogs(range(11, 25)); // a's late flush: it still believes 10 is stored
    expect(await storedSeqs(a, 'known')).toEqual(seqsFrom(1, 25));
    // Both believe 25 now; both write at once, from what each was sent.
    await b.appendLogs(range(1, 25));
    await Promise.all([a.appendLogs(range(26, 40)), b.appendLogs(range(26, 60))]);
    expect(await storedSeqs(a, 'known')).toEqual(seqsFrom(1, 60));
  });
});
