import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeBomb, writeGzipTar } from '../../test/archives';
import { ArchiveLimitError, ArchiveRefusedError, extractArchiveSafely, validateEntries } from './archive';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from './archive-errors';
import { createEditionStore } from './edition-store';

type Entry = {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  linkpath?: string;
  data?: string;
  mode?: number;
};

/** Builds a gzip tar byte by byte, so entries node-tar would never create can be tested. */
function craft(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'File';
    const data = Buffer.from(type === 'File' ? (e.data ?? '') : '');
    const header = new Header({
      path: e.path,
      type,
      size: data.length,
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      linkpath: e.linkpath,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (data.length > 0) {
      const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
      data.copy(padded);
      blocks.push(padded);
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

let root: string; // root/parent/dest: anything escaping dest would show up in parent or root
let parent: string;
let dest: string;
let archive: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'archive-'));
  parent = join(root, 'parent');
  dest = join(parent, 'dest');
  await mkdir(dest, { recursive: true });
  archive = join(root, 'a.tgz');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function refused(entries: Entry[], message: RegExp): Promise<void> {
  await writeFile(archive, craft(entries));
  const err = await extractArchiveSafely(archive, dest).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveRefusedError);
  expect((err as Error).message).toMatch(message);
  // Nothing outside dest: the parent holds only dest, the root only parent and the archive.
  expect((await readdir(parent)).sort()).toEqual(['dest']);
  expect((await readdir(root)).sort()).toEqual(['a.tgz', 'parent']);
  // And refusal happens before extraction: dest is untouched too.
  expect(await readdir(dest)).toEqual([]);
}

describe('archive safety: refused, nothing written outside', () => {
  it('refuses a ../ path', async () => {
    await refused(
      [
        { path: 'ok.txt', data: 'fine' },
        { path: '../evil.txt', data: 'x' },
      ],
      /"\.\.\/evil\.txt" has a '\.\.' segment/,
    );
  });

  it('refuses a .. hidden in the middle of a path', async () => {
    await refused([{ path: 'a/../../evil.txt', data: 'x' }], /'\.\.' segment/);
  });

  it('refuses an absolute path', async () => {
    const target = join(parent, 'abs.txt');
    await refused([{ path: target, data: 'x' }], /is an absolute path/);
  });

  it('refuses a symlink pointing outside (relative and absolute)', async () => {
    await refused(
      [{ path: 'up', type: 'SymbolicLink', linkpath: '../../' }],
      /resolves outside the edition directory/,
    );
    await refused(
      [{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }],
      /symlink to the absolute path "\/etc"/,
    );
    await refused([{ path: 'sub/up', type: 'SymbolicLink', linkpath: '../../x' }], /resolves outside/);
  });

  it('refuses a symlink chain that only looks inside (d -> ., e -> d/..)', async () => {
    await refused(
      [
        { path: 'd', type: 'SymbolicLink', linkpath: '.' },
        { path: 'e', type: 'SymbolicLink', linkpath: 'd/..' },
      ],
      /passes through another symlink/,
    );
  });

  it('refuses writing through a symlink in the archive', async () => {
    await refused(
      [
        { path: 'sub', type: 'Directory' },
        { path: 'link', type: 'SymbolicLink', linkpath: 'sub' },
        { path: 'link/x.txt', data: 'x' },
      ],
      /lies below the symlink "link"/,
    );
  });

  it('refuses a hardlink pointing outside', async () => {
    await refused([{ path: 'hl', type: 'Link', linkpath: '../outside.txt' }], /'\.\.' segment/);
    await refused([{ path: 'hl', type: 'Link', linkpath: '/etc/passwd' }], /absolute path/);
  });

  it('refuses a hardlink to something that is not a file of the archive', async () => {
    await refused(
      [{ path: 'hl', type: 'Link', linkpath: 'missing.txt' }],
      /not a regular file of this archive/,
    );
  });

  it('refuses device files and FIFOs', async () => {
    await refused(
      [{ path: 'null', type: 'CharacterDevice' }],
      /is a CharacterDevice; only files, directories and links/,
    );
    await refused([{ path: 'pipe', type: 'FIFO' }], /is a FIFO/);
  });

  it('refuses a path that is both a file and a symlink', async () => {
    await refused(
      [
        { path: 'x', data: 'a' },
        { path: 'x', type: 'SymbolicLink', linkpath: 'y' },
      ],
      /appears twice with different types/,
    );
  });

  it('refuses something that is not a tar archive', async () => {
    await writeFile(archive, 'this is not a tarball');
    await expect(extractArchiveSafely(archive, dest)).rejects.toBeInstanceOf(ArchiveRefusedError);
    expect(await readdir(parent)).toEqual(['dest']);
  });
});

describe('archive safety: legitimate archives unpack', () => {
  it('keeps inside symlinks (even with ..) and inside hardlinks, drops setuid', async () => {
    await writeFile(
      archive,
      craft([
        { path: './', type: 'Directory' },
        { path: 'lib/', type: 'Directory' },
        { path: 'lib/tool.js', data: 'console.log(1)\n', mode: 0o4755 },
        { path: 'bin/', type: 'Directory' },
        { path: 'bin/tool', type: 'SymbolicLink', linkpath: '../lib/tool.js' },
        { path: 'lib/same.js', type: 'Link', linkpath: 'lib/tool.js' },
        { path: 'dangling', type: 'SymbolicLink', linkpath: 'not-there-yet' },
      ]),
    );
    const { files } = await extractArchiveSafely(archive, dest);
    expect(files).toBe(2);
    expect(await readlink(join(dest, 'bin/tool'))).toBe('../lib/tool.js');
    expect(await readFile(join(dest, 'bin/tool'), 'utf8')).toBe('console.log(1)\n');
    expect((await lstat(join(dest, 'lib/same.js'))).nlink).toBe(2);
    expect((await lstat(join(dest, 'lib/tool.js'))).mode & 0o7000).toBe(0);
  });

  it('validateEntries normalizes ./ prefixes', () => {
    expect(validateEntries([{ path: './a/./b.txt', type: 'File' }])).toEqual([
      { path: 'a/b.txt', type: 'File' },
    ]);
  });
});

describe('edition store install', () => {
  it('leaves no temp dir and no edition when the archive is refused', async () => {
    const dataDir = join(root, 'data');
    const store = createEditionStore({ dataDir, unpack: (a, d) => extractArchiveSafely(a, d) });
    await writeFile(
      archive,
      craft([
        { path: 'server.mjs', data: 'x' },
        { path: '../../escape.txt', data: 'x' },
      ]),
    );
    await expect(store.installArchive('demo-app', '2.0', archive, 'a'.repeat(64), 10)).rejects.toBeInstanceOf(
      ArchiveRefusedError,
    );
    expect(await readdir(join(dataDir, 'editions', 'demo-app'))).toEqual([]);
    expect(await readdir(dataDir)).toEqual(['editions']);
    expect(await store.listInstalled('demo-app')).toEqual([]);
  });

  it('installs side by side, activates atomically and never overwrites', async () => {
    const dataDir = join(root, 'data');
    const store = createEditionStore({ dataDir, unpack: (a, d) => extractArchiveSafely(a, d) });
    await writeFile(archive, craft([{ path: 'edition.json', data: '{"name":"1.0"}' }]));
    await store.installArchive('demo-app', '1.0', archive, 'b'.repeat(64), 1);
    await store.installArchive('demo-app', '2.0', archive, 'c'.repeat(64), 1);
    await expect(store.installArchive('demo-app', '2.0', archive, 'c'.repeat(64), 1)).rejects.toThrow(
      /never overwritten/,
    );
    expect(await store.listInstalled('demo-app')).toEqual(['1.0', '2.0']);
    expect(await store.activate('demo-app', '1.0')).toEqual({ previous: undefined });
    expect(await store.activate('demo-app', '2.0')).toEqual({ previous: '1.0' });
    expect(await store.activeEdition('demo-app')).toBe('2.0');
    await expect(store.activate('demo-app', '3.0')).rejects.toThrow(/not installed; install it first/);
    expect(() => store.editionDir('demo-app', '../x')).toThrow(/not allowed/);
    expect(() => store.editionDir('demo-app', 'current')).toThrow(/not allowed/);
    // Only editions and the current link: no temp files left behind.
    expect((await readdir(join(dataDir, 'editions', 'demo-app'))).sort()).toEqual(['1.0', '2.0', 'current']);
  });

  it('configure copies configDir and writes rollgate.env.json', async () => {
    const dataDir = join(root, 'data');
    const conf = join(root, 'conf');
    await mkdir(join(conf, 'sub'), { recursive: true });
    await writeFile(join(conf, 'app.ini'), 'a=1\n');
    await writeFile(join(conf, 'sub', 'x.txt'), 'x\n');
    const store = createEditionStore({ dataDir, unpack: (a, d) => extractArchiveSafely(a, d) });
    await writeFile(archive, craft([{ path: 'edition.json', data: '{}' }]));
    await store.installArchive('demo-app', '1.0', archive, 'd'.repeat(64), 1);
    await store.configure('demo-app', '1.0', conf, { PORT: '1', MODE: 'x' });
    const dir = store.editionDir('demo-app', '1.0');
    expect(await readFile(join(dir, 'config', 'app.ini'), 'utf8')).toBe('a=1\n');
    expect(await readFile(join(dir, 'config', 'sub', 'x.txt'), 'utf8')).toBe('x\n');
    expect(JSON.parse(await readFile(join(dir, 'rollgate.env.json'), 'utf8'))).toEqual({
      PORT: '1',
      MODE: 'x',
    });
  });

  it('a configDir that cannot be copied fails configure clearly and leaves the edition as it was', async () => {
    const dataDir = join(root, 'data');
    const conf = join(root, 'conf');
    await mkdir(join(conf, 'sub'), { recursive: true });
    for (const name of ['a.ini', 'b.ini', 'c.ini']) await writeFile(join(conf, name), `${name}\n`);
    execFileSync('mkfifo', [join(conf, 'sub', 'pipe')]);
    const store = createEditionStore({ dataDir, unpack: (a, d) => extractArchiveSafely(a, d) });
    await writeFile(archive, craft([{ path: 'edition.json', data: '{}' }]));
    await store.installArchive('demo-app', '1.0', archive, 'd'.repeat(64), 1);
    const dir = store.editionDir('demo-app', '1.0');
    const before = (await readdir(dir)).sort();
    await expect(store.configure('demo-app', '1.0', conf, {})).rejects.toThrow(
      /could not copy configDir .*pipe is a FIFO or a socket/,
    );
    expect((await readdir(dir)).sort()).toEqual(before);
  });
});

describe('issue 13 item 2: limits checked while streaming', { timeout: 60_000 }, () => {
  const limits = (over: Partial<ArchiveLimits>): ArchiveLimits => ({ ...DEFAULT_ARCHIVE_LIMITS, ...over });
  const MiB = 1024 * 1024;

  async function refusal(opts: Parameters<typeof extractArchiveSafely>[2]): Promise<ArchiveLimitError> {
    const err = await extractArchiveSafely(archive, dest, opts).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ArchiveLimitError);
    // Nothing was written: the limits are checked before the extraction pass.
    expect(await readdir(dest)).toEqual([]);
    return err as ArchiveLimitError;
  }

  it('refuses a 20 GiB bomb (a 20 MB gzip of zeros) by its size, naming the limit and the figure', async () => {
    const compressed = await writeBomb(archive);
    expect(compressed).toBeLessThan(30 * MiB);
    const before = process.memoryUsage().rss;
    const err = await refusal({});
    expect(err.limit).toBe('maxExpandedBytes');
    expect(err.message).toBe(
      'the archive expands past 20 GiB (limit 8 GiB); raise limits.maxExpandedBytes in the agent config if this edition is genuine',
    );
    // Streaming: nothing near the expanded size was ever held (the old listing needed > 4 GiB).
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * MiB);
  });

  it('refuses by the bytes actually inflated, not only what the headers declare', async () => {
    // A small valid tar followed by 100 MiB of zeros after its end: the headers declare 2 bytes.
    await writeGzipTar(archive, [{ path: 'a.txt', data: Buffer.from('hi') }], { trailingZeroMiB: 100 });
    const err = await refusal({ limits: limits({ maxExpandedBytes: 64 * MiB }) });
    expect(err.limit).toBe('maxExpandedBytes');
    expect(err.message).toMatch(
      /^the archive expands past 64(\.\d)? MiB \(limit 64 MiB\); raise limits\.maxExpandedBytes/,
    );
  });

  it('refuses an expansion ratio past the limit, naming both figures', async () => {
    // 128 MiB of a block with 1 KiB of random data: ~500× smaller compressed.
    await writeGzipTar(archive, [{ path: 'big.bin', size: 128 * MiB }], { randomKiB: 1 });
    const err = await refusal({ limits: limits({ maxExpansionRatio: 50 }) });
    expect(err.limit).toBe('maxExpansionRatio');
    expect(err.message).toMatch(
      /^the archive expands past 128 MiB, \d+ times its compressed size of [\d.]+ KiB \(limit 50 times\); raise limits\.maxExpansionRatio in the agent config/,
    );
  });

  it('refuses too many entries', async () => {
    await writeGzipTar(
      archive,
      Array.from({ length: 101 }, (_, i) => ({ path: `f${i}.txt`, data: Buffer.from('x') })),
    );
    const err = await refusal({ limits: limits({ maxEntries: 100 }) });
    expect(err.limit).toBe('maxEntries');
    expect(err.message).toBe(
      'the archive has more than 100 entries (limit 100); raise limits.maxEntries in the agent config if this edition is genuine',
    );
  });

  it('refuses a path longer than the limit', async () => {
    const long = `${'d'.repeat(60)}/${'f'.repeat(30)}.txt`;
    await writeGzipTar(archive, [{ path: long, data: Buffer.from('x') }]);
    const err = await refusal({ limits: limits({ maxPathLength: 64 }) });
    expect(err.limit).toBe('maxPathLength');
    expect(err.message).toMatch(/has a path of 95 characters \(limit 64\); raise limits\.maxPathLength/);
  });

  it('refuses when the data directory lacks room for the edition plus the margin', async () => {
    await writeGzipTar(archive, [{ path: 'big.bin', size: 100 * MiB }]);
    const statfs = () => Promise.resolve({ bavail: (300 * MiB) / 4096, bsize: 4096 });
    const err = await refusal({ statfs });
    expect(err.limit).toBe('freeSpaceMarginBytes');
    expect(err.message).toBe(
      `unpacking needs 612 MiB free on ${dest} (100 MiB for the edition + 512 MiB margin) but only 300 MiB is free; free some space there (or lower limits.freeSpaceMarginBytes in the agent config)`,
    );
    // With the margin lowered it fits, and unpacks.
    const ok = await extractArchiveSafely(archive, dest, {
      statfs,
      limits: limits({ freeSpaceMarginBytes: 100 * MiB }),
    });
    expect(ok).toMatchObject({ files: 1, expandedBytes: 100 * MiB });
  });

  it('passes an edition within every limit (a 200 MiB file among small ones)', async () => {
    await writeGzipTar(archive, [
      { path: 'lib/', type: 'Directory' },
      { path: 'lib/app.war', size: 200 * MiB },
      ...Array.from({ length: 50 }, (_, i) => ({ path: `lib/f${i}.class`, data: Buffer.from(`c${i}`) })),
    ]);
    const ok = await extractArchiveSafely(archive, dest);
    expect(ok.files).toBe(51);
    expect((await lstat(join(dest, 'lib', 'app.war'))).size).toBe(200 * MiB);
  });

  it('leaves no temp dir and no edition behind when a limit refuses the archive', async () => {
    const dataDir = join(root, 'data');
    const store = createEditionStore({
      dataDir,
      unpack: (a, d) => extractArchiveSafely(a, d, { limits: limits({ maxEntries: 2 }) }),
    });
    await writeGzipTar(archive, [
      { path: 'a.txt', data: Buffer.from('a') },
      { path: 'b.txt', data: Buffer.from('b') },
      { path: 'c.txt', data: Buffer.from('c') },
    ]);
    await expect(store.installArchive('demo-app', '2.0', archive, 'a'.repeat(64), 10)).rejects.toThrow(
      /more than 2 entries \(limit 2\)/,
    );
    expect(await readdir(join(dataDir, 'editions', 'demo-app'))).toEqual([]);
    expect(await store.listInstalled('demo-app')).toEqual([]);
  });
});
