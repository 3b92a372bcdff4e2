// Issue 17 items 2 and 4 on a real PostgreSQL: a line no column can hold never stalls the log
// pipeline (the pipelined writer of the coordinator, on pg-store), a batch failing for good is set
// aside in log_dead_letters, and the pruning round deletes what is past its time and keeps the rest.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LogRecord } from '@rollgate/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from './create-db';
import { createLogDeadLetters, DEAD_LETTERS_MAX, UnstorableLogLine } from './log-chunks';
import { createLogWriter } from './log-writer';
import { createPgStore } from './pg-store';
import { pruneExpired } from './retention';
import { seedFromTemplate } from '@rollgate/test-kit';

let dir: string;
let db: RollgateDb;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-deadletters-'));
  // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
  await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dir);
  db = createDb({ dataDir: dir });
  await db.start();
});

afterAll(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

const agentLine = (serverId: string, seq: number, over: Partial<LogRecord> = {}): LogRecord => ({
  runId: null,
  actionId: null,
  serverId,
  stepIndex: null,
  at: 1_700_000_000_000 + seq,
  level: 'info',
  code: 'RG0190I',
  message: `${serverId} line ${seq}`,
  source: 'agent',
  streamId: `${serverId}-st`,
  seq,
  ...over,
});

const storedSeqs = async (serverId: string) =>
  (
    await db.pool.query<{ seq: number }>(
      `SELECT seq::float8 AS seq FROM log_lines WHERE server_id = $1 AND source = 'agent' ORDER BY id`,
      [serverId],
    )
  ).rows.map((r) => r.seq);

describe('issue 17 item 2: poison log lines on PostgreSQL', () => {
  it('issue 17 item 2: appendLogs refuses a batch with a value past its column (2^63, int32) as permanent, writing nothing', async () => {
    const store = createPgStore(db.db);
    for (const poison of [
      agentLine('p-0', 3, { seq: 2 ** 63 }),
      agentLine('p-0', 3, { at: 2 ** 63 }),
      agentLine('p-0', 3, { stepIndex: 2 ** 31 }),
    ]) {
      await expect(store.appendLogs([agentLine('p-0', 2), poison])).rejects.toBeInstanceOf(UnstorableLogLine);
    }
    expect(await storedSeqs('p-0')).toEqual([]);
  });

  it('issue 17 item 2: the pipelined writer stores every other line in order, counts the poison, and sets aside a batch PostgreSQL refuses for good', async () => {
    const store = createPgStore(db.db);
    const deadLetters = createLogDeadLetters(db.db);
    const alerts: string[] = [];
    const w = createLogWriter({
      store,
      pipeline: 3,
      maxBatch: 100,
      flushMs: 5,
      deadLetter: (lines, reason) => deadLetters.put(lines, reason),
      onSetAside: (e) => alerts.push(e.reason),
    });
    // Two agents interleaved; agent "bad" sends a seq past 2^63 every 97th line.
    const sent = { good: [] as number[], bad: [] as number[] };
    for (let i = 1; i <= 1000; i++) {
      for (const id of ['good', 'bad']) {
        const line = agentLine(id, i);
        if (id === 'bad' && i % 97 === 0) {
          w.write({ ...line, seq: 2 ** 63 + i });
          continue;
        }
        w.write(line);
        sent[id as 'good' | 'bad'].push(i);
      }
    }
    await w.flush();
    expect(await storedSeqs('good')).toEqual(sent.good);
    expect(await storedSeqs('bad')).toEqual(sent.bad);
    expect(w.stats()).toMatchObject({ unstorable: 10, buffered: 0 });

    // A line PostgreSQL refuses for good although every field is in range: a check constraint
    // (SQLSTATE 23514) stands in for the data exceptions a real one would raise.
    await db.pool.query(
      `ALTER TABLE log_chunks ADD CONSTRAINT test_no_poison CHECK (NOT ('poison' = ANY (messages)))`,
    );
    try {
      for (let i = 1001; i <= 1100; i++)
        w.write(agentLine('good', i, i === 1050 ? { message: 'poison' } : {}));
      await w.flush();
    } finally {
      await db.pool.query(`ALTER TABLE log_chunks DROP CONSTRAINT test_no_poison`);
    }
    const expected = [
      ...sent.good,
      ...Array.from({ length: 100 }, (_, k) => 1001 + k).filter((s) => s !== 1050),
    ];
    expect(await storedSeqs('good')).toEqual(expected);
    expect(w.stats().setAside).toBe(1);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toContain('test_no_poison');
    const letters = await deadLetters.list();
    expect(letters[0]).toMatchObject({
      lineCount: 1,
      serverIds: ['good'],
      lines: [expect.objectContaining({ message: 'poison', seq: 1050 })],
    });
    expect(letters[0]!.reason).toContain('test_no_poison');
    // The pipeline moved on: the next line is stored.
    w.write(agentLine('good', 1101));
    await w.flush();
    expect((await storedSeqs('good')).at(-1)).toBe(1101);
    await w.stop();
  });

  it('issue 17 item 2: dead letters are bounded, and hold text jsonb would refuse (NUL, lone surrogates)', async () => {
    const deadLetters = createLogDeadLetters(db.db);
    await deadLetters.put([agentLine('nul', 1, { message: 'a\0b\uD800c' })], 'test');
    expect((await deadLetters.list(1))[0]!.lines).toEqual([
      expect.objectContaining({ message: 'a\uFFFDb\uFFFDc' }),
    ]);
    for (let i = 0; i < DEAD_LETTERS_MAX + 5; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) => deadLetters.put([agentLine('many', i + k + 1)], 'bound')),
      );
    }
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM log_dead_letters`);
    expect(rows[0]!.n).toBeLessThanOrEqual(DEAD_LETTERS_MAX + 50);
    await deadLetters.put([agentLine('last', 1)], 'bound');
    const after = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM log_dead_letters`);
    expect(after.rows[0]!.n).toBeLessThanOrEqual(DEAD_LETTERS_MAX);
  });
});

