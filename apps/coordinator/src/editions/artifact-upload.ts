import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Default ceiling of one edition archive, bytes (ROLLGATE_MAX_EDITION_BYTES): 4 GiB. */
export const DEFAULT_MAX_EDITION_BYTES = 4 * 1024 * 1024 * 1024;

/** Why a streamed archive was refused; `status` is the HTTP status the upload endpoint answers. */
export class ArtifactRefused extends Error {
  constructor(
    readonly status: 400 | 413 | 422 | 502,
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactRefused';
  }
}

export interface StreamExpectations {
  /** Most bytes accepted; the stream is cut at the first byte beyond. */
  maxBytes: number;
  /** Declared sha256 (lower-case hex): a different digest is refused and nothing is kept. */
  sha256?: string | undefined;
  /** Declared size in bytes: a different size is refused and nothing is kept. */
  size?: number | undefined;
}

const gib = (n: number) =>
  n >= 1024 ** 3
    ? `${+(n / 1024 ** 3).toFixed(2)} GiB`
    : n >= 1024 ** 2
      ? `${+(n / 1024 ** 2).toFixed(2)} MiB`
      : `${n} bytes`;

/**
 * Temporary names are `<declared sha256 or "upload">.<random>.part`: two uploads of the same
 * archive never share one, and every one of them is recognisable as debris after a crash.
 */
const PART = /\.[a-f0-9]{16}\.part$/;

/**
 * Removes temporary files a crash or a kill left behind (at start). Only those untouched for
 * `olderThanMs` (default 10 minutes): coordinators may share the artifacts directory, and another
 * one's upload in progress writes to its file all the time. Returns how many were removed.
 */
export async function cleanPartials(dir: string, olderThanMs = 10 * 60_000): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const before = Date.now() - olderThanMs;
  let removed = 0;
  for (const n of names.filter((n) => PART.test(n) || n.startsWith('.tmp-'))) {
    const info = await stat(join(dir, n)).catch(() => null);
    if (info && info.mtimeMs <= before) {
      await rm(join(dir, n), { force: true });
      removed++;
    }
  }
  return removed;
}

/**
 * Streams `source` into `<dir>/<sha256>` without holding it in memory: written to a `.part` file
 * while hashed and counted, checked (gzip, limit, declared digest and size), then renamed into
 * place. On any failure, including the source being cut off, the `.part` file is removed and no
 * archive appears.
 */
export async function writeStreamed(
  dir: string,
  source: Readable | AsyncIterable<Uint8Array>,
  expect: StreamExpectations,
): Promise<{ sha256: string; size: number }> {
  if (expect.size !== undefined && expect.size > expect.maxBytes) {
    throw new ArtifactRefused(
      413,
      `The archive is ${gib(expect.size)}; this coordinator accepts editions up to ${gib(expect.maxBytes)} (ROLLGATE_MAX_EDITION_BYTES). Nothing was stored.`,
    );
  }
  await mkdir(dir, { recursive: true });
  const part = join(dir, `${expect.sha256 ?? 'upload'}.${randomBytes(8).toString('hex')}.part`);
  const hash = createHash('sha256');
  let size = 0;
  let head: Buffer = Buffer.alloc(0);
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > expect.maxBytes) {
        done(
          new ArtifactRefused(
            413,
            `The archive is larger than ${gib(expect.maxBytes)}, the most this coordinator accepts (ROLLGATE_MAX_EDITION_BYTES). Nothing was stored.`,
          ),
        );
        return;
      }
      if (head.length < 2) head = Buffer.concat([head, chunk.subarray(0, 2)]);
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(part, { mode: 0o640 }));
    if (size === 0) throw new ArtifactRefused(400, 'The archive is empty. Nothing was stored.');
    if (!(head[0] === 0x1f && head[1] === 0x8b)) {
      throw new ArtifactRefused(400, 'The archive is not gzip-compressed; upload a .tar.gz (tgz) file.');
    }
    const sha256 = hash.digest('hex');
    if (expect.size !== undefined && expect.size !== size) {
      throw new ArtifactRefused(
        422,
        `${size} bytes arrived but ${expect.size} were declared: the transfer was incomplete or the file changed. Nothing was stored; upload it again.`,
      );
    }
    if (expect.sha256 !== undefined && expect.sha256 !== sha256) {
      throw new ArtifactRefused(
        422,
        `The archive's sha256 is ${sha256}, not the declared ${expect.sha256}. Nothing was stored; check the file or the digest.`,
      );
    }
    const target = join(dir, sha256);
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    // Content-addressed: an archive already stored is the same bytes, so the copy is dropped.
    if (exists) await rm(part, { force: true });
    else await rename(part, target);
    return { sha256, size };
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
}
