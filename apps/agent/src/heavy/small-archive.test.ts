import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveLimitError, ArchiveRefusedError, extractArchiveSafely } from './archive';
import { DEFAULT_ARCHIVE_LIMITS } from './archive-errors';
import {
  INLINE_MAX_EXPANDED_BYTES,
  readSmallTar,
  takeSmall,
  unpackSmallArchive,
  type SmallEntry,
} from './small-archive';

type Entry = { path: string; type?: string; data?: string; mode?: number; linkpath?: string; mtime?: Date };

function header(e: Entry, size: number): Buffer {
  const block = Buffer.alloc(512);
  new Header({
    path: e.path,
    type: (e.type ?? 'File') as 'File',
    size,
    mode: e.mode ?? (e.type === 'Directory' ? 0o755 : 0o644),
    linkpath: e.linkpath,
    mtime: e.mtime ?? new Date(1_700_000_000_000),
    uid: 0,
    gid: 0,
  }).encode(block, 0);
  return block;
}

/** An uncompressed tar, header by header; `tail` goes after the end-of-archive blocks. */
function tarOf(entries: Entry[], tail: Buffer = Buffer.alloc(0)): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    blocks.push(header(e, data.length));
    if (data.length > 0) {
      const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
      data.copy(padded);
      blocks.push(padded);
    }
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024), tail]);
}

const gz = (entries: Entry[], tail?: Buffer) => gzipSync(tarOf(entries, tail));

/** Every path under dir with its kind, permission bits and, for files, content and mtime. */
async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(dir, p));
    if (st.isDirectory()) {
      out.push(`${p}/ ${(st.mode & 0o7777).toString(8)}`, ...(await tree(dir, p)));
    } else {
      const body = st.isFile() ? await readFile(join(dir, p), 'utf8') : '?';
      out.push(`${p} ${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs / 1000)} ${body}`);
    }
  }
  return out;
}

let root: string;
let dest: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'small-archive-'));
  dest = join(root, 'parent', 'dest');
  await mkdir(dest, { recursive: true });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readSmallTar: the plain subset, or undefined (the full unpacker decides)', () => {
  const paths = (es: SmallEntry[] | undefined) => es?.map((e) => `${e.type}:${e.path}:${e.data.toString()}`);

  it('reads files and directories with their modes and mtimes', () => {
    const es = readSmallTar(
      tarOf([
        { path: 'app/', type: 'Directory', mode: 0o750 },
        { path: 'app/server.js', data: 'x'.repeat(700), mode: 0o755 },
        { path: 'README', data: '' },
      ]),
    );
    expect(paths(es)).toEqual(['Directory:app/:', `File:app/server.js:${'x'.repeat(700)}`, 'File:README:']);
    expect(es?.map((e) => e.mode)).toEqual([0o750, 0o755, 0o644]);
    expect(es?.[1]?.mtimeS).toBe(1_700_000_000);
  });

  it.each([
    ['a symlink', [{ path: 'l', type: 'SymbolicLink', linkpath: 'x' }]],
    [
      'a hardlink',
      [
        { path: 'f', data: 'a' },
        { path: 'h', type: 'Link', linkpath: 'f' },
      ],
    ],
    ['a FIFO', [{ path: 'p', type: 'FIFO' }]],
    // node-tar writes a pax header ('x') or a ustar prefix for a name past 100 characters.
    ['a long name', [{ path: `${'d'.repeat(120)}/f`, data: 'a' }]],
    ['a directory with data', [{ path: 'd/', type: 'Directory', data: 'oops' }]],
    // node-tar reads backslashes as separators: `a\..\..\x` is refused there, not a file name.
    ['a backslash', [{ path: 'a\\..\\..\\escape.txt', data: 'evil' }]],
    ['a control character', [{ path: 'a\u001bb', data: 'x' }]],
  ])('defers %s', (_what, entries) => {
    expect(readSmallTar(tarOf(entries as Entry[]))).toBeUndefined();
  });

  it('defers a bad checksum, a truncated stream, no end block, bytes after the end, an empty archive', () => {
    const good = tarOf([{ path: 'f', data: 'hello' }]);
    const badSum = Buffer.from(good);
    badSum[0] = 'g'.charCodeAt(0);
    expect(readSmallTar(badSum)).toBeUndefined();
    expect(readSmallTar(good.subarray(0, 700))).toBeUndefined();
    expect(readSmallTar(good.subarray(0, 1024))).toBeUndefined();
    expect(readSmallTar(tarOf([{ path: 'f', data: 'hello' }], Buffer.from('trailing')))).toBeUndefined();
    expect(readSmallTar(Buffer.alloc(1024))).toBeUndefined();
    expect(readSmallTar(good)).toHaveLength(1);
  });

  it('defers a size in base-256 and more entries than allowed', () => {
    const t = tarOf([{ path: 'f', data: 'a' }]);
    const b256 = Buffer.from(t);
    b256.fill(0, 124, 136);
    b256[124] = 0x80;
    b256[135] = 1;
    let sum = 0;
    b256.fill(0x20, 148, 156);
    for (let i = 0; i < 512; i++) sum += b256[i]!;
    b256.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(readSmallTar(b256)).toBeUndefined();
    expect(readSmallTar(tarOf([{ path: 'a' }, { path: 'b' }]), 1)).toBeUndefined();
  });
});

