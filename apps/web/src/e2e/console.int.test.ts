/**
 * The operator console in a real browser (Debian's Chromium through playwright-core) against the
 * BUILT console (`next start`) and a real demo fleet: coordinator, 4 agents, 4 demo-apps.
 *
 * An operator looks at the fleet and the editions, plans a minor upgrade to 2.0, starts it, watches
 * the live run update over SSE without a reload, approves the sign-off and finds the run in the
 * history and the audit log. Every page is saved to test-results/screenshots/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

const WEB = join(ROOT, 'apps/web');
const SHOTS = join(ROOT, 'test-results/screenshots');
const CHROMIUM = '/usr/lib/chromium/chromium';

async function stop(proc: ChildProcess | null) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// Timeouts are set here too, so the file also runs under vitest's defaults (`npx vitest run apps/web`).
describe('the operator console in a real browser', { timeout: 180_000 }, () => {
  let dir: string;
  let fleet: Fleet;
  let next: ChildProcess | null = null;
  let nextLog = '';
  let browser: Browser;
  let page: Page;
  let base: string;
  let runId = '';

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!existsSync(join(WEB, '.next/BUILD_ID'))) {
      throw new Error(
        'The console is not built: run `cd apps/web && npx next build` first (`npm test` builds it before the integration tier).',
      );
    }
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `No Chromium at ${CHROMIUM}: run tools/scripts/ensure-system-deps.sh (apt-get install chromium).`,
      );
    }
    mkdirSync(SHOTS, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'rollgate-e2e-'));
    const [started, port] = await Promise.all([startFleet({ dir, heartbeatMs: 500 }), freePort()]);
    fleet = started;
    base = `http://127.0.0.1:${port}`;
    // The real server process (not npx), so stopping it stops the server.
    next = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/next/dist/bin/next'), 'start', '-p', String(port), '-H', '127.0.0.1'],
      {
        cwd: WEB,
        env: {
          ...process.env,
          COORDINATOR_URL: fleet.url,
          NEXT_TELEMETRY_DISABLED: '1',
          NODE_ENV: 'production',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    next.stdout?.on('data', (d: Buffer) => (nextLog += d.toString()));
    next.stderr?.on('data', (d: Buffer) => (nextLog += d.toString()));
    await waitFor(
      `the console at ${base}`,
      async () => {
        if (next?.exitCode !== null) throw new Error(`next start exited: ${nextLog}`);
        return (await fetch(`${base}/api/trpc/health`)).ok;
      },
      30_000,
      200,
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(20_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stop(next);
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const rows = () => page.locator('.vt-space [data-server]');

  it('the fleet page lists the 4 servers with their health and filters by role', async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(`${base}/fleet`);
    await page.locator('[data-total="4"]').waitFor();
    await expect.poll(() => rows().count()).toBe(4);
    expect((await rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-server')))).sort()).toEqual(
      ['admin-1', 'admin-2', 'stream-1', 'stream-2'],
    );
    const first = await page.locator('[data-server="admin-1"]').innerText();
    expect(first).toContain('demo');
    expect(first).toContain('connected');
    expect(first).toContain('healthy');
    expect(first).toContain('open');
    expect(first).toContain('demo-app 1.0');
    // The summary bar: 4 connected, nothing closed.
    expect(await page.locator('[data-count="connected"]').innerText()).toContain('4 connected');
    await shot('fleet');

    await page.selectOption('select[name="role"]', 'admin');
    await page.locator('[data-total="2"]').waitFor();
    await expect.poll(() => rows().count()).toBe(2);
    expect((await rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-server')))).sort()).toEqual(
      ['admin-1', 'admin-2'],
    );
    await page.fill('input[name="q"]', 'admin-2');
    await page.locator('[data-total="1"]').waitFor();
    await expect.poll(() => rows().count()).toBe(1);
  });

  it('the editions page shows 1.0 active and 2.0 uploaded but inactive on the demo cluster', async () => {
    await page.click('nav >> text=Editions');
    await page.waitForURL(`${base}/editions`);
    await page.locator('tr[data-edition="1.0"] td[data-cluster="demo"][data-state="ACTIVE"]').waitFor();
    await page.locator('tr[data-edition="2.0"] td[data-cluster="demo"][data-state="INACTIVE"]').waitFor();
    expect(await page.locator('tr[data-edition="2.0"] td[data-cluster="demo"]').innerText()).toContain(
      'installed 0/4',
    );
    await shot('editions');
  });

  it('plans and starts a minor upgrade to 2.0, watches it live, approves the sign-off', async () => {
    // The customer's policy asks for the contacts even for a minor upgrade: the first start is refused.
    await fleet.api.cluster.configure.mutate({
      cluster: 'demo',
      settings: { readiness: { require: ['contacts'] } },
    });
    await page.click('nav >> text=Plan upgrade');
    await page.waitForURL(`${base}/plan`);
    await page.locator('select[name="edition"] option[value="2.0"]').waitFor({ state: 'attached' });
    expect(await page.inputValue('select[name="cluster"]')).toBe('demo');
    expect(await page.inputValue('select[name="app"]')).toBe('demo-app');
    await page.selectOption('select[name="edition"]', '2.0');
    await page.fill('input[name="drainageIntervalSec"]', '1');
    await page.click('button[type="submit"]');
    await page.locator('[data-plan-steps]').waitFor();
    const banners = await page.locator('.plan .phase-banner').allInnerTexts();
    expect(banners.map((b) => b.toLowerCase())).toContain('service at risk / limited capability');
    expect(await page.locator('.plan-steps li').count()).toBeGreaterThan(10);
    expect(await page.locator('tr[data-gate="remote-access"]').innerText()).toContain('met');
    expect(await page.locator('[data-window="seed"]').innerText()).toContain('40 min');
    expect(await page.locator('tr[data-gate="contacts"]').getAttribute('data-gate-status')).toBe('unmet');
    await shot('planner');

    // Refused while a required gate is unmet: the issue is named, with how to meet it, and nothing starts.
    await page.click('button[name="start"]');
    const refusal = page.locator('.issues [data-issue]');
    await refusal.first().waitFor();
    expect(await page.locator('.issues').innerText()).toMatch(/contacts/i);
    expect(page.url()).toBe(`${base}/plan`);
    await shot('planner-refused');

    for (const [role, name, reach] of [
      ['lead', 'Ann Lead', 'ann@example.com'],
      ['appAdmin', 'Bo Admin', '+44 20 7946 0000'],
      ['lbAdmin', 'Cy Network', 'cy@example.com'],
    ] as const) {
      await page.fill(`input[name="${role}-name"]`, name);
      await page.fill(`input[name="${role}-reach"]`, reach);
    }
    // The form changed: the plan must be compiled again before a start.
    expect(await page.locator('button[name="start"]').isDisabled()).toBe(true);
    await page.click('button[type="submit"]');
    await expect
      .poll(() => page.locator('tr[data-gate="contacts"]').getAttribute('data-gate-status'))
      .toBe('met');
    await page.click('button[name="start"]');
    await page.waitForURL(/\/runs\/[^/]+$/, { timeout: 30_000 });
    runId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    // Everything from here happens in this one document: a reload would lose the marker.
    await page.evaluate(() => {
      (window as unknown as { __rollgateMarker: string }).__rollgateMarker = 'same-document';
    });
    const statuses = () =>
      page
        .locator('.run-chart g.cell')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')).join(','));
    const logCount = async () =>
      Number(await page.locator('[data-log-count]').getAttribute('data-log-count'));

    await page.locator('.run-chart g.cell').first().waitFor();
    await expect.poll(logCount, { timeout: 30_000 }).toBeGreaterThan(0);
    const firstStatuses = await statuses();
    const firstLogs = await logCount();
    const firstLastId = await page.locator('li.log').last().getAttribute('data-log-id');
    // New log lines and step status changes arrive over the subscription, with no reload.
    await expect.poll(logCount, { timeout: 60_000 }).toBeGreaterThan(firstLogs);
    await expect.poll(statuses, { timeout: 60_000 }).not.toBe(firstStatuses);
    expect(await page.locator('li.log').last().getAttribute('data-log-id')).not.toBe(firstLastId);
    await page.locator('.run-chart g.cell[data-status="succeeded"]').first().waitFor();
    expect(await page.locator('[role="progressbar"]').getAttribute('aria-valuenow')).not.toBe('0');
    await shot('live-run-mid');

    await page.locator('[data-signoff="waiting"]').waitFor({ timeout: 120_000 });
    expect(await page.locator('[data-run-status]').first().getAttribute('data-run-status')).toBe(
      'waiting-approval',
    );
    await page.fill('textarea[name="signoff-comment"]', 'verified by the e2e operator');
    await page.click('button[name="approve"]');
    await page.locator('[data-run-status="succeeded"]').waitFor({ timeout: 30_000 });
    await expect.poll(statuses, { timeout: 15_000 }).not.toMatch(/pending|running|failed/);
    expect(
      await page.evaluate(() => (window as unknown as { __rollgateMarker?: string }).__rollgateMarker),
    ).toBe('same-document');
    expect(await page.locator('[role="progressbar"]').getAttribute('aria-valuenow')).toBe(
      await page.locator('[role="progressbar"]').getAttribute('aria-valuemax'),
    );
    await shot('live-run-completed');

    // The log filters re-open the subscription with the server's lines only.
    await page.selectOption('select[name="log-server"]', 'admin-1');
    await expect
      .poll(async () => {
        const where = await page.locator('li.log .log-where').allInnerTexts();
        return where.length > 0 && where.every((w) => w.startsWith('admin-1'));
      })
      .toBe(true);
  });

  it('the history lists the run as succeeded', async () => {
    await page.click('nav >> text=Runs');
    await page.waitForURL(`${base}/runs`);
    const row = page.locator(`tr[data-run="${runId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-run-status')).toBe('succeeded');
    const text = await row.innerText();
    expect(text).toContain('minor');
    expect(text).toContain('2.0');
    expect(text).toContain('web:console');
    await shot('history');
  });

  it('the audit log shows the start and the sign-off, by the console', async () => {
    await page.click('nav >> text=Audit');
    await page.waitForURL(`${base}/audit`);
    const start = page.locator('tr[data-action="run.start"]').filter({ hasText: runId });
    const signOff = page.locator('tr[data-action="run.sign-off.approve"]').filter({ hasText: runId });
    await start.waitFor();
    await signOff.waitFor();
    expect(await start.innerText()).toContain('web:console');
    expect(await signOff.innerText()).toContain('verified by the e2e operator');
    await shot('audit');
  });
});
