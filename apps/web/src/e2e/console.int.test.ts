/**
 * The operator console and the customer portal in a real browser (Debian's Chromium through
 * playwright-core) against the BUILT console (`next start`) and a real demo fleet: coordinator,
 * 4 agents, 4 demo-apps, and the fleet's bootstrapped administrator.
 *
 * The administrator signs in through /login (the session cookie is HttpOnly and SameSite=Strict),
 * looks at the fleet and the editions, plans a minor upgrade to 2.0, starts it, watches the live run
 * update over SSE without a reload, and creates a portal link; the customer (a browser context
 * without cookies) opens it and signs off; the run completes and the audit log records the sign-off
 * as `customer:<recipient>`. A viewer sees no start button, and the API refuses the viewer's start;
 * the portal token opens nothing but the portal. The administrator then creates accounts on the
 * users page; the new operator plans an edition rollout, is refused the atomic strategy (the demo
 * fleet has no HAProxy runtime API) and a group larger than the cluster, is refused a validation
 * clone on the editions page (no runtime API either: nothing starts), rolls the edition out from
 * the editions page and follows the run to its end on the live page; the
 * new viewer sees no action button and the API refuses its mutations. Every page is saved to
 * test-results/screenshots/.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNextConsole } from './next-console';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, startFleet, type Fleet } from '@rollgate/demo-fleet';

const WEB = join(ROOT, 'apps/web');
const SHOTS = join(ROOT, 'test-results/screenshots');
const CHROMIUM = '/usr/lib/chromium/chromium';
const VIEWER = { username: 'vic-viewer', password: 'viewer-password-for-e2e' };
const RECIPIENT = 'Ann Lead';
/** Accounts the administrator creates on the users page. */
const OPERATOR = { username: 'olga-operator', password: 'operator-password-for-e2e' };
const VIEWER2 = { username: 'vera-viewer', password: 'second-viewer-password-e2e' };
const TEMP = { username: 'dan-temp', password: 'temporary-password-for-e2e' };

