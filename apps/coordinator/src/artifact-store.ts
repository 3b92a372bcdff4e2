import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface ArtifactStoreOptions {
  /** Directory holding one file per artifact, named by its sha256. */
  dir: string;
}

/** Content-addressed edition archives on the coordinator's disk. */
export function createArtifactStore(opts: ArtifactStoreOptions) {
  const pathOf = (sha256: string) => {
    if (!/^[a-f0-9]{64}$/.test(sha256)) throw new Error('not a sha256');
    return join(opts.dir, sha256);
  };
  return {
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
