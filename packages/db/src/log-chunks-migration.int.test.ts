import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from './create-db';
import { LOG_CHUNK_SPAN } from './log-chunks';
import { createPgStore } from './pg-store';
import { seedFromTemplate } from '@rollgate/test-kit';

const migrations = fileURLToPath(new URL('../migrations/', import.meta.url));
const dirs: string[] = [];
const started: RollgateDb[] = [];

afterAll(async () => {
  for (const db of started) await db.stop().catch(() => {});
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The committed migrations as they were before 0010 (log lines one row each). */
async function migrationsBefore0010(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-migrations-'));
  dirs.push(dir);
  await cp(migrations, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalPath, 'utf8')) as {
    entries: { idx: number; tag: string }[];
  };
  for (const e of journal.entries.filter((e) => e.idx >= 10)) await rm(path.join(dir, `${e.tag}.sql`));
  journal.entries = journal.entries.filter((e) => e.idx < 10);
  await writeFile(journalPath, JSON.stringify(journal));
  return dir;
}

describe('migration 0010: log lines into chunks', () => {
  it('keeps every stored line (text, time, stream position) and what was resent stays out', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-logmig-'));
    dirs.push(dataDir);
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    const old = createDb({ dataDir, migrationsFolder: await migrationsBefore0010() });
    started.push(old);
    await old.start();
    // Lines as a coordinator before the upgrade stored them: an engine line of a run, agent lines.
    await old.pool.query(
      `INSERT INTO log_lines (run_id, action_id, server_id, step_index, at, level, code, message, source, stream_id, seq)
       VALUES ('r1', NULL, NULL, 0, to_timestamp(1700000000.123), 'info', 'RG0117I', 'processing server', 'engine', NULL, NULL),
              ('r1', 'r1:0:a-1:1', 'a-1', 0, to_timestamp(1700000000.456), 'warn', 'RG0190I', 'it''s "quoted"\nand long', 'agent', 'st-1', 1),
              (NULL, NULL, 'a-1', NULL, to_timestamp(1700000000.789), 'info', 'RG0190I', 'idle output', 'agent', 'st-1', 2)`,
    );
    const before = (await old.pool.query('SELECT id FROM log_lines ORDER BY id')).rows.map((r) =>
      Number(r.id),
    );
    await old.stop();

    const db = createDb({ dataDir });
    started.push(db);
    await db.start();
    const store = createPgStore(db.db);
    const lines = await store.queryLogs({});
    expect(lines.map((l) => l.id)).toEqual(before.map((id) => id * LOG_CHUNK_SPAN));
    expect(lines.map(({ id: _id, ...l }) => l)).toEqual([
      {
        runId: 'r1',
        actionId: null,
        serverId: null,
        stepIndex: 0,
        at: 1_700_000_000_123,
        level: 'info',
        code: 'RG0117I',
        message: 'processing server',
        source: 'engine',
      },
      {
        runId: 'r1',
        actionId: 'r1:0:a-1:1',
        serverId: 'a-1',
        stepIndex: 0,
        at: 1_700_000_000_456,
        level: 'warn',
        code: 'RG0190I',
        message: `it's "quoted"\nand long`,
        source: 'agent',
        streamId: 'st-1',
        seq: 1,
      },
      {
        runId: null,
        actionId: null,
        serverId: 'a-1',
        stepIndex: null,
        at: 1_700_000_000_789,
        level: 'info',
        code: 'RG0190I',
        message: 'idle output',
        source: 'agent',
        streamId: 'st-1',
        seq: 2,
      },
    ]);
    expect((await store.queryLogs({ runId: 'r1' })).map((l) => l.code)).toEqual(['RG0117I', 'RG0190I']);

    // The agent resends seq 2 (never acknowledged before the upgrade) with seq 3: only 3 is new,
    // and it comes after everything migrated.
    const agentLine = (seq: number, message: string) => ({
      runId: null,
      actionId: null,
      serverId: 'a-1',
      stepIndex: null,
      at: 1_700_000_001_000 + seq,
      level: 'info' as const,
      code: 'RG0190I',
      message,
      source: 'agent' as const,
      streamId: 'st-1',
      seq,
    });
    await store.appendLogs([agentLine(2, 'idle output'), agentLine(3, 'after the upgrade')]);
    const after = await store.queryLogs({ serverId: 'a-1' });
    expect(after.map((l) => l.message)).toEqual([
      `it's "quoted"\nand long`,
      'idle output',
      'after the upgrade',
    ]);
    expect(after[2]!.id).toBeGreaterThan(lines[2]!.id);
    // psql's view of the same lines, one row each.
    const view = await db.pool.query('SELECT id::float8 AS id, message FROM log_lines ORDER BY id');
    expect(view.rows).toEqual([lines[0]!, ...after].map((l) => ({ id: l.id, message: l.message })));
    await db.stop();
  });
});
