// Issue 16 item 6 end to end: a real coordinator (real PostgreSQL) and the real `rollgate` CLI.
// A large edition (a real tar.gz of a ~200 MiB payload, generated as a stream, never in memory)
// is streamed to disk while the coordinator's memory is sampled; editions by URL come from a
// plain node:http server; over-limit and interrupted uploads leave nothing behind.
import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request, type ClientRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startFleet, type Fleet } from '@rollgate/demo-fleet';
import { until, waitFor } from '@rollgate/test-kit';

const MiB = 1024 * 1024;
/** Payload of the large edition (ROLLGATE_BIG_EDITION_MIB overrides, e.g. 1024 by hand). */
const BIG = Number(process.env.ROLLGATE_BIG_EDITION_MIB ?? 200) * MiB;
/** The coordinator's ROLLGATE_MAX_EDITION_BYTES in this test: 240 MiB by default. */
const LIMIT = BIG + 40 * MiB;
/** The limit as the coordinator words it. */
const LIMIT_TEXT = LIMIT >= 1024 * MiB ? `${+(LIMIT / (1024 * MiB)).toFixed(2)} GiB` : `${LIMIT / MiB} MiB`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A one-file tar (ustar) of `size` pseudo-random bytes, produced chunk by chunk. */
function tarStream(name: string, size: number): Readable {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\x0000', 257);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const chunk = 1 * MiB;
  let left = size;
  return Readable.from(
    (function* () {
      yield header;
      while (left > 0) {
        const n = Math.min(chunk, left);
        // Incompressible, so the archive is as large as its payload.
        yield randomFillSync(Buffer.alloc(n));
        left -= n;
      }
      yield Buffer.alloc((512 - (size % 512)) % 512);
      yield Buffer.alloc(1024);
    })(),
  );
}

/** Writes a .tar.gz of a `size`-byte payload to `file`; returns its sha256 and size. */
async function makeEdition(file: string, size: number): Promise<{ sha256: string; size: number }> {
  // Level 1: random data does not compress, and level 1 costs the least CPU on a busy machine.
  await pipeline(tarStream('payload.bin', size), createGzip({ level: 1 }), createWriteStream(file));
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return { sha256: hash.digest('hex'), size: (await stat(file)).size };
}

/** Resident memory of a process and all its descendants (the agent's unpack worker), bytes. */
async function treeRss(pid: number): Promise<number> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const kids = children.split(/\s+/).filter(Boolean).map(Number);
  const own = await rss(pid).catch(() => 0);
  return own + (await Promise.all(kids.map(treeRss))).reduce((a, b) => a + b, 0);
}

/** Samples `read` every 50 ms while `work` runs; the highest value read. */
async function peakDuring<T>(read: () => Promise<number>, work: () => Promise<T>): Promise<[T, number]> {
  let peak = await read();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await read().catch(() => 0));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return [await work(), peak];
  } finally {
    sampling = false;
    await sampler;
  }
}

/** Resident memory of a process, bytes (/proc/<pid>/status VmRSS). */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  // A process exiting (a zombie) has no VmRSS line: it holds no memory any more.
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

