/**
 * The live run page's traffic chart in a real browser (issue 16 item 7): two web servers (not the
 * demo's four) behind a real HAProxy configured by `lb haproxy-config` and `lb configure`, a steady
 * keep-alive load through its frontend, and the BUILT console. The administrator rolls edition 2.0
 * out and watches the run's live page: the chart draws a line for each edition that served
 * requests during the run, and the failed line's total is 0.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertConsoleBuilt,
  launchChromium,
  signInThroughForm,
  startNextConsole,
  stopNextConsole,
} from './next-console';
import type { Browser } from 'playwright-core';
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

const SHOTS = join(ROOT, 'test-results/screenshots');

describe('the traffic chart on the live run page (issue 16 item 7)', { timeout: 180_000 }, () => {
  let dir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let load: LoadGenerator | null = null;
  let next: ChildProcess | null = null;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    assertConsoleBuilt();
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
    browser = await launchChromium();
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await stopNextConsole(next);
    await load?.stop();
    await lb?.stop();
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('draws the requests served per edition during a rollout, and failed: 0', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.setDefaultTimeout(30_000);
    await signInThroughForm(page, base, fleet.admin);

    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    // Held at its next step until the page is open and has drawn edition 1.0 being served: a fast
    // rollout could otherwise be over before the page's second read of the counters.
    await fleet.api.upgrade.pause.mutate({ runId: view.run.id, reason: 'the chart opens first' });
    await page.goto(`${base}/runs/${encodeURIComponent(view.run.id)}`);
    const chart = page.locator('[data-testid="traffic-chart"]');
    await chart.locator('svg polyline[data-edition="1.0"]').waitFor();
    await fleet.api.upgrade.resume.mutate({ runId: view.run.id });
    await runSucceeded(fleet, view.run.id);
    // Served by both editions in the chart's window: the page has been open since before the switch.
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
