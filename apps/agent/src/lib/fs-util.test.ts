import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replaceFile, writeFileAtomic } from './fs-util';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-util-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic and replaceFile (docs/adr/0050)', () => {
  it('issue 18: with a later, the new content is in place when it resolves and its fsyncs are handed over, not skipped', async () => {
    const file = join(dir, 'env.json');
    await writeFile(file, 'old\n');
    const handed: Promise<void>[] = [];
    await writeFileAtomic(file, 'new\n', 0o600, (p) => handed.push(p));
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(handed).toHaveLength(1);
    await expect(handed[0]).resolves.toBeUndefined();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['env.json']); // no temp file left
  });

  it('without a later, it resolves with both fsyncs done and hands nothing over', async () => {
    const file = join(dir, 'state.json');
    await writeFileAtomic(file, '{}\n');
    expect(await readFile(file, 'utf8')).toBe('{}\n');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('replaceFile swaps the content in one rename and leaves no temp file; a missing directory is an error', async () => {
    const file = join(dir, 'svc.json');
    await replaceFile(file, '{"pid":1}\n');
    await replaceFile(file, '{"pid":2}\n');
    expect(await readFile(file, 'utf8')).toBe('{"pid":2}\n');
    await expect(replaceFile(join(dir, 'missing', 'x.json'), '{}')).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual(['svc.json']);
  });
});
