import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDemoEditions, DB_UPGRADE_COMMAND, editionSchema } from './package-editions';

const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'demo-editions-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('demo edition archives', () => {
  it('are deterministic: same sha256 on every build', async () => {
    const a = await buildDemoEditions(await tmp());
    const b = await buildDemoEditions(await tmp());
    expect(a.map((e) => e.name)).toEqual(['1.0', '2.0']);
    expect(a.map((e) => e.sha256)).toEqual(b.map((e) => e.sha256));
    expect(a[0]!.sha256).not.toBe(a[1]!.sha256);
    expect(a[0]!.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(a[0]!.size).toBeGreaterThan(0);
  });

  it('1.x: edition.json and server.mjs, schema 1, no database upgrade command', async () => {
    const [e] = await buildDemoEditions(await tmp(), ['1.0']);
    const entries: string[] = [];
    await tar.list({ file: e!.path, onReadEntry: (x) => entries.push(x.path) });
    expect(entries).toEqual(['edition.json', 'server.mjs']);
    expect(e!.schema).toBe(1);
    expect(e!.dbUpgradeCommand).toBeUndefined();
  });

  it('2.x: also migrate.mjs, sorted, with fixed mtime and mode; declares db-upgrade', async () => {
    const [e] = await buildDemoEditions(await tmp(), ['2.0']);
    const entries: { path: string; mode?: number; mtime?: Date }[] = [];
    let editionJson = '';
    await tar.list({
      file: e!.path,
      onReadEntry: (x) => {
        entries.push({ path: x.path, mode: x.mode, mtime: x.mtime });
        if (x.path === 'edition.json') x.on('data', (c: Buffer) => (editionJson += c.toString()));
      },
    });
    expect(entries.map((x) => x.path)).toEqual(['edition.json', 'migrate.mjs', 'server.mjs']);
    expect(JSON.parse(editionJson)).toEqual({ name: '2.0', schema: 2 });
    expect(e!.schema).toBe(2);
    expect(e!.dbUpgradeCommand).toBe(DB_UPGRADE_COMMAND);
    expect(entries.every((x) => x.mode === 0o644)).toBe(true);
    expect(entries.every((x) => x.mtime?.toISOString() === '2020-01-01T00:00:00.000Z')).toBe(true);
  });

  it('schema 2 starts at major version 2', () => {
    expect(['1.0', '1.9', '2.0', '2.1', '10.0', 'beta'].map(editionSchema)).toEqual([1, 1, 2, 2, 2, 1]);
  });

  it('refuses unsafe edition names', async () => {
    await expect(buildDemoEditions(await tmp(), ['../x'])).rejects.toThrow(/not allowed/);
  });
});
