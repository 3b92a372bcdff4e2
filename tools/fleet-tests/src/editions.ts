// The archives the fleet tests distribute: editions of the Python service (server.py + EDITION),
// a decompression bomb and an oversize edition. The bomb is built without ever holding or
// compressing its expanded bytes: a gzip file may be a series of members, so one member of 1 MiB
// of zeros (~1 KiB compressed) is repeated after a member holding the tar header — a valid
// `.tar.gz` of one file, the same shape as the one in issue 13 (20 MiB expanding to 20 GiB).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createGzip, gzipSync } from 'node:zlib';
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
 * A valid gzip tar of one file of `expandedMiB` MiB of zeros (server.py among the entries' names
 * would not matter: the archive must be refused before anything is activated).
 * @returns the archive's path; its size is about expandedMiB KiB.
 */
export async function buildBomb(path: string, expandedMiB: number): Promise<string> {
  const zeros = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const out = createWriteStream(path);
  const write = async (b: Buffer) => {
    if (!out.write(b)) await once(out, 'drain');
  };
  await write(gzipSync(tarHeader('payload.bin', expandedMiB * MiB)));
  for (let i = 0; i < expandedMiB; i++) await write(zeros);
  // The end of the tar: two zero blocks.
  await write(gzipSync(Buffer.alloc(1024)));
  out.end();
  await once(out, 'finish');
  return path;
}

/**
 * An ordinary edition that is simply too large: `expandedMiB` MiB of hexadecimal text (random, so
 * it compresses about 2:1, like real application code and assets, nothing like a bomb), beside
 * the service files.
 */
export async function buildOversize(path: string, expandedMiB: number): Promise<string> {
  const gzip = createGzip({ level: 1 });
  const out = createWriteStream(path);
  const done = once(out, 'finish');
  gzip.pipe(out);
  const write = async (b: Buffer) => {
    if (!gzip.write(b)) await once(gzip, 'drain');
  };
  const size = expandedMiB * MiB;
  await write(tarHeader('assets.txt', size));
  for (let left = size; left > 0; left -= MiB) {
    await write(Buffer.from(randomBytes(Math.min(MiB, left) / 2).toString('hex')));
  }
  await write(Buffer.alloc(1024));
  gzip.end();
  await done;
  return path;
}