/** A raw tRPC call to the coordinator, to assert its very answer (status, code, message). */
async function coordinatorCall(
  url: string,
  kind: 'query' | 'mutation',
  procedure: string,
  input: unknown,
  token?: string,
): Promise<{
  status: number;
  body: { result?: { data: unknown }; error?: { message: string; data: { code: string } } };
}> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res =
    kind === 'query'
      ? await fetch(`${url}/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`, {
          headers,
        })
      : await fetch(`${url}/trpc/${procedure}`, { method: 'POST', headers, body: JSON.stringify(input) });
  return { status: res.status, body: (await res.json()) as never };
}

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
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let runId = '';
  let portalLink = '';
  let viewerContext: BrowserContext | undefined;
  let operatorContext: BrowserContext | undefined;
  let viewer2Context: BrowserContext | undefined;
  let viewerPage: Page;

  const shotOf = (p: Page, name: string) =>
    p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const shot = (name: string) => shotOf(page, name);
  /** Waits until the top bar has heard from the coordinator, so a screenshot shows the settled page. */
  const connected = (p: Page) => p.locator('[data-connection="connected"]').waitFor();
  const portalToken = () => decodeURIComponent(new URL(portalLink).pathname.split('/').pop()!);

  /** Signs in through the /login form in this page (which must show it). */
  async function signIn(p: Page, username: string, password: string) {
    await p.fill('input[name="username"]', username);
    await p.fill('input[name="password"]', password);
    await p.click('form.login-form button[type="submit"]');
  }

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
    next = await startNextConsole({ coordinatorUrl: fleet.url, port, timeoutMs: 30_000 });
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
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
  }, 120_000);

  afterAll(async () => {
    await viewerContext?.close();
    await operatorContext?.close();
    await viewer2Context?.close();
    await browser?.close();
    await stop(next);
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const rows = () => page.locator('.vt-space [data-server]');

  it('without a session every console page goes to /login; the admin signs in there', async () => {
    await page.goto(`${base}/fleet`);
    await page.waitForURL(`${base}/login?next=%2Ffleet`);
    await page.locator('form.login-form').waitFor();
    await shot('login');

    // A wrong password says so, and sets no cookie.
    await signIn(page, fleet.admin.username, 'not-the-password-at-all');
    await page.locator('[data-login-error="credentials"]').waitFor();
    expect(await page.locator('[data-login-error]').innerText()).toMatch(/wrong user name or password/i);
    expect((await context.cookies()).find((c) => c.name === 'rollgate_session')).toBeUndefined();
    await shot('login-wrong-password');

    await signIn(page, fleet.admin.username, fleet.admin.password);
    await page.waitForURL(`${base}/fleet`);
    const session = (await context.cookies()).find((c) => c.name === 'rollgate_session');
    expect(session).toBeDefined();
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
    // The session lasts as long as the coordinator's, not for the browser's lifetime only.
    expect(session!.expires).toBeGreaterThan(Date.now() / 1000 + 60);
    // Page JavaScript cannot see it.
    expect(await page.evaluate(() => document.cookie)).not.toContain('rollgate_session');
    const who = page.locator('.whoami');
    expect(await who.getAttribute('data-user')).toBe(fleet.admin.username);
    expect(await who.getAttribute('data-role')).toBe('admin');
  });

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

  it('a viewer sees every page but no start button, and the API refuses the viewer a start', async () => {
    const viewer = await fleet.createUser(VIEWER.username, 'viewer', VIEWER.password);
    viewerContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const vp = await viewerContext.newPage();
    viewerPage = vp;
    vp.setDefaultTimeout(20_000);
    await vp.goto(`${base}/plan`);
    await vp.waitForURL(`${base}/login?next=%2Fplan`);
    await signIn(vp, VIEWER.username, VIEWER.password);
    await vp.waitForURL(`${base}/plan`);
    expect(await vp.locator('.whoami').getAttribute('data-role')).toBe('viewer');
    // Planning is reading: allowed.
    await vp.locator('select[name="edition"] option[value="2.0"]').waitFor({ state: 'attached' });
    await vp.selectOption('select[name="edition"]', '2.0');
    await vp.click('form.planner button[type="submit"]');
    await vp.locator('[data-plan-steps]').waitFor();
    expect(await vp.locator('button[name="start"]').count()).toBe(0);
    expect(await vp.locator('[data-needs-role="operator"]').innerText()).toContain('needs the operator role');
    // No waiver fields either (an administrator's).
    expect(await vp.locator('[data-waiver]').count()).toBe(0);
    await shotOf(vp, 'planner-viewer');
    // The editions page: no upload form.
    await vp.goto(`${base}/editions`);
    await vp.locator('[data-needs-role="operator"]').first().waitFor();
    expect(await vp.locator('input[type="file"]').count()).toBe(0);

    // The API is what enforces it.
    const refused = await coordinatorCall(
      fleet.url,
      'mutation',
      'upgrade.start',
      { cluster: 'demo', app: 'demo-app', edition: '2.0', procedure: 'minor' },
      viewer.token,
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error?.data.code).toBe('FORBIDDEN');
    expect(refused.body.error?.message).toContain('needs the operator role');
  });

  it('plans and starts a minor upgrade to 2.0, watches it live; the customer signs off in the portal', async () => {
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

    // The operator creates the customer's portal link, valid for a day, and copies it.
    await page.fill('input[name="portal-recipient"]', RECIPIENT);
    await page.selectOption('select[name="portal-ttl"]', '24');
    await page.click('button[name="portal-create"]');
    const urlBox = page.locator('input[name="portal-url"]');
    await urlBox.waitFor();
    portalLink = await urlBox.inputValue();
    expect(portalLink).toMatch(new RegExp(`^${base.replace(/[.]/g, '\\.')}/portal/[A-Za-z0-9_-]{20,}$`));
    await page.click('button[name="portal-copy"]');
    await page.locator('.portal-created [role="status"]').filter({ hasText: 'For Ann Lead' }).waitFor();
    await shot('live-run-portal-link');

    // The customer: a fresh browser context, no cookies, nothing but the link.
    const customer = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    try {
      expect(await customer.cookies()).toEqual([]);
      const cp = await customer.newPage();
      cp.setDefaultTimeout(20_000);
      await cp.goto(portalLink);
      await cp.locator('[data-portal="ready"]').waitFor();
      // Its own frame: no console navigation, no link anywhere.
      expect(await cp.locator('nav').count()).toBe(0);
      expect(await cp.locator('a[href]').count()).toBe(0);
      expect(await cp.locator('.portal-overview').innerText()).toContain(`For ${RECIPIENT}`);
      await shotOf(cp, 'portal-running');
      await cp.locator('[data-asks="sign-off"]').waitFor({ timeout: 120_000 });
      expect(await cp.locator('[data-phase]').innerText()).toMatch(/restored|at risk/i);
      // The evidence: the functionality tests with their probes, and 2.0 on every server.
      expect(await cp.locator('[data-test-status="succeeded"]').count()).toBeGreaterThan(0);
      await expect.poll(() => cp.locator('tr[data-server][data-edition="2.0"]').count()).toBe(4);
      expect(await cp.locator('[data-notice]').innerText()).not.toBe('');
      await shotOf(cp, 'portal-waiting-for-signoff');
      // The operator's page shows the run waiting on the customer.
      await page.locator('[data-signoff="waiting"]').waitFor({ timeout: 30_000 });
      expect(await page.locator('[data-run-status]').first().getAttribute('data-run-status')).toBe(
        'waiting-approval',
      );

      await cp.fill('textarea[name="portal-comment"]', 'verified by the e2e customer');
      await cp.click('button[name="portal-approve"]');
      await cp.locator('[data-portal="ready"][data-run-status="succeeded"]').waitFor({ timeout: 30_000 });
      expect(await cp.locator('[data-asks]').getAttribute('data-asks')).toBe('');
      expect(await cp.locator('[data-phase]').getAttribute('data-phase')).toBe('full-service-restored');
      await cp.waitForTimeout(600); // the progress bar's width transition (0.4 s)
      await shotOf(cp, 'portal-signed-off');
      // Still no cookie in the customer's browser.
      expect(await customer.cookies()).toEqual([]);

      // An invalid link says so clearly.
      await cp.goto(`${base}/portal/not-a-real-portal-token-0000000000`);
      await cp.locator('[data-portal="invalid"]').waitFor();
      expect(await cp.locator('[data-portal="invalid"]').innerText()).toMatch(/not valid or has expired/i);
      await shotOf(cp, 'portal-invalid-link');
    } finally {
      await customer.close();
    }

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
    expect(text).toContain(fleet.admin.username);
    await shot('history');
  });

  it('the audit log shows the start by the admin, the portal link, and the sign-off by the customer', async () => {
    await page.click('nav >> text=Audit');
    await page.waitForURL(`${base}/audit`);
    const start = page.locator('tr[data-action="run.start"]').filter({ hasText: runId });
    const link = page.locator('tr[data-action="run.portal-link"]').filter({ hasText: runId });
    const signOff = page.locator('tr[data-action="run.sign-off.approve"]').filter({ hasText: runId });
    await start.waitFor();
    await link.waitFor();
    await signOff.waitFor();
    expect(await start.locator('td').nth(1).innerText()).toBe(fleet.admin.username);
    expect(await link.innerText()).toContain(RECIPIENT);
    expect(await signOff.locator('td').nth(1).innerText()).toBe(`customer:${RECIPIENT}`);
    expect(await signOff.innerText()).toContain('verified by the e2e customer');
    // From where: the browser's address, which the console's proxy passed on (loopback here).
    expect(await start.locator('td').nth(4).innerText()).toBe('127.0.0.1');
    expect(await signOff.locator('td').nth(4).innerText()).toBe('127.0.0.1');
    await shot('audit');
  });

  it('the viewer sees the run but none of its controls, and no portal link', async () => {
    await viewerPage.goto(`${base}/runs/${encodeURIComponent(runId)}`);
    await viewerPage.locator('.run-chart g.cell').first().waitFor();
    await viewerPage.locator('[data-needs-role="operator"]').waitFor();
    expect(await viewerPage.locator('button[name="portal-create"]').count()).toBe(0);
    expect(await viewerPage.locator('[aria-label="run controls"]').count()).toBe(0);
    await shotOf(viewerPage, 'live-run-viewer');
  });

  it('the portal token is no credential for anything else: not the API, not the console', async () => {
    const token = portalToken();
    for (const [kind, proc, input] of [
      ['query', 'servers.list', {}],
      ['mutation', 'upgrade.start', { cluster: 'demo', app: 'demo-app', edition: '2.0', procedure: 'minor' }],
    ] as const) {
      const answer = await coordinatorCall(fleet.url, kind, proc, input, token);
      expect([401, 403]).toContain(answer.status);
      expect(['UNAUTHORIZED', 'FORBIDDEN']).toContain(answer.body.error?.data.code);
    }
    // Through the console's proxy, as if it were a session cookie: refused too.
    const proxied = await fetch(`${base}/api/trpc/servers.list?input=%7B%7D`, {
      headers: { cookie: `rollgate_session=${token}` },
    });
    expect([401, 403]).toContain(proxied.status);
    // And the console's pages send it to the sign-in page.
    const intruder = await browser.newContext();
    try {
      await intruder.addCookies([
        { name: 'rollgate_session', value: token, url: base, httpOnly: true, sameSite: 'Strict' },
      ]);
      const ip = await intruder.newPage();
      await ip.goto(`${base}/fleet`);
      await ip.waitForURL(/\/login(\?|$)/);
      await ip.locator('form.login-form').waitFor();
      expect(await ip.locator('[data-server]').count()).toBe(0);
    } finally {
      await intruder.close();
    }
  });

  it("issue 17 item 10: the operator revokes the customer's link on the live run page; the portal then opens nothing", async () => {
    await page.goto(`${base}/runs/${encodeURIComponent(runId)}`);
    const row = page.locator('tr[data-portal-link-state="active"]').filter({ hasText: RECIPIENT });
    await row.waitFor();
    const id = await row.getAttribute('data-portal-link-id');
    await row.locator(`button[name="portal-revoke-${id}"]`).click();
    await page.locator(`tr[data-portal-link-id="${id}"][data-portal-link-state="revoked"]`).waitFor();
    await shot('live-run-portal-link-revoked');
    const customer = await browser.newContext();
    try {
      const cp = await customer.newPage();
      await cp.goto(portalLink);
      await cp.locator('[data-portal="invalid"]').waitFor();
      expect(await cp.locator('[data-portal="invalid"]').innerText()).toMatch(
        /withdrawn by your service provider/,
      );
      expect(await cp.locator('[data-portal="ready"]').count()).toBe(0);
    } finally {
      await customer.close();
    }
    const audit = await fleet.api.audit.list.query();
    expect(
      audit.some(
        (e) =>
          e.action === 'run.portal-link.revoke' &&
          e.target === runId &&
          (e.details as { linkId?: string }).linkId === id &&
          e.actor === fleet.admin.username,
      ),
    ).toBe(true);
  });

  it('an admin manages accounts on the users page: creates an operator and a viewer, changes a role, disables one', async () => {
    await page.goto(`${base}/fleet`);
    await page.click('nav >> text=Users');
    await page.waitForURL(`${base}/users`);
    await page.locator(`tr[data-user="${fleet.admin.username}"][data-user-role="admin"]`).waitFor();
    // The administrator's own row offers no way to lock themselves out.
    expect(await page.locator(`tr[data-user="${fleet.admin.username}"] button[name="disable"]`).count()).toBe(
      0,
    );

    const create = async (user: { username: string; password: string }, role: string) => {
      await page.fill('input[name="new-username"]', user.username);
      await page.selectOption('select[name="new-role"]', role);
      await page.fill('input[name="new-password"]', user.password);
      await page.click('button[name="create-user"]');
    };
    // The coordinator's password policy, said per field (not the validator's JSON).
    await create({ username: OPERATOR.username, password: 'short' }, 'viewer');
    const refusal = page.locator('.issues [data-issue]');
    await refusal.first().waitFor();
    expect(await page.locator('.issues').innerText()).toContain(
      'password: a password has at least 12 characters',
    );
    expect(await page.locator(`tr[data-user="${OPERATOR.username}"]`).count()).toBe(0);
    await connected(page);
    await shot('users-refused');

    // Created as a viewer, then given the operator role.
    await create(OPERATOR, 'viewer');
    await page.locator(`tr[data-user="${OPERATOR.username}"][data-user-role="viewer"]`).waitFor();
    const olga = page.locator(`tr[data-user="${OPERATOR.username}"]`);
    await olga.locator('select[name="set-role"]').selectOption('operator');
    await olga.locator('button[name="apply-role"]').click();
    await page.locator(`tr[data-user="${OPERATOR.username}"][data-user-role="operator"]`).waitFor();
    expect(await page.locator('[data-users-done]').innerText()).toContain('olga-operator is now an operator');

    await create(VIEWER2, 'viewer');
    await page.locator(`tr[data-user="${VIEWER2.username}"][data-user-role="viewer"]`).waitFor();

    // A disabled account cannot sign in any more.
    await create(TEMP, 'operator');
    await page.locator(`tr[data-user="${TEMP.username}"]`).locator('button[name="disable"]').click();
    await page.locator(`tr[data-user="${TEMP.username}"][data-user-status="disabled"]`).waitFor();
    const login = await coordinatorCall(fleet.url, 'mutation', 'auth.login', TEMP);
    expect(login.status).toBe(401);
    await connected(page);
    await shot('users');

    // What the coordinator now holds is what the page showed.
    const users = await fleet.api.users.list.query();
    expect(users.find((u) => u.username === OPERATOR.username)?.role).toBe('operator');
    expect(users.find((u) => u.username === VIEWER2.username)?.role).toBe('viewer');
    expect(users.find((u) => u.username === TEMP.username)?.disabledAt).not.toBeNull();
  });

  it('an operator plans an edition rollout, rolls it out from the editions page and watches the run finish live', async () => {
    operatorContext = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const op = await operatorContext.newPage();
    op.setDefaultTimeout(20_000);
    await op.goto(`${base}/plan`);
    await op.waitForURL(`${base}/login?next=%2Fplan`);
    await signIn(op, OPERATOR.username, OPERATOR.password);
    await op.waitForURL(`${base}/plan`);
    expect(await op.locator('.whoami').getAttribute('data-role')).toBe('operator');
    // Accounts are an administrator's: no Users page in an operator's navigation.
    expect(await op.locator('nav >> text=Users').count()).toBe(0);

    // The planner compiles the edition rollout: back to 1.0, two servers at a time.
    await op.locator('select[name="edition"] option[value="1.0"]').waitFor({ state: 'attached' });
    await op.check('input[name="procedure"][value="rollout"]');
    await op.selectOption('select[name="edition"]', '1.0');
    await op.fill('input[name="groupSize"]', '2');
    await op.fill('input[name="drainageIntervalSec"]', '1');
    // No schedule or window for a rollout: it starts at once.
    expect(await op.locator('input[name="at"]').count()).toBe(0);
    await op.click('form.planner button[type="submit"]');
    await op.locator('[data-plan-steps]').waitFor();
    const options = await op.locator('[data-rollout-options]').innerText();
    expect(options).toContain('grouped, groups of 2, soft reset, drainage 1 s');
    expect(options).toContain('fast path');
    expect(await op.locator('.plan-facts').innerText()).toContain('edition rollout of demo-app');
    expect(await op.locator('.plan-steps li').count()).toBe(2);
    expect((await op.locator('.plan .phase-banner').allInnerTexts()).map((b) => b.toLowerCase())).toContain(
      'service at risk / limited capability',
    );
    expect(await op.locator('button[name="start"]').innerText()).toBe('Start rollout');
    await connected(op);
    await shotOf(op, 'planner-rollout');

    // Atomic switches both halves in one exchange on HAProxy's runtime API, and this fleet has no
    // load balancer configured: the page says what it needs, and the coordinator's refusal (the
    // same the rollout itself gives) replaces the plan, so there is nothing to start.
    const runsBefore = (await fleet.api.upgrade.list.query()).length;
    await op.selectOption('select[name="strategy"]', 'atomic');
    expect(await op.locator('input[name="groupSize"]').count()).toBe(0);
    expect(await op.locator('[data-atomic-note]').innerText()).toContain("cluster's HAProxy runtime API");
    await op.click('form.planner button[type="submit"]');
    const atomicRefusal = op.locator('.issues [data-issue="PRECONDITION_FAILED"]');
    await atomicRefusal.waitFor();
    expect(await op.locator('.issues').innerText()).toContain('The plan cannot be compiled');
    expect(await atomicRefusal.innerText()).toMatch(
      /atomic strategy switches both halves of cluster "demo" in one exchange on HAProxy's runtime API, and no load balancer is configured for it/,
    );
    expect(await op.locator('[data-plan-steps]').count()).toBe(0);
    expect(await op.locator('button[name="start"]').count()).toBe(0);
    await connected(op);
    await shotOf(op, 'planner-rollout-atomic-refused');

    // The editions page: the demo target with its verbs.
    await op.click('nav >> text=Editions');
    await op.waitForURL(`${base}/editions`);
    const target = op.locator('[data-target="demo-app@demo"]');
    await target.waitFor();
    expect(await target.innerText()).toMatch(/4 servers · active\s*2\.0/);
    for (const verb of ['install', 'rollout', 'backout', 'activate', 'validate', 'deactivate'])
      expect(await target.locator(`button[name="${verb}"]`).count()).toBe(1);
    // Simple activation says it has downtime before anything runs, and waits for the operator to accept it.
    expect(await target.locator('[data-downtime-warning]').innerText()).toContain('stops all 4 servers');
    expect(await target.locator('button[name="activate"]').isDisabled()).toBe(true);

    // Rolling out atomically from the editions page is refused the same way, and starts nothing.
    await target.locator('select[name="target-edition"]').selectOption('1.0');
    await target.locator('select[name="strategy"]').selectOption('atomic');
    expect(await target.locator('input[name="groupSize"]').count()).toBe(0);
    expect(await target.locator('[data-atomic-note]').innerText()).toContain('one runtime-API exchange');
    await target.locator('button[name="rollout"]').click();
    await target.locator('.issues [data-issue="PRECONDITION_FAILED"]').waitFor();
    expect(await target.locator('.issues').innerText()).toMatch(
      /Rollout refused: nothing was started[\s\S]*HAProxy's runtime API/,
    );
    expect(await target.locator('[data-run-started]').count()).toBe(0);
    expect((await fleet.api.upgrade.list.query()).length).toBe(runsBefore);
    await connected(op);
    await shotOf(op, 'editions-rollout-atomic-refused');
    await target.locator('select[name="strategy"]').selectOption('grouped');

    // Validation runs the edition on a clone (second instances on beside ports) in the cluster's
    // validation backend: the page says so, takes a clone size from 1 to the target's 4 servers, and
    // Deactivate waits for an edition that is VALIDATING here (none is).
    expect(await target.locator('input[name="cloneSize"]').inputValue()).toBe('1');
    expect(await target.locator('[data-validate-note]').innerText()).toMatch(
      /Runs 1\.0 beside 1 of the 4 servers in the cluster's validation backend; route pilot requests to it with rollgate lb routes set/,
    );
    expect(await target.locator('button[name="deactivate"]').isDisabled()).toBe(true);
    expect(await target.locator('[data-deactivate-note]').innerText()).toContain(
      'No edition is validating on this cluster.',
    );
    await target.locator('input[name="cloneSize"]').fill('5');
    await target.locator('button[name="validate"]').click();
    await target.locator('.issues [data-issue="FORM"]').waitFor();
    expect(await target.locator('.issues').innerText()).toContain(
      'The clone size must be a whole number from 1 to 4.',
    );
    // A clone of 2: this fleet has no HAProxy runtime API (nor beside ports), and the coordinator's
    // refusal is shown as it is; nothing starts.
    await target.locator('input[name="cloneSize"]').fill('2');
    await target.locator('button[name="validate"]').click();
    await target.locator('.issues [data-issue="PRECONDITION_FAILED"]').waitFor();
    expect(await target.locator('.issues').innerText()).toMatch(
      /Validation refused: nothing was started[\s\S]*validation backend: the cluster needs HAProxy's runtime API/,
    );
    expect(await target.locator('[data-run-started]').count()).toBe(0);
    expect((await fleet.api.upgrade.list.query()).length).toBe(runsBefore);
    expect(await op.locator('td[data-state="VALIDATING"]').count()).toBe(0);
    await connected(op);
    await shotOf(op, 'editions-validate-refused');

    // A group larger than the cluster: the coordinator's own refusal is shown, and nothing starts.
    await target.locator('input[name="groupSize"]').fill('5');
    await target.locator('input[name="target-drainageIntervalSec"]').fill('1');
    await target.locator('button[name="rollout"]').click();
    await target.locator('.issues [data-issue="GROUP_SIZE_TOO_LARGE"]').waitFor();
    expect(await target.locator('.issues').innerText()).toContain(
      'groupSize 5 exceeds the 4 servers of cluster "demo"',
    );
    expect(await target.locator('[data-run-started]').count()).toBe(0);
    await connected(op);
    await shotOf(op, 'editions-rollout-refused');

    await target.locator('input[name="groupSize"]').fill('2');
    await target.locator('button[name="rollout"]').click();
    const started = target.locator('[data-run-started]');
    await started.waitFor({ timeout: 30_000 });
    const rolloutId = (await started.getAttribute('data-run-started'))!;
    expect(rolloutId).not.toBe(runId);
    expect(await target.locator('.issues').count()).toBe(0);
    await connected(op);
    await shotOf(op, 'editions-rollout-started');

    await target.locator('[data-run-link]').click();
    await op.waitForURL(`${base}/runs/${encodeURIComponent(rolloutId)}`);
    await op.locator('.run-chart g.cell').first().waitFor();
    await op.locator('[data-run-status="succeeded"]').first().waitFor({ timeout: 120_000 });
    // The run's last line streams in just after its status: wait for it, without a reload.
    await op.locator('li.log .log-code', { hasText: 'RG0011I' }).first().waitFor({ timeout: 15_000 });
    expect(
      await op.locator('li.log .log-code').evaluateAll((els) => els.map((e) => e.textContent?.trim())),
    ).toEqual(expect.arrayContaining(['RG0010I', 'RG0011I']));
    await op.waitForTimeout(600); // the progress bar's width transition (0.4 s)
    await connected(op);
    await shotOf(op, 'live-run-rollout-completed');

    // Back on the editions page, 1.0 is active on every server of the target again.
    await op.goto(`${base}/editions`);
    await op.locator('tr[data-edition="1.0"] td[data-cluster="demo"][data-state="ACTIVE"]').waitFor();
    await expect
      .poll(() => op.locator('tr[data-edition="1.0"] td[data-cluster="demo"]').innerText())
      .toContain('active 4/4');
    await connected(op);
    await shotOf(op, 'editions-after-rollout');
  });

  it('the viewer made on the users page sees no action buttons, and the API refuses its mutations', async () => {
    viewer2Context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const vp = await viewer2Context.newPage();
    vp.setDefaultTimeout(20_000);
    await vp.goto(`${base}/editions`);
    await vp.waitForURL(`${base}/login?next=%2Feditions`);
    await signIn(vp, VIEWER2.username, VIEWER2.password);
    await vp.waitForURL(`${base}/editions`);
    expect(await vp.locator('.whoami').getAttribute('data-role')).toBe('viewer');
    await vp.locator('tr[data-edition="1.0"] td[data-cluster="demo"][data-state="ACTIVE"]').waitFor();
    await vp.locator('[data-needs-role="operator"]').first().waitFor();
    expect(await vp.locator('[data-target]').count()).toBe(0);
    expect(await vp.locator('main button').count()).toBe(0);
    expect(await vp.locator('input[type="file"]').count()).toBe(0);
    expect(await vp.locator('nav >> text=Users').count()).toBe(0);
    await connected(vp);
    await shotOf(vp, 'editions-viewer');

    // The users page, typed in by hand: it says who may, and lists nobody.
    await vp.goto(`${base}/users`);
    await vp.locator('[data-needs-role="admin"]').waitFor();
    expect(await vp.locator('tr[data-user]').count()).toBe(0);
    expect(await vp.locator('main button').count()).toBe(0);
    await connected(vp);
    await shotOf(vp, 'users-viewer');

    // The API is what enforces it: the viewer's own session is refused the rollout and the account change.
    const login = await coordinatorCall(fleet.url, 'mutation', 'auth.login', VIEWER2);
    expect(login.status).toBe(200);
    const token = (login.body.result?.data as { token: string }).token;
    const rollout = await coordinatorCall(
      fleet.url,
      'mutation',
      'editions.rollout',
      { app: 'demo-app', cluster: 'demo', edition: '2.0' },
      token,
    );
    expect(rollout.status).toBe(403);
    expect(rollout.body.error?.data.code).toBe('FORBIDDEN');
    expect(rollout.body.error?.message).toContain('needs the operator role');
    const promote = await coordinatorCall(
      fleet.url,
      'mutation',
      'users.setRole',
      { username: VIEWER2.username, role: 'admin' },
      token,
    );
    expect(promote.status).toBe(403);
    expect(promote.body.error?.message).toContain('needs the administrator role');
    expect((await fleet.api.users.list.query()).find((u) => u.username === VIEWER2.username)?.role).toBe(
      'viewer',
    );
  });

  it('signing out ends the session: the console goes back to /login', async () => {
    await page.goto(`${base}/fleet`);
    await page.click('button[name="sign-out"]');
    await page.waitForURL(`${base}/login?signed-out=1`);
    expect((await context.cookies()).find((c) => c.name === 'rollgate_session')).toBeUndefined();
    await page.goto(`${base}/runs`);
    await page.waitForURL(/\/login\?next=%2Fruns$/);
  });
});
