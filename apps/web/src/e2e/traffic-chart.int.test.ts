/**
 * The live run page's traffic chart in a real browser (issue 16 item 7): two web servers (not the
 * demo's four) behind a real HAProxy configured by `lb haproxy-config` and `lb configure`, a steady
 * keep-alive load through its frontend, and the BUILT console. The administrator rolls edition 2.0
 * out and watches the run's live page: the chart draws a line for each edition that served
 * requests during the run, and the failed line's total is 0.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNextConsole } from './next-console';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoadGenerator, type LoadGenerator } from '@rollgate/lb/testing';
import {
  behindHaproxy,
  freePort,
  ROOT,
  runSucceeded,
  startFleet,
  type Fleet,
  type FleetHaproxy,
} from '@rollgate/demo-fleet';

const WEB = join(ROOT, 'apps/web');
const SHOTS = join(ROOT, 'test-results/screenshots');
const CHROMIUM = '/usr/lib/chromium/chromium';

describe('the traffic chart on the live run page (issue 16 item 7)', { timeout: 180_000 }, () => {
  let dir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let load: LoadGenerator | null = null;
  let next: ChildProcess | null = null;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(join(WEB, '.next/BUILD_ID'))) {
      throw new Error(
        'The console is not built: run `cd apps/web && npx next build` first (`npm test` builds it before the integration tier).',
      );
    }
    mkdirSync(SHOTS, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'rollgate-traffic-chart-'));
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      agents: [
        { id: 'web-1', role: 'web' },
        { id: 'web-2', role: 'web' },
      ],
    });
    lb = await behindHaproxy(fleet);
    load = createLoadGenerator({ url: lb.front, ratePerSec: 10 });
    load.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    next = await startNextConsole({ coordinatorUrl: fleet.url, port, timeoutMs: 30_000 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    if (next && next.exitCode === null) {
      const exited = new Promise((r) => next!.once('exit', r));
      next.kill('SIGTERM');
      await exited;
    }
    await load?.stop();
    await lb?.stop();
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('draws the requests served per edition during a rollout, and failed: 0', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${base}/login`);
    await page.fill('input[name="username"]', fleet.admin.username);
    await page.fill('input[name="password"]', fleet.admin.password);
    await page.click('form.login-form button[type="submit"]');
    await page.locator('[data-connection="connected"]').waitFor();

    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    await page.goto(`${base}/runs/${encodeURIComponent(view.run.id)}`);
    const chart = page.locator('[data-testid="traffic-chart"]');
    await chart.locator('svg polyline').first().waitFor();
    await runSucceeded(fleet, view.run.id);
    // Served by both editions in the chart's window: the page has been open since the run started.
    await chart.locator('svg polyline[data-edition="2.0"]').waitFor();
    await chart.locator('svg polyline[data-edition="1.0"]').waitFor();
    await page.locator('#traffic-h').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'live-run-traffic.png'), fullPage: true });
    const legend = await chart.locator('.chart-legend').innerText();
    expect(legend).toMatch(/edition 1\.0: [1-9]\d* served/);
    expect(legend).toMatch(/edition 2\.0: [1-9]\d* served/);
    expect(await chart.locator('[data-failed]').getAttribute('data-failed')).toBe('0');
    const report = await load!.stop();
    load = null;
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
  });
});
