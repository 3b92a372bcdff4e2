// A real Debian PostgreSQL for the demo application: starts, the app role owns its database and may
// create databases, pg_dump is the server's major, stop leaves no process, a restart keeps the data.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psqlQuery, psqlRows, startAppPostgres, type AppPostgres } from './index';

const execFileAsync = promisify(execFile);

let dir: string;
let db: AppPostgres | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'app-db-'));
  db = await startAppPostgres({ dir });
}, 60_000);

afterAll(async () => {
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startAppPostgres', () => {
  it('gives a URL for rollgate_app on loopback, owning the database', async () => {
    const d = db!;
    expect(d.url).toMatch(new RegExp(`^postgres://rollgate_app:[0-9a-f]+@127\\.0\\.0\\.1:${d.port}/demo$`));
    expect(await psqlQuery(d.url, 'SELECT current_user, current_database()')).toBe('rollgate_app|demo');
    expect(
      await psqlQuery(d.adminUrl, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'demo'"),
    ).toBe('rollgate_app');
  });

  it('lets the app role create tables and scratch databases', async () => {
    const d = db!;
    await psqlQuery(
      d.url,
      "CREATE TABLE t (id serial primary key, name text not null); INSERT INTO t (name) VALUES ('a'), ('b');",
    );
    expect(await psqlRows(d.url, 'SELECT id, name FROM t ORDER BY id')).toEqual([
      ['1', 'a'],
      ['2', 'b'],
    ]);
    const scratch = d.url.replace(/\/demo$/, '/postgres');
    await psqlQuery(scratch, 'CREATE DATABASE scratch_verify');
    await psqlQuery(scratch, 'DROP DATABASE scratch_verify');
  });

  it('pg_dump in binDir has the same major as the server and can dump it', async () => {
    const d = db!;
    const { stdout } = await execFileAsync(join(d.binDir, 'pg_dump'), ['--version']);
    const dumpMajor = Number(/(\d+)\.\d+/.exec(stdout)?.[1]);
    const serverMajor = Number(await psqlQuery(d.url, 'SHOW server_version_num')) / 10000;
    expect(Math.floor(serverMajor)).toBe(dumpMajor);
    expect(d.major).toBe(dumpMajor);
    const dump = await execFileAsync(join(d.binDir, 'pg_dump'), ['--schema-only', '-d', d.url]);
    expect(dump.stdout).toContain('CREATE TABLE public.t');
  });

  it('psqlQuery rejects with the server message on an error', async () => {
    await expect(psqlQuery(db!.url, 'SELECT * FROM nope')).rejects.toThrow(/relation "nope" does not exist/);
  });

  it('stop leaves no process; a restart on the same dir keeps the data and the credentials', async () => {
    const first = db!;
    await first.stop();
    expect(alive(first.pid)).toBe(false);
    db = await startAppPostgres({ dir });
    expect(db.url.split('@')[0]).toBe(first.url.split('@')[0]);
    expect(await psqlQuery(db.url, 'SELECT count(*) FROM t')).toBe('2');
  });
});
