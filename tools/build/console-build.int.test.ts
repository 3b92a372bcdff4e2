// The console's build output (issue 16 item 1, docs/adr/0033): `next build` with output
// 'standalone', copied with its static files into a temp dist/ away from the checkout, then run
// by plain `node` in front of the bundled coordinator: --version, pages, static assets and the API
// proxy all answer, and stopping both leaves no process. A separate file from build.int.test.ts
// because a full `next build` takes minutes on a busy two-core machine (its duration is printed).
// Within `npm test` the checks tier has already made this very build (`build.mjs --only web`) and
// names it in ROLLGATE_TEST_CONSOLE_BUILD: the test runs a copy of it rather than building the
// console a second time (docs/adr/0049); alone (`npm test -- --only int`) it builds its own.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FatalWait, freePort, ROOT, waitFor } from '@rollgate/demo-fleet';
import { buildAll, CONSOLE_LAUNCHER } from './build.mjs';
import {
  copyPrebuiltConsole,
  processesMentioning,
  runNode,
  startBundledCoordinator,
  type BundledCoordinator,
} from './testing';

describe('npm run build: the console (issue 16 item 1)', () => {
  let dir: string;
  let dist: string;
  /** What --version must print: the release and the commit the console was built at. */
  let expectedVersion: string;
  let coordinator: BundledCoordinator | undefined;
  let web: ChildProcess | undefined;
  let webOut = '';
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-console-build-'));
    dist = join(dir, 'dist');
    const t0 = performance.now();
    const built = await buildAll({ outDir: dist, targets: ['coordinator'] });
    const prebuilt = copyPrebuiltConsole(dist);
    if (prebuilt) {
      // The checks tier built it minutes ago: others may have committed since, so the commit it
      // names is checked to be a commit of this checkout rather than compared with HEAD's.
      const launcher = readFileSync(join(dist, 'web', CONSOLE_LAUNCHER), 'utf8');
      const commit = /^\/\/ rollgate-console \S+ \(commit ([0-9a-f]{12})\)/m.exec(launcher)?.[1];
      expect(commit, 'the launcher names the commit it was built at').toBeDefined();
      execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: ROOT });
      expectedVersion = `${built.version} (commit ${commit})\n`;
    } else {
      const web = await buildAll({ outDir: dist, targets: ['web'] });
      expectedVersion = `${web.version} (commit ${web.commit})\n`;
    }
    console.log(
      `console-build: coordinator + console ${prebuilt ? `(the checks tier's, from ${process.env.ROLLGATE_TEST_CONSOLE_BUILD}) ` : ''}built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const work = join(dir, 'run');
    mkdirSync(work);
    coordinator = await startBundledCoordinator(join(dist, 'coordinator'), work);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    web = spawn(process.execPath, [join(dist, 'web/rollgate-console.cjs')], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: work,
        PORT: String(port),
        HOSTNAME: '127.0.0.1',
        COORDINATOR_URL: coordinator.url,
        NEXT_TELEMETRY_DISABLED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    web.stdout!.on('data', (d: Buffer) => (webOut += d.toString()));
    web.stderr!.on('data', (d: Buffer) => (webOut += d.toString()));
    await waitFor(
      `the standalone console at ${base}`,
      async () => {
        if (web!.exitCode !== null) throw new FatalWait(`the console exited ${web!.exitCode}:\n${webOut}`);
        return (await fetch(`${base}/login`)).ok;
      },
      60_000,
    );
  }, 900_000);

  afterAll(async () => {
    if (web && web.exitCode === null) {
      const exited = new Promise((r) => web!.once('exit', r));
      web.kill('SIGTERM');
      await exited;
    }
    await coordinator?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('issue 16 item 1: the console answers --version with the release version and the commit', async () => {
    const r = await runNode(join(dist, 'web/rollgate-console.cjs'), ['--version'], dir);
    expect(r).toEqual({ code: 0, stdout: expectedVersion, stderr: '' });
  });

  it('issue 16 item 1: the standalone console serves its pages and its static files (copied beside it)', async () => {
    const page = await fetch(`${base}/login`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...html.matchAll(/\/_next\/static\/[^"']+\.(?:css|js)/g)].map((m) => m[0]);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of new Set(assets)) {
      expect({ asset, status: (await fetch(`${base}${asset}`)).status }).toEqual({ asset, status: 200 });
    }
  });

  it('issue 16 item 1: the console reaches the bundled coordinator through its API proxy', async () => {
    const res = await fetch(`${base}/api/trpc/health`);
    expect(res.status).toBe(200);
  });

  it('issue 16 item 1: stopping the console and the coordinator leaves no process', async () => {
    const exited = new Promise<number | null>((r) => web!.once('exit', (code) => r(code)));
    web!.kill('SIGTERM');
    await exited;
    expect(await coordinator!.stop()).toBe(0);
    await waitFor('no process of this test left', () => processesMentioning(dir).length === 0, 30_000);
  });
});
