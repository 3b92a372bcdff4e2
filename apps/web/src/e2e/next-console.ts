// The BUILT console as the browser tests run it: `next start` of apps/web in front of a
// coordinator, once it answers. One copy for every e2e file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, waitFor } from '@rollgate/demo-fleet';

/** Debian's Chromium, which every browser test drives. */
export const CHROMIUM = '/usr/lib/chromium/chromium';

/** Throws, saying how to build it, when the console has not been built (`next start` serves .next). */
export function assertConsoleBuilt(): void {
  if (!existsSync(join(ROOT, 'apps/web/.next/BUILD_ID'))) {
    throw new Error(
      'The console is not built: run `cd apps/web && npx next build` first (`npm test` builds it before the integration tier).',
    );
  }
}

export interface NextConsoleOptions {
  /** The coordinator the console's API proxy talks to (COORDINATOR_URL). */
  coordinatorUrl: string;
  /** The loopback port to serve on. */
  port: number;
  /** How long to wait for /api/trpc/health to answer; default 60 000 ms. */
  timeoutMs?: number;
}

/**
 * Starts the real server process (not npx, so stopping it stops the server) and waits until the
 * console answers; its output is in the error if it exits first.
 */
export async function startNextConsole(opts: NextConsoleOptions): Promise<ChildProcess> {
  const base = `http://127.0.0.1:${opts.port}`;
  let log = '';
  const proc = spawn(
    process.execPath,
    [join(ROOT, 'node_modules/next/dist/bin/next'), 'start', '-p', String(opts.port), '-H', '127.0.0.1'],
    {
      cwd: join(ROOT, 'apps/web'),
      env: {
        ...process.env,
        COORDINATOR_URL: opts.coordinatorUrl,
        NEXT_TELEMETRY_DISABLED: '1',
        NODE_ENV: 'production',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(
    `the console at ${base}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`next start exited: ${log}`);
      return (await fetch(`${base}/api/trpc/health`)).ok;
    },
    opts.timeoutMs ?? 60_000,
    200,
  );
  return proc;
}

/** Stops a console started by startNextConsole (if it still runs) and waits until it has exited. */
export async function stopNextConsole(proc: ChildProcess | null): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

/** Headless Chromium as the smaller browser tests launch it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
}

/**
 * Signs in through the console's /login form and waits until the top bar has heard from the
 * coordinator, so the next page opens signed in.
 */
export async function signInThroughForm(
  page: Page,
  base: string,
  user: { username: string; password: string },
): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill('input[name="username"]', user.username);
  await page.fill('input[name="password"]', user.password);
  await page.click('form.login-form button[type="submit"]');
  await page.locator('[data-connection="connected"]').waitFor();
}
