// The demo application with a real database (Debian PostgreSQL, as the agent's pg_dump needs):
// db-init seeds schema 1.0, 2.0 on an un-migrated schema is visibly broken, 2.0's migrate.mjs
// upgrades in one transaction and records each run, and the demo hooks do what they say.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatalWait, freePort, waitFor } from '@rollgate/test-kit';
import { psqlQuery, startAppPostgres, type AppPostgres } from '@rollgate/app-db';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoEditions, demoHookPath } from './package-editions';

let dir: string;
let db: AppPostgres;
let e1: string;
let e2: string;
const children: ChildProcess[] = [];

function runNode(
  script: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [script, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.once('error', reject);
    c.once('close', (code) => resolve({ code, out }));
  });
}

const dbEnv = () => ({ DATABASE_URL: db.url, PG_BIN_DIR: db.binDir });

async function startServer(cwd: string): Promise<number> {
  const port = await freePort();
  const c = spawn(process.execPath, ['server.mjs'], {
    cwd,
    env: { ...process.env, ...dbEnv(), PORT: String(port), SERVER_NAME: 'db-test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(c);
  let out = '';
  c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(
    'the demo-app to listen',
    () => {
      if (c.exitCode !== null) throw new FatalWait(`demo-app did not start: ${out}`);
      return out.includes('listening');
    },
    { timeoutMs: 10_000, everyMs: 20, diagnostics: () => `demo-app did not start: ${out}` },
  );
  return port;
}

async function items(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}/items`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'demo-app-db-'));
  // As root the cluster runs as `postgres`, which must reach it (else it goes to a fallback dir).
  await chmod(dir, 0o755);
  db = await startAppPostgres({ dir: join(dir, 'pg') });
  const editions = await buildDemoEditions(join(dir, 'editions'));
  [e1, e2] = [join(dir, '1.0'), join(dir, '2.0')];
  for (const [e, target] of [
    [editions[0]!, e1],
    [editions[1]!, e2],
  ] as const) {
    await mkdir(target);
    await tar.extract({ file: e.path, cwd: target });
  }
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('demo-app with a database', () => {
  it('db-init creates and seeds the 1.0 schema, idempotently', async () => {
    const first = await runNode(demoHookPath('db-init'), [], dir, dbEnv());
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toContain('4 items');
    expect((await runNode(demoHookPath('db-init'), [], dir, dbEnv())).code).toBe(0);
    expect(await psqlQuery(db.url, "SELECT string_agg(name, ',' ORDER BY id) FROM items")).toBe(
      'Calculator,Spreadsheet,Paint,Text editor',
    );
  });

  it('1.0 serves the rows; 2.0 on the un-migrated schema is visibly broken', async () => {
    const p1 = await startServer(e1);
    const r1 = await items(p1);
    expect(r1.status).toBe(200);
    expect(r1.body.items).toEqual([
      { id: 1, name: 'Calculator' },
      { id: 2, name: 'Spreadsheet' },
      { id: 3, name: 'Paint' },
      { id: 4, name: 'Text editor' },
    ]);
    const p2 = await startServer(e2);
    const r2 = await items(p2);
    expect(r2.status).toBe(500);
    expect(String(r2.body.error)).toMatch(/column "note" does not exist/);
  });

  it('migrate.mjs (in the 2.0 archive) fails cleanly when the database is unreachable', async () => {
    const closed = await freePort();
    const r = await runNode('migrate.mjs', [], e2, {
      DATABASE_URL: db.url.replace(`:${db.port}/`, `:${closed}/`),
      PG_BIN_DIR: db.binDir,
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('cannot reach the database, nothing changed');
  });

  it('migrate.mjs on a database never initialised changes nothing (one transaction)', async () => {
    await psqlQuery(db.url, 'CREATE DATABASE empty_scratch');
    const url = db.url.replace(/\/demo$/, '/empty_scratch');
    const r = await runNode('migrate.mjs', [], e2, { DATABASE_URL: url, PG_BIN_DIR: db.binDir });
    expect(r.code).toBe(1);
    expect(r.out).toContain('run the db-init command first');
    expect(await psqlQuery(url, "SELECT to_regclass('rollgate_demo_migrations') IS NULL")).toBe('t');
    await psqlQuery(db.url, 'DROP DATABASE empty_scratch');
  });

  it('migrate.mjs upgrades the schema and records exactly one run; both editions then work', async () => {
    const r = await runNode('migrate.mjs', [], e2, dbEnv());
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('schema upgraded for edition 2.0');
    expect(await psqlQuery(db.url, 'SELECT edition FROM rollgate_demo_migrations')).toBe('2.0');
    const p2 = await startServer(e2);
    const r2 = await items(p2);
    expect(r2.status).toBe(200);
    expect((r2.body.items as unknown[])[0]).toEqual({ id: 1, name: 'Calculator', note: null });
    // 1.0 keeps working on the migrated schema (group 2 serves while group 1 is upgraded).
    const p1 = await startServer(e1);
    expect((await items(p1)).status).toBe(200);
  });

  it('migrate.mjs refuses to run without DATABASE_URL', async () => {
    const r = await runNode('migrate.mjs', [], e2, { DATABASE_URL: '' });
    expect(r.code).toBe(2);
    expect(r.out).toContain('DATABASE_URL is not set');
  });
});

describe('demo hooks', () => {
  it('repository-check: passes when every listed file exists, names the missing ones otherwise', async () => {
    const repo = join(dir, 'repository');
    await mkdir(repo, { recursive: true });
    await writeFile(join(repo, 'calc.stp'), 'x');
    await writeFile(join(repo, 'paint.stp'), 'x');
    await writeFile(join(repo, 'manifest.txt'), '# published apps\ncalc.stp\n\npaint.stp\n');
    const ok = await runNode(demoHookPath('repository-check'), [join(repo, 'manifest.txt')], dir, {});
    expect(ok.code, ok.out).toBe(0);
    await writeFile(join(repo, 'manifest.txt'), 'calc.stp\nsheet.stp\nword.stp\n');
    const bad = await runNode(demoHookPath('repository-check'), [], dir, {
      DEMO_REPOSITORY_MANIFEST: join(repo, 'manifest.txt'),
    });
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('sheet.stp, word.stp');
  });

  it('snapshot / restore-snapshot: the service directory comes back as it was', async () => {
    const service = join(dir, 'agent', 'editions', 'demo-app');
    await mkdir(join(service, '1.0'), { recursive: true });
    await writeFile(join(service, '1.0', 'server.mjs'), 'one');
    await symlink('1.0', join(service, 'current'));
    const env = {
      DEMO_SNAPSHOT_DIR: join(dir, 'snapshots'),
      DEMO_SNAPSHOT_SOURCE: service,
      SERVER_NAME: 's1',
    };
    const snap = await runNode(demoHookPath('snapshot'), [], dir, env);
    expect(snap.code, snap.out).toBe(0);
    expect(snap.out).toContain('stand-in');
    // The upgrade changes the directory...
    await mkdir(join(service, '2.0'));
    await writeFile(join(service, '2.0', 'server.mjs'), 'two');
    await rm(join(service, 'current'));
    await symlink('2.0', join(service, 'current'));
    // ...and the rollback restores it.
    const restore = await runNode(demoHookPath('restore-snapshot'), [], join(service, '2.0'), env);
    expect(restore.code, restore.out).toBe(0);
    expect(await readlink(join(service, 'current'))).toBe('1.0');
    expect(await readFile(join(service, '1.0', 'server.mjs'), 'utf8')).toBe('one');
    await expect(readFile(join(service, '2.0', 'server.mjs'))).rejects.toThrow(/ENOENT/);
    const none = await runNode(demoHookPath('restore-snapshot'), ['other'], dir, env);
    expect(none.code).toBe(1);
    expect(none.out).toContain('there is no snapshot "other"');
  });
});
