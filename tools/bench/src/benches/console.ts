// The operator console's fleet page with a 10,000-server fleet, in a real browser: a real
// coordinator, 10,000 simulated agents (real gRPC streams), the BUILT console (`next start`) and
// Debian's Chromium through playwright-core. Figures only; nothing is asserted.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { startCoordinator } from '../lib/coordinator';
import { atMost, median, round, type BenchResult, type Figure } from '../lib/figures';
import { freePort, onCleanup, ROOT, spawnTracked, waitFor } from '../lib/proc';
import { startSimPool } from '../lib/sim-pool';

const CHROMIUM = '/usr/lib/chromium/chromium';

export interface ConsoleOptions {
  /** Servers in the fleet; default 10,000. */
  servers: number;
  /** Repetitions of each measurement (median reported); default 5. */
  rounds: number;
}

const since = (t0: number) => performance.now() - t0;

export async function benchConsole(opts: ConsoleOptions): Promise<BenchResult> {
  const web = join(ROOT, 'apps/web');
  if (!existsSync(join(web, '.next/BUILD_ID'))) {
    throw new Error('the console is not built: run `cd apps/web && npx next build` first');
  }
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium`);
  const coord = await startCoordinator({ heartbeatMs: 5000, logLevel: 'warn' });
  const pool = await startSimPool(Math.min(4, Math.max(2, Math.ceil(opts.servers / 2500))));
  const connected = await pool.connect({ address: coord.grpcAddress, n: opts.servers });
  // What is measured is the page, not the connection storm: a few agents that gave up on a busy
  // machine do not matter, the fleet size reported is the one the page shows.
  if (connected.failed > opts.servers * 0.05) {
    throw new Error(`${connected.failed} of ${opts.servers} simulated agents could not connect`);
  }
  const n = await waitFor(
    `${opts.servers - connected.failed} servers registered`,
    async () => {
      const { total } = await coord.api.servers.page.query({ limit: 1 });
      return total >= opts.servers - connected.failed ? total : undefined;
    },
    120_000,
    500,
  );

  const port = await freePort();
  const { child } = spawnTracked(
    'console',
    process.execPath,
    [join(ROOT, 'node_modules/next/dist/bin/next'), 'start', '-p', String(port), '-H', '127.0.0.1'],
    {
      cwd: web,
      env: {
        ...process.env,
        COORDINATOR_URL: coord.url,
        NEXT_TELEMETRY_DISABLED: '1',
        NODE_ENV: 'production',
      },
      stdio: 'ignore',
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'the console',
    async () => {
      if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}`);
      return (await fetch(`${base}/api/trpc/health`).catch(() => null))?.ok;
    },
    30_000,
    200,
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
  onCleanup('chromium', () => browser.close());

  const firstRender: number[] = [];
  const filterTrip: number[] = [];
  const scrollTrip: number[] = [];
  const apiPage: number[] = [];
  let domRows = 0;
  const totalShown = (page: Page, total: number) => page.locator(`[data-total="${total}"]`).waitFor();
  try {
    // The API call the page makes, alone: one page of 200 rows with the summary.
    for (let i = 0; i < opts.rounds; i++) {
      const t0 = performance.now();
      await coord.api.servers.page.query({ limit: 200 });
      apiPage.push(since(t0));
    }
    for (let i = 0; i < opts.rounds; i++) {
      // A fresh browser context each round, signed in through /login as an operator would; the
      // measured page is a new page of that context (its session cookie, no app scripts in memory).
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const login = await context.newPage();
      await login.goto(`${base}/login`);
      await login.fill('input[name="username"]', coord.admin.username);
      await login.fill('input[name="password"]', coord.admin.password);
      await login.click('form.login-form button[type="submit"]');
      await login.waitForURL((u) => !u.pathname.startsWith('/login'));
      await login.close();
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(`${base}/fleet`);
      await totalShown(page, n);
      await page.locator('.vt-space [data-server]').first().waitFor();
      firstRender.push(since(t0));
      domRows = await page.locator('.vt-space .vt-row').count();

      // Filter round trip: role → the matching total and its first row on screen, and back.
      const roles = await page
        .locator('select[name="role"] option')
        .evaluateAll((os) => os.map((o) => o.getAttribute('value') ?? o.textContent ?? '').filter(Boolean));
      const role = roles[0]!;
      const expected = (await coord.api.servers.page.query({ role, limit: 1 })).total;
      const t1 = performance.now();
      await page.selectOption('select[name="role"]', role);
      await totalShown(page, expected);
      await page.locator('.vt-space [data-server]').first().waitFor();
      filterTrip.push(since(t1));
      const t2 = performance.now();
      await page.selectOption('select[name="role"]', '');
      await totalShown(page, n);
      filterTrip.push(since(t2));

      // Scroll to the middle of the fleet: rows from pages not loaded yet.
      const target = Math.floor(n / 2) + i * 7;
      const t3 = performance.now();
      await page.locator('.vt-body').evaluate((el, top) => el.scrollTo(0, top), target * 30);
      await page.locator(`.vt-space [aria-rowindex="${target + 2}"][data-server]`).waitFor();
      scrollTrip.push(since(t3));
      await context.close();
    }
  } finally {
    await browser.close();
    await pool.close();
  }

  const k = `${n.toLocaleString('en')} servers`;
  const fig = (c: string, xs: number[], note: string): Figure => ({
    bench: 'console',
    case: `${k}: ${c}`,
    value: round(median(xs), 0),
    unit: 'ms',
    note: `${note}; median of ${xs.length} (min ${round(Math.min(...xs), 0)}, max ${round(Math.max(...xs), 0)})`,
  });
  return {
    method:
      `A real coordinator with ${n} simulated agents (cluster bench, 2 roles), the built console (next start) ` +
      'and Debian Chromium via playwright-core, all on this machine. Times are wall-clock in the bench process ' +
      'around playwright calls: first render = page.goto(/fleet) until the total and the first row are shown; ' +
      'filter round trip = choosing a role (or back to all) until the new total and rows are shown; scroll = ' +
      'scrolling to the middle of the fleet until that row is drawn (its page fetched). servers.page alone is ' +
      'the API call, 200 rows, from Node.',
    // The console's budget at 10,000 servers (issue 6): a page an operator can use at once, and a
    // filter or scroll that answers within a glance.
    figures: [
      atMost(
        fig('fleet page first render', firstRender, 'navigation, JS, servers.page, first rows drawn'),
        2000,
        '≤ 2 s',
      ),
      atMost(fig('filter round trip (role)', filterTrip, 'select → servers.page → rows'), 500, '≤ 0.5 s'),
      atMost(fig('scroll to the middle', scrollTrip, 'scroll → page fetch → rows'), 500, '≤ 0.5 s'),
      atMost(
        fig('servers.page (200 rows) API alone', apiPage, 'the store filters, sorts and pages in PostgreSQL'),
        100,
        '≤ 100 ms',
      ),
      {
        bench: 'console',
        case: `${k}: table rows in the DOM`,
        value: domRows,
        unit: 'rows',
        note: 'virtualised: only the rows in view plus overscan are rendered',
      },
    ],
  };
}
