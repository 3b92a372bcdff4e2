/**
 * The console's streamed edition upload (issue 16 item 6) in a real browser: the BUILT console
 * (`next start`) in front of a real coordinator (real PostgreSQL, no agents), real Chromium. An
 * archive larger than the old 64 MiB ceiling goes from the page through the console's route to the
 * coordinator's `PUT /upload/edition` with a progress bar, and is recorded with the file's own
 * sha256 and size; the coordinator's refusals show on the page; a signed-out request writes nothing.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
import { formatBytes } from '@rollgate/domain';
import {
  assertConsoleBuilt,
  launchChromium,
  signInThroughForm,
  startNextConsole,
  stopNextConsole,
} from './next-console';

const SHOTS = join(ROOT, 'test-results/screenshots');
const MiB = 1024 * 1024;
/** Above the base64 call's 64 MiB and the console proxy's old 90 MiB cap on the encoded body. */
const PAYLOAD = 70 * MiB;

/** Peak resident memory (VmHWM) of a process and all its descendants, bytes. */
async function treePeakRss(pid: number): Promise<number> {
  let total = 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  total += Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const children = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const child of children.split(/\s+/).filter(Boolean)) total += await treePeakRss(Number(child));
  }
  return total;
}

/** A real .tar.gz of `size` random bytes (written in 1 MiB pieces, never held whole): its sha256 and size. */
async function makeArchive(
  dir: string,
  size: number,
): Promise<{ file: string; sha256: string; size: number }> {
  const payload = join(dir, 'payload.bin');
  const fh = await open(payload, 'w');
  for (let left = size; left > 0; left -= MiB)
    await fh.write(randomFillSync(Buffer.alloc(Math.min(MiB, left))));
  await fh.close();
  const file = join(dir, 'edition.tar.gz');
  // gzip -1: random data does not compress, and level 1 costs the least CPU on a busy machine.
  await promisify(execFile)('sh', ['-c', 'tar -cf - -C "$1" payload.bin | gzip -1 > "$2"', 'sh', dir, file]);
  await rm(payload);
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return { file, sha256: hash.digest('hex'), size: (await stat(file)).size };
}

