// The body of the agent's heavy-work child (heavy-worker.ts): what each job does. Loads `tar` and
// zlib pipelines (archive.ts): never imported by the resident agent.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { extractArchiveSafely, listArchive } from './archive';
import type { HeavyJob, HeavyResults } from './heavy-jobs';

async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return { sha256: hash.digest('hex'), bytes: (await stat(file)).size };
}

/** A pass-through that hashes and counts what flows. */
function hashing() {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, done: () => ({ sha256: hash.digest('hex'), bytes }) };
}

/**
 * Writes `input` to `file` (0600 from the first byte: a download is nobody else's business).
 * `flush`: fsync'd before it resolves. An install's download is not: the same job reads it back
 * and deletes it, and what a crash leaves of it is never read (the next install writes it anew).
 */
async function receive(file: string, input: AsyncIterable<Uint8Array>, flush = true) {
  const h = hashing();
  await pipeline(input, h.stream, createWriteStream(file, { mode: 0o600, flush }));
  return h.done();
}

/** Runs one job in this process: the child's body (and, in unit tests, a stand-in for the child). */
export async function runHeavyJob(
  job: HeavyJob,
  input: AsyncIterable<Uint8Array> = process.stdin,
): Promise<HeavyResults[HeavyJob['kind']]> {
  switch (job.kind) {
    case 'unpack':
      return extractArchiveSafely(job.archive, job.dest, { limits: job.limits });
    case 'sha256':
      return sha256File(job.file);
    case 'receive':
      return receive(job.file, input);
    case 'install': {
      const got = await receive(job.file, input, false);
      if (got.sha256 !== job.sha256) {
        await rm(job.file, { force: true });
        return got;
      }
      return { ...got, unpacked: await extractArchiveSafely(job.file, job.dest, { limits: job.limits }) };
    }
    case 'countEntries':
      return { entries: (await listArchive(job.archive, job.limits)).entries.length };
    case 'tarCreate': {
      const tar = await import('tar');
      let entries = 0;
      const h = hashing();
      const packer = tar.create(
        {
          gzip: true,
          cwd: job.cwd,
          strict: true,
          filter: () => {
            entries++;
            return true;
          },
        },
        job.paths,
      );
      await pipeline(packer, h.stream, createWriteStream(job.file, { mode: 0o600, flush: true }));
      return { entries, ...h.done() };
    }
  }
}