describe('issue 16 item 6: editions streamed to disk and by URL, on a real coordinator', () => {
  let dir: string;
  let home: string;
  let fleet: Fleet;
  let artifactsDir: string;
  let files: Server;
  let filesUrl = '';
  let small: { file: string; sha256: string; size: number };
  /** The large edition, made by the first test and served by URL to the agent's test. */
  let bigFile: { file: string; sha256: string; size: number } | undefined;

  function rollgate(args: string[], token = fleet.admin.token): Promise<Result> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
        {
          cwd: ROOT,
          timeout: Math.max(300_000, (BIG / MiB) * 600),
          maxBuffer: 16 * MiB,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: home,
            XDG_CONFIG_HOME: join(home, '.config'),
            ROLLGATE_TOKEN: token,
          },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  const editions = async () =>
    (await fleet.api.editions.list.query({ app: 'upload-app' })).map((e) => e.name).sort();
  const partials = async () => (await readdir(artifactsDir)).filter((n) => n.endsWith('.part'));

  /** Until the request can take more, or is closed (one listener each, removed after). */
  const drained = (req: ClientRequest) =>
    new Promise<void>((resolve) => {
      const done = () => {
        req.off('drain', done).off('close', done);
        resolve();
      };
      req.on('drain', done).on('close', done);
    });

  /**
   * A raw PUT to the streamed endpoint; `send` writes the body and ends or aborts it, and may stop
   * once `answered()` (the coordinator answers a refusal while the body is still coming).
   */
  function put(
    query: string,
    headers: Record<string, string>,
    send: (req: ClientRequest, answered: () => boolean) => Promise<void>,
  ): Promise<{ status: number; body: string } | 'aborted'> {
    let answered = false;
    return new Promise((resolve, reject) => {
      const req = request(`${fleet.url}/upload/edition?${query}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${fleet.admin.token}`, ...headers },
      });
      req.on('response', (res) => {
        answered = true;
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', (err) => (req.destroyed ? resolve('aborted') : reject(err)));
      send(req, () => answered).catch(reject);
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-artifacts-'));
    home = await mkdtemp(join(tmpdir(), 'rollgate-artifacts-home-'));
    fleet = await startFleet({
      dir,
      agents: [{ id: 'web-1', role: 'web' }],
      editions: ['1.0'],
      insecure: true,
      coordinatorEnv: { ROLLGATE_MAX_EDITION_BYTES: String(LIMIT) },
    });
    artifactsDir = join(dir, 'coordinator', 'artifacts');
    const file = join(dir, 'small.tar.gz');
    small = { file, ...(await makeEdition(file, 256 * 1024)) };
    // A plain file server, as an operator's artifact repository would be.
    files = createServer((req, res) => {
      if (req.url === '/upload-app-1.0.tar.gz') {
        res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': small.size });
        createReadStream(small.file).pipe(res);
      } else if (req.url === '/big.tar.gz' && bigFile) {
        res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': bigFile.size });
        createReadStream(bigFile.file).pipe(res);
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/upload-app-1.0.tar.gz' }).end();
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  }, 180_000);

  afterAll(async () => {
    files?.close();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  });

  it(
    'issue 16 item 6: a large edition streams to disk through `edition add` with the coordinator memory bounded',
    async () => {
      const file = join(dir, 'big.tar.gz');
      const big = await makeEdition(file, BIG);
      bigFile = { file, ...big };
      const pid = fleet.coordinator!.pid!;
      const before = await rss(pid);
      const [r, peak] = await peakDuring(
        () => rss(pid),
        () => rollgate(['edition', 'add', '--app', 'upload-app', '--name', 'big', '--file', file]),
      );
      const mb = (n: number) => Math.round(n / MiB);
      console.log(
        `streamed upload of ${mb(big.size)} MiB: coordinator VmRSS ${mb(before)} MiB before, peak ${mb(peak)} MiB (+${mb(peak - before)} MiB)`,
      );
      expect(r.stderr).not.toMatch(/rollgate:/);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`sha256 ${big.sha256}`);
      expect(r.stdout).toContain(`size   ${big.size} bytes`);
      // Not a TTY: plain progress lines on stderr, ending at 100 %.
      expect(r.stderr).toMatch(/Uploading upload-app big: 100% /);
      expect((await stat(join(artifactsDir, big.sha256))).size).toBe(big.size);
      expect(await editions()).toContain('big');
      expect(await partials()).toEqual([]);
      // Held in memory, the archive alone would add its whole size.
      expect(peak - before).toBeLessThan(Math.min(128 * MiB, big.size / 2));
    },
    Math.max(300_000, (BIG / MiB) * 600),
  );

  it('issue 16 item 6: `edition add --from-url` with the right sha256 is fetched, verified and recorded; redirects are followed', async () => {
    const r = await rollgate([
      'edition',
      'add',
      '--app',
      'upload-app',
      '--name',
      '1.0',
      '--from-url',
      `${filesUrl}/moved`,
      '--sha256',
      small.sha256,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`sha256 ${small.sha256}`);
    expect(await editions()).toContain('1.0');
    expect((await stat(join(artifactsDir, small.sha256))).size).toBe(small.size);
  }, 60_000);

  it(
    'issue 16 item 6: the large edition, fetched by URL, installs on an agent with its memory bounded',
    async () => {
      expect(bigFile).toBeDefined();
      const big = bigFile!;
      const added = await rollgate([
        'edition',
        'add',
        '--app',
        'demo-app',
        '--name',
        'big',
        '--from-url',
        `${filesUrl}/big.tar.gz`,
        '--sha256',
        big.sha256,
      ]);
      expect(added.stderr).toBe('');
      expect(added.code).toBe(0);
      const agent = fleet.agents.find((a) => a.id === 'web-1')!;
      const pid = agent.proc!.pid!;
      const before = await treeRss(pid);
      const [r, peak] = await peakDuring(
        () => treeRss(pid),
        () =>
          rollgate([
            'edition',
            'install',
            '--app',
            'demo-app',
            '--cluster',
            'demo',
            '--edition',
            'big',
            '--wait',
          ]),
      );
      const mb = (n: number) => Math.round(n / MiB);
      console.log(
        `install of a ${mb(big.size)} MiB edition: agent and its workers VmRSS ${mb(before)} MiB before, peak ${mb(peak)} MiB (+${mb(peak - before)} MiB)`,
      );
      expect(r.stderr).not.toMatch(/rollgate:/);
      expect(r.code).toBe(0);
      expect(peak - before).toBeLessThan(Math.min(256 * MiB, big.size * 2));
    },
    Math.max(300_000, (BIG / MiB) * 600),
  );

  it('issue 16 item 6: a URL whose content does not match the sha256 is refused and nothing is recorded', async () => {
    const wrong = createHash('sha256').update('something else').digest('hex');
    const r = await rollgate([
      'edition',
      'add',
      '--app',
      'upload-app',
      '--name',
      'wrong',
      '--from-url',
      `${filesUrl}/upload-app-1.0.tar.gz`,
      '--sha256',
      wrong,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`sha256 is ${small.sha256}, not the declared ${wrong}. Nothing was stored`);
    expect(await editions()).not.toContain('wrong');
    expect(await partials()).toEqual([]);
    const creds = await rollgate([
      'edition',
      'add',
      '--app',
      'upload-app',
      '--name',
      'creds',
      '--from-url',
      `http://user:secret@127.0.0.1:1/x.tar.gz`,
      '--sha256',
      wrong,
    ]);
    expect(creds.code).toBe(1);
    expect(creds.stderr).toMatch(/carries a user name or password/);
    expect(await editions()).not.toContain('creds');
  }, 60_000);

  it('issue 16 item 6: an upload over ROLLGATE_MAX_EDITION_BYTES is refused with a clear message and leaves no .part file', async () => {
    // Declared too large: refused before a byte is stored.
    const declared = await put(
      'app=upload-app&name=huge',
      { 'content-length': String(LIMIT + 1) },
      async (req) => {
        req.write(Buffer.from([0x1f, 0x8b]));
      },
    );
    expect(declared).not.toBe('aborted');
    const d = declared as { status: number; body: string };
    expect(d.status).toBe(413);
    expect(d.body).toContain(`accepts editions up to ${LIMIT_TEXT} (ROLLGATE_MAX_EDITION_BYTES)`);
    // Undeclared (chunked): cut off at the first byte beyond the limit.
    const chunked = await put('app=upload-app&name=huge2', {}, async (req, answered) => {
      req.write(Buffer.from([0x1f, 0x8b]));
      const block = Buffer.alloc(MiB, 7);
      for (let sent = 0; sent <= LIMIT + MiB && !req.destroyed && !answered(); sent += MiB) {
        if (!req.write(block)) await drained(req);
      }
      req.end();
    });
    expect(chunked).toMatchObject({
      status: 413,
      body: expect.stringContaining(`larger than ${LIMIT_TEXT}, the most this coordinator accepts`),
    });
    await until('no .part file left', async () => (await partials()).length === 0, 30_000);
    expect(await editions()).not.toContain('huge');
    expect(await editions()).not.toContain('huge2');
  }, 120_000);

  it('issue 16 item 6: an upload the client aborts mid-body leaves no edition and no .part file', async () => {
    const result = await put(
      'app=upload-app&name=cut',
      { 'content-length': String(64 * MiB) },
      async (req) => {
        req.write(Buffer.from([0x1f, 0x8b]));
        const block = Buffer.alloc(MiB, 1);
        for (let i = 0; i < 8; i++) {
          if (!req.write(block)) await drained(req);
        }
        // The coordinator is writing this upload to a temporary file now.
        await waitFor('the upload to reach a .part file', async () => (await partials()).length > 0, 30_000);
        req.destroy();
      },
    );
    expect(result).toBe('aborted');
    await until('the .part file to be removed', async () => (await partials()).length === 0, 30_000);
    expect(await editions()).not.toContain('cut');
  }, 60_000);

  it('issue 16 item 6: the streamed endpoint takes the same authentication as the API', async () => {
    const anonymous = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${fleet.url}/upload/edition?app=upload-app&name=anon`, { method: 'PUT' });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(Buffer.from([0x1f, 0x8b, 0, 0]));
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatch(/Sign in first/);
    const viewer = await fleet.createUser('upload-viewer', 'viewer', 'viewer-password-123');
    const r = await rollgate(
      ['edition', 'add', '--app', 'upload-app', '--name', 'v', '--file', small.file],
      viewer.token,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs the operator role/);
    expect(await editions()).not.toContain('v');
    expect(await editions()).not.toContain('anon');
  }, 60_000);
});
