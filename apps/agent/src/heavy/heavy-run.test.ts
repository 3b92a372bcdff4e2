// The `install` job's body (heavy-run.ts) in this process: receive, verify the sha256, then unpack
// (docs/adr/0044). The child that runs it is exercised in heavy-work.int.test.ts.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeGzipTar } from '../../test/archives';
import { DEFAULT_ARCHIVE_LIMITS } from './archive-errors';
import { runHeavyJob } from './heavy-run';

let dir: string;
let archive: Buffer;
let sha256: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'heavy-run-'));
  await writeGzipTar(join(dir, 'a.tgz'), [{ path: 'server.js', data: Buffer.from('// 2.0\n') }]);
  archive = await readFile(join(dir, 'a.tgz'));
  sha256 = createHash('sha256').update(archive).digest('hex');
  await mkdir(join(dir, 'dest'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function* chunks(b: Buffer): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.length; i += 100) yield b.subarray(i, i + 100);
}

const job = (expected: string) =>
  ({
    kind: 'install',
    file: join(dir, 'a.part'),
    sha256: expected,
    dest: join(dir, 'dest'),
    limits: DEFAULT_ARCHIVE_LIMITS,
  }) as const;

describe('issue 18: the install job', () => {
  it('unpacks the received bytes when their sha256 is the expected one', async () => {
    const r = await runHeavyJob(job(sha256), chunks(archive));
    expect(r).toEqual({
      sha256,
      bytes: archive.length,
      unpacked: { files: 1, expandedBytes: expect.any(Number) },
    });
    expect(await readFile(join(dir, 'dest', 'server.js'), 'utf8')).toBe('// 2.0\n');
  });

  it('issue 18: a mismatching digest never unpacks and leaves nothing (no file in dest, no download)', async () => {
    const r = await runHeavyJob(job('0'.repeat(64)), chunks(archive));
    expect(r).toEqual({ sha256, bytes: archive.length });
    expect(await readdir(join(dir, 'dest'))).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['a.tgz', 'dest']);
  });
});