describe('issue 17 item 4: retention on PostgreSQL', () => {
  it('issue 17 item 4: a pruning round deletes log chunks stored before the cutoff, expired sessions and portal links, and keeps the rest; two at once prune once', async () => {
    const store = createPgStore(db.db);
    await store.appendLogs([agentLine('old', 1), agentLine('old', 2)]);
    await store.appendLogs([agentLine('new', 1)]);
    await db.pool.query(
      `UPDATE log_chunks SET stored_at = now() - interval '100 days' WHERE server_id = 'old'`,
    );
    await db.pool.query(
      `INSERT INTO users (id, username, role, password_hash, created_at, created_by)
       VALUES ('u-ret', 'ret', 'admin', 'x', now(), 'test')`,
    );
    await db.pool.query(
      `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, from_address) VALUES
         ('s-expired', 'u-ret', now() - interval '2 days', now() - interval '1 day', 'test'),
         ('s-live', 'u-ret', now(), now() + interval '1 day', 'test')`,
    );
    await db.pool.query(
      `INSERT INTO portal_tokens (token_hash, run_id, recipient, created_by, created_at, expires_at) VALUES
         ('p-expired', 'r-1', 'c@example.com', 'test', now() - interval '2 days', now() - interval '1 hour'),
         ('p-live', 'r-1', 'c@example.com', 'test', now(), now() + interval '7 days')`,
    );
    const now = Date.now();
    const opts = { logsBefore: now - 90 * 86_400_000, expiredBefore: now };
    const [a, b] = await Promise.all([pruneExpired(db.db, opts), pruneExpired(db.db, opts)]);
    const ran = [a, b].filter((r) => r.ran);
    expect(ran.length).toBeGreaterThanOrEqual(1);
    const total = (k: 'logChunks' | 'sessions' | 'portalTokens') => a[k] + b[k];
    expect(total('logChunks')).toBe(1);
    expect(total('sessions')).toBe(1);
    expect(total('portalTokens')).toBe(1);
    expect(await storedSeqs('old')).toEqual([]);
    expect(await storedSeqs('new')).toEqual([1]);
    const left = async (table: string) =>
      (await db.pool.query<{ token_hash: string }>(`SELECT token_hash FROM ${table} ORDER BY 1`)).rows.map(
        (r) => r.token_hash,
      );
    expect(await left('sessions')).toEqual(['s-live']);
    expect(await left('portal_tokens')).toEqual(['p-live']);
    // Idempotent: a second round finds nothing.
    expect(await pruneExpired(db.db, opts)).toMatchObject({
      ran: true,
      logChunks: 0,
      sessions: 0,
      portalTokens: 0,
    });
  });
});