describe('unpackSmallArchive', () => {
  it('unpacks what node-tar unpacks, the same files, modes and mtimes', async () => {
    const entries: Entry[] = [
      { path: './', type: 'Directory' },
      { path: 'app/', type: 'Directory', mode: 0o750 },
      { path: 'app/server.js', data: 'console.log(1)\n', mode: 0o755 },
      { path: 'app/lib/util.js', data: 'module.exports = 2;\n' },
      { path: 'bin/run', data: '#!/bin/sh\n', mode: 0o4755 }, // setuid is never handed out
      { path: 'empty', data: '', mtime: new Date(0) },
    ];
    const bytes = gz(entries);
    const got = await unpackSmallArchive(bytes, dest, DEFAULT_ARCHIVE_LIMITS);
    expect(got).toEqual({ files: 4, expandedBytes: 15 + 20 + 10 });
    const full = join(root, 'full');
    await mkdir(full);
    const archive = join(root, 'a.tgz');
    await writeFile(archive, bytes);
    expect(await extractArchiveSafely(archive, full)).toEqual(got);
    expect(await tree(dest)).toEqual(await tree(full));
    expect(await tree(dest)).toContain('bin/run 755 1700000000 #!/bin/sh\n');
  });

  it('refuses what the rules refuse, with the full unpacker’s words, and writes nothing', async () => {
    for (const path of ['../escape', '/etc/cron.d/x', 'a/../../b']) {
      const bytes = gz([
        { path: 'ok', data: 'ok' },
        { path, data: 'evil' },
      ]);
      const err = await unpackSmallArchive(bytes, dest, DEFAULT_ARCHIVE_LIMITS).catch((e: Error) => e);
      expect(err).toBeInstanceOf(ArchiveRefusedError);
      const archive = join(root, 'evil.tgz');
      await writeFile(archive, bytes);
      const full = await extractArchiveSafely(archive, join(root, 'parent')).catch((e: Error) => e);
      expect((err as Error).message).toBe((full as Error).message);
      expect(await readdir(dest)).toEqual([]);
    }
  });

  it('refuses a disk without room like the full unpacker', async () => {
    const statfs = async () => ({ bavail: 10, bsize: 4096 });
    const err = await unpackSmallArchive(gz([{ path: 'f', data: 'x' }]), dest, DEFAULT_ARCHIVE_LIMITS, {
      statfs,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ArchiveLimitError);
    expect((err as ArchiveLimitError).limit).toBe('freeSpaceMarginBytes');
    expect(await readdir(dest)).toEqual([]);
  });

  it('defers, writing nothing, what it does not take: links, duplicates, a file as a directory, past its bounds or the agent limits', async () => {
    const cases: [string, Buffer, typeof DEFAULT_ARCHIVE_LIMITS?][] = [
      ['a symlink', gz([{ path: 'l', type: 'SymbolicLink', linkpath: 'f' }])],
      [
        'a duplicate',
        gz([
          { path: 'f', data: 'a' },
          { path: './f', data: 'b' },
        ]),
      ],
      [
        'a file as a directory',
        gz([
          { path: 'f', data: 'a' },
          { path: 'f/g', data: 'b' },
        ]),
      ],
      ['not gzip', tarOf([{ path: 'f', data: 'a' }])],
      ['a broken gzip', gz([{ path: 'f', data: 'a' }]).subarray(0, 30)],
      ['past the inflate bound', gzipSync(Buffer.alloc(INLINE_MAX_EXPANDED_BYTES + 4096))],
      ['past maxEntries', gz([{ path: 'a' }, { path: 'b' }]), { ...DEFAULT_ARCHIVE_LIMITS, maxEntries: 1 }],
      ['past maxPathLength', gz([{ path: 'abcdef' }]), { ...DEFAULT_ARCHIVE_LIMITS, maxPathLength: 3 }],
      [
        'past maxExpandedBytes',
        gz([{ path: 'f', data: 'x'.repeat(100) }]),
        { ...DEFAULT_ARCHIVE_LIMITS, maxExpandedBytes: 10 },
      ],
    ];
    for (const [what, bytes, limits] of cases) {
      expect(await unpackSmallArchive(bytes, dest, limits ?? DEFAULT_ARCHIVE_LIMITS), what).toBeUndefined();
      expect(await readdir(dest), what).toEqual([]);
    }
  });

  it('stops between files when cancelled', async () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await expect(
      unpackSmallArchive(gz([{ path: 'f', data: 'a' }]), dest, DEFAULT_ARCHIVE_LIMITS, { signal: ac.signal }),
    ).rejects.toThrow('cancelled');
    expect(await readdir(dest)).toEqual([]);
  });
});

describe('takeSmall', () => {
  async function* chunks(...parts: string[]) {
    for (const p of parts) yield Buffer.from(p);
  }
  const all = async (it: AsyncIterable<Uint8Array>) => {
    const out: Uint8Array[] = [];
    for await (const c of it) out.push(c);
    return Buffer.concat(out).toString();
  };

  it('has the whole input when it ends within the bound, and replays it', async () => {
    const { whole, replay } = await takeSmall(chunks('ab', 'cd'), 4);
    expect(whole?.toString()).toBe('abcd');
    expect(await all(replay)).toBe('abcd');
  });

  it('past the bound: no whole input, and the replay yields every byte once, in order', async () => {
    const { whole, replay } = await takeSmall(chunks('ab', 'cd', 'e', 'fg'), 4);
    expect(whole).toBeUndefined();
    expect(await all(replay)).toBe('abcdefg');
  });

  it('passes on the input’s error', async () => {
    async function* failing() {
      yield Buffer.from('a');
      throw new Error('the coordinator labelled the artifact x');
    }
    await expect(takeSmall(failing(), 10)).rejects.toThrow('labelled');
  });
});
