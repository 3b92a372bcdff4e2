// dbBackup / dbRestore against a real Debian PostgreSQL 15 (@rollgate/app-db), through the
// executor and the journal: the dump is verified by a test restore, a restore brings the rows
// back, and the database password appears in no log line, result, update or journal line.
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appPostgresUnavailableReason,
  psqlQuery,
  startAppPostgres,
  type AppPostgres,
} from '@rollgate/app-db';
import type { DbBackupResult, DbRestoreResult } from '@rollgate/domain';
import { createLogger } from '@rollgate/logger';
import type { ActionOp__Output, ActionUpdate } from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config';
import { extractArchiveSafely } from '../heavy/archive';
import { createEditionStore } from '../heavy/edition-store';
import { createExecutor, type Executor } from './executor';
import type { HealthMonitor } from '../rotation/health-monitor';
import { openJournal, type Journal } from './journal';
import { createOpRunner } from './ops';
import { createSupervisor, type Supervisor } from '../processes/supervisor';
import { fromWireRunAction, toWireUpdate } from '../coordinator/wire';
import { waitFor } from '@rollgate/test-kit';

const unavailable = appPostgresUnavailableReason();

function serviceWithUrl(url: string) {
  const r = parseConfig({
    agentId: 'a',
    cluster: 'c',
    role: 'r',
    coordinator: { address: 'h:1' },
    dataDir: '/x',
    gate: { port: 1 },
    services: [{ name: 'demo-app', port: 2, start: { command: 'node' }, database: { url } }],
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config.services[0]!;
}
const log = createLogger({ name: 'test', level: 'silent' });

let dir: string;
let pg: AppPostgres;
let password: string;
let journal: Journal;
let supervisor: Supervisor;
let executor: Executor;
const updates: ActionUpdate[] = [];
const lines: string[] = [];

const health: HealthMonitor = {
  start() {},
  stop() {},
  checkNow: async () => {},
  passed: async () => {},
  view: () => [],
  get: () => undefined,
};

describe.skipIf(unavailable !== null)('database backups with a real PostgreSQL 15', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agent-db-'));
    pg = await startAppPostgres({ dir: join(dir, 'pg'), database: 'shop' });
    password = decodeURIComponent(new URL(pg.url).password);
    expect(password.length).toBeGreaterThan(3);
    await psqlQuery(
      pg.url,
      `CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 250) g;
       CREATE SCHEMA billing;
       CREATE TABLE billing.invoices (id serial PRIMARY KEY, total numeric);
       INSERT INTO billing.invoices (total) SELECT g * 1.5 FROM generate_series(1, 40) g;
       CREATE TABLE empty_table (x int);`,
    );
    const parsed = parseConfig(
      {
        agentId: 'db-1',
        cluster: 'demo',
        role: 'admin',
        coordinator: { address: '127.0.0.1:1' },
        dataDir: 'data',
        gate: { port: 7070 },
        services: [
          {
            name: 'demo-app',
            port: 1,
            start: { command: 'node' },
            database: { urlEnv: 'DEMO_APP_DATABASE_URL' },
          },
        ],
      },
      dir,
    );
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const config = parsed.config;
    journal = await openJournal({ path: join(config.dataDir, 'journal.jsonl') });
    supervisor = createSupervisor({
      dataDir: config.dataDir,
      baseEnv: {},
      log,
      onOutput: () => {},
      onExit: () => {},
    });
    const runOp = createOpRunner({
      dataDir: config.dataDir,
      services: config.services,
      backupsDir: config.backupsDir,
      baseEnv: { PATH: process.env.PATH ?? '', DEMO_APP_DATABASE_URL: pg.url },
      editions: createEditionStore({ dataDir: config.dataDir, unpack: (a, d) => extractArchiveSafely(a, d) }),
      supervisor,
      health,
      setGateWish: async () => {},
      countConnections: async () => 0,
      isListening: async () => false,
      fetchArtifact: () => {
        throw new Error('no artifacts here');
      },
      lastOutput: () => undefined,
    });
    executor = createExecutor({
      journal,
      runOp,
      sendUpdate: (u) => updates.push(toWireUpdate(u)),
      ship: (_level, code, message) => lines.push(`${code} ${message}`),
      log,
    });
  }, 120_000);

  afterAll(async () => {
    await journal?.close();
    supervisor?.close();
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function runAction(id: string, ops: ActionOp__Output[]): Promise<ActionUpdate> {
    await executor.handleRunAction(
      fromWireRunAction({ actionId: id, runId: 'r1', stepIndex: 0, attempt: 1, ops }),
    );
    return waitFor(
      `action ${id} to finish`,
      () => updates.find((x) => x.actionId === id && /SUCCEEDED|FAILED|CANCELLED/.test(String(x.status))),
      { timeoutMs: 120_000, everyMs: 20 },
    );
  }

  const counts = async () => ({
    items: Number(await psqlQuery(pg.url, 'SELECT count(*) FROM items')),
    invoices: Number(await psqlQuery(pg.url, 'SELECT count(*) FROM billing.invoices')),
    names: await psqlQuery(pg.url, "SELECT string_agg(name, ',' ORDER BY id) FROM items WHERE id <= 3"),
  });

  it('backs up with verify, restores after the rows changed, and never shows the password', async () => {
    const before = await counts();
    const backup = await runAction('backup-1', [
      {
        op: 'dbBackup',
        dbBackup: { service: 'demo-app', label: 'run-42', verify: true, timeoutMs: 120_000 },
      },
    ]);
    expect(backup.status, backup.reason).toBe('ACTION_STATUS_SUCCEEDED');
    const res = JSON.parse(backup.resultJson!) as DbBackupResult;
    expect(res).toMatchObject({
      kind: 'dbBackup',
      file: join(dir, 'data', 'backups', 'demo-app', 'run-42.dump'),
      verified: true,
      tables: { 'public.items': 250, 'billing.invoices': 40, 'public.empty_table': 0 },
    });
    expect(res.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(res.bytes).toBeGreaterThan(0);
    expect(res.verifyMs).toBeGreaterThan(0);
    // The scratch database is gone.
    const dbs = await psqlQuery(
      pg.adminUrl,
      "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE '%rg_verify%'",
    );
    expect(dbs).toBe('');
    expect((await readdir(join(dir, 'data', 'backups', 'demo-app'))).sort()).toEqual([
      'run-42.dump',
      'run-42.dump.json',
      'run-42.dump.sha256',
    ]);

    // The upgrade goes wrong: rows change.
    await psqlQuery(
      pg.url,
      `DELETE FROM items WHERE id > 200; UPDATE items SET name = 'broken' WHERE id <= 3;
       INSERT INTO billing.invoices (total) VALUES (1), (2);`,
    );
    expect((await counts()).items).toBe(200);

    const restore = await runAction('restore-1', [
      { op: 'dbRestore', dbRestore: { service: 'demo-app', label: 'run-42', timeoutMs: 120_000 } },
    ]);
    expect(restore.status, restore.reason).toBe('ACTION_STATUS_SUCCEEDED');
    const rr = JSON.parse(restore.resultJson!) as DbRestoreResult;
    expect(rr).toMatchObject({ kind: 'dbRestore', file: res.file, tables: res.tables });
    expect(await counts()).toEqual(before);

    // A restore of a label never taken names the label and the backups directory.
    const missing = await runAction('restore-2', [
      { op: 'dbRestore', dbRestore: { service: 'demo-app', label: 'run-7', timeoutMs: 10_000 } },
    ]);
    expect(missing.status).toBe('ACTION_STATUS_FAILED');
    expect(missing.reason).toMatch(/no database backup of demo-app labelled "run-7" .* backups directory/);

    // A retried backup step keeps the verified dump taken first.
    const again = await runAction('backup-2', [
      {
        op: 'dbBackup',
        dbBackup: { service: 'demo-app', label: 'run-42', verify: true, timeoutMs: 120_000 },
      },
    ]);
    expect(JSON.parse(again.resultJson!)).toEqual(res);

    // A duplicate RunAction is answered from the journal with the same result_json.
    const n = updates.length;
    await executor.handleRunAction(
      fromWireRunAction({ actionId: 'backup-1', runId: 'r1', stepIndex: 0, attempt: 1, ops: [] }),
    );
    expect(updates[n]).toMatchObject({
      actionId: 'backup-1',
      status: 'ACTION_STATUS_SUCCEEDED',
      resultJson: backup.resultJson,
    });

    // The password is nowhere: not in updates, progress lines, the journal, or the backup metadata.
    const journalText = await readFile(join(dir, 'data', 'journal.jsonl'), 'utf8');
    const meta = await readFile(join(dir, 'data', 'backups', 'demo-app', 'run-42.dump.json'), 'utf8');
    for (const text of [JSON.stringify(updates), lines.join('\n'), journalText, meta]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(encodeURIComponent(password));
    }
    expect(lines.join('\n')).toMatch(
      /backing up demo-app database postgres:\/\/rollgate_app@127\.0\.0\.1:\d+\/shop/,
    );
  }, 180_000);

  it('issue 17 item 5: a database dump, its checksum and its record are private (dirs 0700, files 0600) even under umask 000', async () => {
    const old = process.umask(0o000);
    try {
      const u = await runAction('backup-private', [
        {
          op: 'dbBackup',
          dbBackup: { service: 'demo-app', label: 'private-1', verify: false, timeoutMs: 120_000 },
        },
      ]);
      expect(u.status).toBe('ACTION_STATUS_SUCCEEDED');
    } finally {
      process.umask(old);
    }
    const backups = join(dir, 'data', 'backups');
    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    expect(await mode(backups)).toBe(0o700);
    expect(await mode(join(backups, 'demo-app'))).toBe(0o700);
    const files = (await readdir(join(backups, 'demo-app'))).filter((f) => f.startsWith('private-1'));
    expect(files.sort()).toEqual(['private-1.dump', 'private-1.dump.json', 'private-1.dump.sha256']);
    for (const f of files)
      expect({ f, mode: await mode(join(backups, 'demo-app', f)) }).toEqual({ f, mode: 0o600 });
  }, 180_000);

  it('a wrong password fails with the URL masked', async () => {
    const u = new URL(pg.url);
    u.password = 'definitely-wrong-pw';
    const runOp = createOpRunner({
      dataDir: join(dir, 'data2'),
      services: [serviceWithUrl(u.toString())],
      baseEnv: { PATH: process.env.PATH ?? '' },
      editions: createEditionStore({
        dataDir: join(dir, 'data2'),
        unpack: (a, d) => extractArchiveSafely(a, d),
      }),
      supervisor,
      health,
      setGateWish: async () => {},
      countConnections: async () => 0,
      isListening: async () => false,
      fetchArtifact: () => {
        throw new Error('no');
      },
      lastOutput: () => undefined,
    });
    const err = await runOp(
      { op: 'dbBackup', service: 'demo-app', label: 'x', verify: false, timeoutMs: 20_000 },
      { actionId: 'x', signal: new AbortController().signal, log: () => {} },
    ).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/psql failed to count the rows .*password authentication failed/);
    expect((err as Error).message).not.toContain('definitely-wrong-pw');
  }, 60_000);
});