describe(
  'the console streams an edition upload to the coordinator (issue 16 item 6)',
  { timeout: 240_000 },
  () => {
    let dir: string;
    let artifacts: string;
    let fleet: Fleet;
    let next: ChildProcess | null = null;
    let browser: Browser;
    let page: Page;
    let base: string;
    let archive: { file: string; sha256: string; size: number };

    const stored = async () => (await readdir(artifacts).catch(() => [] as string[])).sort();

    beforeAll(async () => {
      assertConsoleBuilt();
      mkdirSync(SHOTS, { recursive: true });
      dir = await mkdtemp(join(tmpdir(), 'rollgate-console-upload-'));
      artifacts = join(dir, 'artifacts');
      archive = await makeArchive(dir, PAYLOAD);
      fleet = await startFleet({
        dir,
        agents: [],
        editions: [],
        coordinatorEnv: { ROLLGATE_ARTIFACTS_DIR: artifacts },
      });
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      next = await startNextConsole({ coordinatorUrl: fleet.url, port, timeoutMs: 60_000 });
      browser = await launchChromium();
      page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
      page.setDefaultTimeout(60_000);
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      await stopNextConsole(next);
      await fleet?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('refuses a signed-out upload with 401 and writes nothing to the artifacts directory', async () => {
      const before = await stored();
      const body = randomFillSync(Buffer.alloc(MiB));
      const anonymous = await fetch(`${base}/api/upload/edition?app=shop&name=1.0&size=${body.length}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/gzip' },
        body,
      });
      expect(anonymous.status).toBe(401);
      expect(((await anonymous.json()) as { error: { message: string } }).error.message).toContain(
        'Sign in to upload an edition',
      );
      // A session cookie the coordinator does not know: streamed to it, refused there (401), and the
      // cookie is dropped.
      const unknown = await fetch(`${base}/api/upload/edition?app=shop&name=1.0&size=${body.length}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/gzip', cookie: `rollgate_session=${'x'.repeat(43)}` },
        body,
      });
      const refusal = (await unknown.json()) as { error: { message: string; data: { code: string } } };
      expect({ status: unknown.status, refusal }).toMatchObject({
        status: 401,
        refusal: { error: { data: { code: 'UNAUTHORIZED' } } },
      });
      expect(unknown.headers.get('set-cookie')).toMatch(/^rollgate_session=;.*Max-Age=0/);
      expect(await stored()).toEqual(before);
      expect(before.filter((f) => f.endsWith('.part'))).toEqual([]);
    });

    it('streams to disk while the browser still sends, and a browser that goes away leaves nothing', async () => {
      const before = await stored();
      const size = 32 * MiB;
      const upload = httpRequest(`${base}/api/upload/edition?app=shop&name=cut-off&size=${size}`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/gzip',
          'content-length': String(size),
          cookie: `rollgate_session=${fleet.admin.token}`,
        },
      });
      upload.on('error', () => undefined);
      // A quarter of the archive, then the sender stalls: the coordinator is already writing it.
      upload.write(Buffer.concat([Buffer.from([0x1f, 0x8b]), randomFillSync(Buffer.alloc(8 * MiB - 2))]));
      try {
        // The .part file is opened before its first write lands, so wait for bytes, not for the name.
        await waitFor(
          'the coordinator to write the upload to a .part file while it is still being sent',
          async () => {
            const part = (await stored()).find((f) => f.endsWith('.part'));
            return part !== undefined && (await stat(join(artifacts, part))).size > 0;
          },
          30_000,
        );
      } finally {
        upload.destroy();
      }
      await waitFor(
        'the .part file of the abandoned upload to be removed',
        async () => JSON.stringify(await stored()) === JSON.stringify(before),
        30_000,
      );
      expect(await fleet.api.editions.list.query({ app: 'shop' })).toEqual([]);
    });

    it('uploads a 70 MiB archive with a progress bar; the edition is recorded with its sha256 and size', async () => {
      await signInThroughForm(page, base, fleet.admin);
      await page.goto(`${base}/editions`);
      await page.locator('#upload-h').waitFor();

      const peakBefore = await treePeakRss(next!.pid!);
      await page.fill('input[name="app"]', 'shop');
      await page.fill('input[name="edition"]', '1.0');
      await page.fill('input[name="description"]', 'larger than 64 MiB');
      await page.setInputFiles('input[name="file"]', archive.file);
      await page.click('form button[type="submit"]');

      const bar = page.getByRole('progressbar', { name: 'Upload progress' });
      await bar.waitFor();
      expect(await bar.getAttribute('max')).toBe(String(archive.size));
      await page.locator('[data-upload-progress="100"]').waitFor();
      const done = page.locator('.ok-text[role="status"]');
      await done.waitFor();
      expect(await done.innerText()).toContain(`sha256 ${archive.sha256.slice(0, 12)}`);
      expect(await page.locator('.progress-text').innerText()).toBe(
        `100 % · ${formatBytes(archive.size)} of ${formatBytes(archive.size)}`,
      );
      const peakAfter = await treePeakRss(next!.pid!);

      // Listed (the page polls) with the file's own digest and size.
      const row = page.locator('[data-app="shop"] tr[data-edition="1.0"]');
      await row.waitFor();
      await row.locator(`td[title="${archive.sha256}"]`).waitFor();
      expect(await row.innerText()).toContain(formatBytes(archive.size));
      await page.locator('#upload-h').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, 'editions-upload-streamed.png'), fullPage: true });

      const [edition] = await fleet.api.editions.list.query({ app: 'shop' });
      expect(edition).toMatchObject({ name: '1.0', sha256: archive.sha256, size: archive.size });
      expect(await stored()).toEqual([archive.sha256]);
      console.log(
        `console upload: ${formatBytes(archive.size)}; console (next start) peak RSS ${Math.round(
          peakBefore / MiB,
        )} MiB before, ${Math.round(peakAfter / MiB)} MiB after`,
      );
      // The console passes the archive on as it arrives: buffering it would add its whole size (at
      // least), while streaming it costs the garbage of its chunks (30–40 MiB here, for 70 MiB as for 200).
      expect(peakAfter - peakBefore).toBeLessThan(archive.size * 0.75);
    });

    it("shows the coordinator's refusals: a name already used, and a file that is not a .tar.gz", async () => {
      await page.fill('input[name="app"]', 'shop');
      await page.fill('input[name="edition"]', '1.0');
      await page.setInputFiles('input[name="file"]', archive.file);
      await page.click('form button[type="submit"]');
      const issues = page.locator('.issues[role="alert"]', { hasText: 'The upload was refused' });
      await issues.locator('[data-issue="CONFLICT"]').waitFor();
      expect(await issues.innerText()).toContain('Edition "1.0" of shop already exists');

      // Refused by the streamed upload itself, after the body: the coordinator's message, unchanged.
      const notGzip = join(dir, 'not-an-archive.tar.gz');
      await writeFile(notGzip, 'plain text, not gzip\n'.repeat(1000));
      await page.fill('input[name="edition"]', '1.1');
      await page.setInputFiles('input[name="file"]', notGzip);
      await page.click('form button[type="submit"]');
      await issues.locator('[data-issue="BAD_REQUEST"]').waitFor();
      expect(await issues.innerText()).toContain('The archive is not gzip-compressed');
      await page.screenshot({ path: join(SHOTS, 'editions-upload-refused.png'), fullPage: true });

      expect((await fleet.api.editions.list.query({ app: 'shop' })).map((e) => e.name)).toEqual(['1.0']);
      expect(await stored()).toEqual([archive.sha256]);
    });
  },
);
