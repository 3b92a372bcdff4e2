// Large and hostile gzip tars for tests, written in a few MB without ever holding (or writing) what
// they expand to: a gzip file may be several gzip members one after another, so one compressed
// block of data is computed once and repeated. Every archive here is a valid gzip tar.
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

const MiB = 1024 * 1024;

/** One 512-byte tar header (node-tar writes base-256 sizes past 8 GiB). */
export function tarHeader(path: string, size: number, type: 'File' | 'Directory' = 'File'): Buffer {
  const block = Buffer.alloc(512);
  new Header({
    path,
    type,
    size,
    mode: type === 'Directory' ? 0o755 : 0o644,
    mtime: new Date(0),
    uid: 0,
    gid: 0,
  }).encode(block, 0);
  return block;
}

export interface GzipTarEntry {
  path: string;
  /** Bytes of data: a multiple of 1 MiB (made of one repeated block), or a small Buffer. */
  size?: number;
  data?: Buffer;
  type?: 'File' | 'Directory';
}

/**
 * Writes a gzip tar whose big files are `size` bytes of a 1 MiB block repeated. The block is
 * `randomKiB` of random bytes then zeros, so it compresses about 1024/randomKiB times (default 16
 * KiB: ~60×, under the agent's default ratio limit). Returns the file's size.
 */
export async function writeGzipTar(
  file: string,
  entries: GzipTarEntry[],
  opts: { randomKiB?: number; trailingZeroMiB?: number } = {},
): Promise<number> {
  const block = Buffer.alloc(MiB);
  randomBytes((opts.randomKiB ?? 16) * 1024).copy(block);
  const blockGz = gzipSync(block, { level: 1 });
  const zeroGz = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const fh = await open(file, 'w');
  try {
    for (const e of entries) {
      const type = e.type ?? 'File';
      const size = e.data?.length ?? e.size ?? 0;
      await fh.write(gzipSync(tarHeader(e.path, type === 'File' ? size : 0, type)));
      if (type !== 'File') continue;
      if (e.data !== undefined) {
        const padded = Buffer.alloc(Math.ceil(size / 512) * 512);
        e.data.copy(padded);
        await fh.write(gzipSync(padded));
      } else {
        if (size % MiB !== 0) throw new Error('writeGzipTar: size must be a multiple of 1 MiB');
        for (let i = 0; i < size / MiB; i++) await fh.write(blockGz);
      }
    }
    await fh.write(gzipSync(Buffer.alloc(1024)));
    // Data after the end-of-archive blocks: tar readers skip it, but it is still inflated.
    for (let i = 0; i < (opts.trailingZeroMiB ?? 0); i++) await fh.write(zeroGz);
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

/**
 * A decompression bomb: one file of `declaredBytes` zeros (default 20 GiB) in ~1/1000 of that,
 * as gzip of zeros compresses. Only the first `writtenMiB` (default: all) are actually present
 * when a test needs a bomb quicker to write than to inflate.
 */
export async function writeBomb(file: string, declaredBytes = 20 * 1024 * MiB): Promise<number> {
  const zeroGz = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const fh = await open(file, 'w');
  try {
    await fh.write(gzipSync(tarHeader('zeros.bin', declaredBytes)));
    const whole = Math.floor(declaredBytes / MiB);
    // Writes in batches: 20 GiB is 20k members of ~1 KiB.
    const batch = Buffer.concat(Array.from({ length: 64 }, () => zeroGz));
    let i = 0;
    for (; i + 64 <= whole; i += 64) await fh.write(batch);
    for (; i < whole; i++) await fh.write(zeroGz);
    const rest = declaredBytes - whole * MiB;
    const pad = Math.ceil(rest / 512) * 512;
    await fh.write(gzipSync(Buffer.alloc(pad + 1024)));
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}
