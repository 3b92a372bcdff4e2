import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fetchToStore } from './artifact-fetch';
import { cleanPartials, DEFAULT_MAX_EDITION_BYTES, writeStreamed } from './artifact-upload';

export interface ArtifactStoreOptions {
  /** Directory holding one file per artifact, named by its sha256. */
  dir: string;
  /** Most bytes of one streamed or fetched archive; default 4 GiB (ROLLGATE_MAX_EDITION_BYTES). */
  maxBytes?: number;
  /** How long fetching an archive by URL may take, ms; default 30 minutes. */
  fetchTimeoutMs?: number;
}

/** Content-addressed edition archives on the coordinator's disk. */
export function createArtifactStore(opts: ArtifactStoreOptions) {
  const pathOf = (sha256: string) => {
    if (!/^[a-f0-9]{64}$/.test(sha256)) throw new Error('not a sha256');
    return join(opts.dir, sha256);
  };
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_EDITION_BYTES;
  // Debris of uploads a crash or kill cut off goes at start (a live upload's file is never old).
  void cleanPartials(opts.dir).catch(() => undefined);
  return {
    maxBytes,
    /** Removes temporary files an interrupted upload or a crash left (docs/adr/0036). */
    cleanPartials: (olderThanMs?: number) => cleanPartials(opts.dir, olderThanMs),
    /** Streams an archive to disk, verifying the declared digest and size (artifact-upload.ts). */
    putStream: (source: Readable, expect: { sha256?: string | undefined; size?: number | undefined } = {}) =>
      writeStreamed(opts.dir, source, { ...expect, maxBytes }),
    /** Fetches an archive by URL, verifying its sha256 (artifact-fetch.ts). */
    putFromUrl: (url: string, sha256: string) =>
      fetchToStore(opts.dir, url, sha256, {
        maxBytes,
        ...(opts.fetchTimeoutMs ? { timeoutMs: opts.fetchTimeoutMs } : {}),
      }),
    async put(content: Buffer): Promise<{ sha256: string; size: number }> {
      await mkdir(opts.dir, { recursive: true });
      const sha256 = createHash('sha256').update(content).digest('hex');
      const target = pathOf(sha256);
      const exists = await stat(target).then(
        () => true,
        () => false,
      );
      if (!exists) {
        // Write then rename, so a crash never leaves a half-written archive under its final name.
        const tmp = join(opts.dir, `.tmp-${randomUUID()}`);
        try {
          await writeFile(tmp, content, { mode: 0o640 });
          await rename(tmp, target);
        } catch (err) {
          await rm(tmp, { force: true });
          throw err;
        }
      }
      return { sha256, size: content.length };
    },
    async size(sha256: string): Promise<number | null> {
      try {
        return (await stat(pathOf(sha256))).size;
      } catch {
        return null;
      }
    },
    open(sha256: string, chunkSize = 64 * 1024) {
      return createReadStream(pathOf(sha256), { highWaterMark: chunkSize });
    },
  };
}

export type ArtifactStore = ReturnType<typeof createArtifactStore>;
