import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyTree, replaceFile, writeFileAtomic } from './fs-util';

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

describe('copyTree (a service configuration directory)', () => {
  it('copies files and directories with their modes, and what symlinks point to', async () => {
    const src = join(dir, 'conf');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'app.ini'), 'a=1\n');
    await chmod(join(src, 'app.ini'), 0o600);
    await writeFile(join(src, 'sub', 'run.sh'), '#!/bin/sh\n');
    await chmod(join(src, 'sub', 'run.sh'), 0o750);
    await chmod(join(src, 'sub'), 0o710);
    await mkdir(join(dir, 'shared'));
    await writeFile(join(dir, 'shared', 'common.ini'), 'c=1\n');
    await symlink(join(dir, 'shared'), join(src, 'linked-dir'));
    await symlink(join(src, 'app.ini'), join(src, 'linked-file'));
    // A file disabled the usual way, and a device whose read would never end: both empty files.
    await symlink('/dev/null', join(src, 'disabled.conf'));
    await symlink('/dev/zero', join(src, 'zero'));
    const dst = join(dir, 'copy');
    await copyTree(src, dst);
    expect((await readdir(dst)).sort()).toEqual([
      'app.ini',
      'disabled.conf',
      'linked-dir',
      'linked-file',
      'sub',
      'zero',
    ]);
    expect(await readFile(join(dst, 'disabled.conf'), 'utf8')).toBe('');
    expect((await stat(join(dst, 'zero'))).size).toBe(0);
    expect(await readFile(join(dst, 'sub', 'run.sh'), 'utf8')).toBe('#!/bin/sh\n');
    expect(await readFile(join(dst, 'linked-dir', 'common.ini'), 'utf8')).toBe('c=1\n');
    expect(await readFile(join(dst, 'linked-file'), 'utf8')).toBe('a=1\n');
    expect((await stat(join(dst, 'app.ini'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dst, 'sub', 'run.sh'))).mode & 0o777).toBe(0o750);
    expect((await stat(join(dst, 'sub'))).mode & 0o777).toBe(0o710);
    // Copies, not links: the source can change without touching the copy.
    await writeFile(join(dir, 'shared', 'common.ini'), 'c=2\n');
    expect(await readFile(join(dst, 'linked-dir', 'common.ini'), 'utf8')).toBe('c=1\n');
  });

  it('refuses a FIFO by name (a read would block), a symlink loop, and a destination that exists', async () => {
    const src = join(dir, 'conf');
    await mkdir(src);
    execFileSync('mkfifo', [join(src, 'pipe')]);
    await expect(copyTree(src, join(dir, 'a'))).rejects.toThrow(/pipe is a FIFO or a socket/);
    await rm(join(src, 'pipe'));
    await symlink(src, join(src, 'loop'));
    await expect(copyTree(src, join(dir, 'b'))).rejects.toThrow(/(symlink loop|ENAMETOOLONG|ELOOP)/);
    await rm(join(src, 'loop'));
    await mkdir(join(dir, 'c'));
    await expect(copyTree(src, join(dir, 'c'))).rejects.toThrow(/EEXIST/);
  });
});
