import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editionUrlForLogs } from '@rollgate/domain';
import { checkFetchUrl } from './artifact-fetch';
import { ArtifactRefused, cleanPartials, writeStreamed } from './artifact-upload';

const gz = (n: number) => Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(n, 5)]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A source that yields `chunks` and then fails, as a request whose client went away. */
function cutOff(chunks: Buffer[]): Readable {
  return Readable.from(
    (async function* () {
      for (const c of chunks) yield c;
      throw new Error('aborted');
    })(),
  );
}

describe('writeStreamed (issue 16 item 6)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-store-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('stores chunks under their sha256 and leaves no temporary file', async () => {
    const body = gz(300_000);
    const parts = [body.subarray(0, 1), body.subarray(1, 70_000), body.subarray(70_000)];
    const got = await writeStreamed(dir, Readable.from(parts), { maxBytes: 1 << 20, sha256: sha(body) });
    expect(got).toEqual({ sha256: sha(body), size: body.length });
    expect(await readdir(dir)).toEqual([sha(body)]);
    expect((await readFile(join(dir, sha(body)))).equals(body)).toBe(true);
  });

  it('refuses a wrong sha256, a wrong size, too many bytes, not gzip and empty, keeping nothing', async () => {
    const body = gz(1000);
    const cases: [() => Promise<unknown>, number, RegExp][] = [
      [
        () => writeStreamed(dir, Readable.from([body]), { maxBytes: 1 << 20, sha256: 'a'.repeat(64) }),
        422,
        /not the declared/,
      ],
      [() => writeStreamed(dir, Readable.from([body]), { maxBytes: 1 << 20, size: 5 }), 422, /were declared/],
      [() => writeStreamed(dir, Readable.from([body]), { maxBytes: 500 }), 413, /larger than/],
      [
        () => writeStreamed(dir, Readable.from([body]), { maxBytes: 500, size: 1002 }),
        413,
        /accepts editions up to/,
      ],
      [
        () => writeStreamed(dir, Readable.from([Buffer.from('plain text')]), { maxBytes: 1 << 20 }),
        400,
        /not gzip/,
      ],
      [() => writeStreamed(dir, Readable.from([]), { maxBytes: 1 << 20 }), 400, /empty/],
    ];
    for (const [p, status, message] of cases) {
      const err = await p().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ArtifactRefused);
      expect((err as ArtifactRefused).status).toBe(status);
      expect((err as Error).message).toMatch(message);
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('removes the .part file when the source is cut off mid-body', async () => {
    await expect(
      writeStreamed(dir, cutOff([gz(100_000), Buffer.alloc(100_000)]), { maxBytes: 1 << 20 }),
    ).rejects.toThrow(/aborted/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('cleanPartials', () => {
  it('removes only temporary files untouched for the grace period', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollgate-store-'));
    const old = join(dir, `upload.${'0'.repeat(16)}.part`);
    const fresh = join(dir, `${'b'.repeat(64)}.${'1'.repeat(16)}.part`);
    const kept = join(dir, 'c'.repeat(64));
    for (const f of [old, fresh, kept]) await writeFile(f, 'x');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(old, hourAgo, hourAgo);
    await utimes(kept, hourAgo, hourAgo);
    expect(await cleanPartials(dir)).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([fresh, kept].map((f) => f.slice(dir.length + 1)).sort());
    await rm(dir, { recursive: true, force: true });
  });
});

describe('checkFetchUrl', () => {
  it('takes http(s) only and no credentials, saying what to do', () => {
    expect(checkFetchUrl('https://repo.example.com/a.tgz?sig=1').hostname).toBe('repo.example.com');
    expect(() => checkFetchUrl('file:///etc/passwd')).toThrow(/http or https only, not file/);
    expect(() => checkFetchUrl('ftp://x/a.tgz')).toThrow(/not ftp/);
    expect(() => checkFetchUrl('https://u:p@x/a.tgz')).toThrow(/carries a user name or password/);
    expect(() => checkFetchUrl('not a url')).toThrow(/is not a URL/);
  });

  it('redacts the query string for logs and the audit', () => {
    expect(editionUrlForLogs('https://repo.example.com/a.tgz?X-Amz-Signature=secret')).toBe(
      'https://repo.example.com/a.tgz',
    );
  });
});
