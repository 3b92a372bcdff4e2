// The archives the fleet tests distribute: editions of the Python service (server.py + EDITION),
// decompression bombs and an oversize edition. The large ones are built without ever holding or
// compressing their expanded bytes: a gzip file may be a series of members, so one member of 1 MiB
// (~1 KiB compressed for zeros) is repeated after a member holding the tar header — a valid
// `.tar.gz` of one file, the same shape as the one in issue 13 (20 MB expanding to 20 GiB).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';

export interface FleetEdition {
  name: string;
  /** Absolute path of the .tgz. */
  path: string;
}

/** The service's source, packaged into every edition. */
export const SERVICE_SOURCE = fileURLToPath(new URL('./service/server.py', import.meta.url));

const MiB = 1024 * 1024;
const FIXED_MTIME = new Date('2020-01-01T00:00:00Z');

/** Writes `shop-<name>.tgz` (server.py and its EDITION marker) for each name into outDir. */
export async function buildServiceEditions(outDir: string, names: string[]): Promise<FleetEdition[]> {
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  const editions: FleetEdition[] = [];
  for (const name of names) {
    const staging = await mkdtemp(join(tmpdir(), 'fleet-edition-'));
    try {
      await copyFile(SERVICE_SOURCE, join(staging, 'server.py'));
      await writeFile(join(staging, 'EDITION'), `${name}\n`);
      const path = join(out, `shop-${name}.tgz`);
      await tar.create({ gzip: true, portable: true, mtime: FIXED_MTIME, cwd: staging, file: path }, [
        'EDITION',
        'server.py',
      ]);
      editions.push({ name, path });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return editions;
}

/** A 512-byte ustar header of a regular file. */
function tarHeader(path: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  new tar.Header({ path, mode: 0o644, size, type: 'File', mtime: FIXED_MTIME, uid: 0, gid: 0 }).encode(block);
  return block;
}

/**
 * A valid gzip tar of one file of `expandedMiB` MiB: `block` (one MiB, gzipped once) repeated.
 * Nothing of the expanded size is ever held or compressed here.
 */
async function repeatedBlockArchive(path: string, entry: string, expandedMiB: number, block: Buffer) {
  const member = gzipSync(block, { level: 9 });
  const out = createWriteStream(path);
  const write = async (b: Buffer) => {
    if (!out.write(b)) await once(out, 'drain');
  };
  await write(gzipSync(tarHeader(entry, expandedMiB * MiB)));
  for (let i = 0; i < expandedMiB; i++) await write(member);
  // The end of the tar: two zero blocks.
  await write(gzipSync(Buffer.alloc(1024)));
  out.end();
  await once(out, 'finish');
  return path;
}

/**
 * A decompression bomb: `expandedMiB` MiB of zeros, about 1 KiB per MiB (20480 MiB: the 20 MB
 * archive expanding to 20 GiB of issue 13).
 */
export function buildBomb(path: string, expandedMiB: number): Promise<string> {
  return repeatedBlockArchive(path, 'payload.bin', expandedMiB, Buffer.alloc(MiB));
}

/**
 * An edition that is simply too large, not a bomb: `expandedMiB` MiB that compress about 60:1
 * (16 KiB of random bytes in every MiB), well under the expansion-ratio limit (200).
 */
export function buildOversize(path: string, expandedMiB: number): Promise<string> {
  const block = Buffer.alloc(MiB);
  randomBytes(16 * 1024).copy(block);
  return repeatedBlockArchive(path, 'assets.bin', expandedMiB, block);
}
