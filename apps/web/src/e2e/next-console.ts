// The BUILT console as the browser tests run it: `next start` of apps/web in front of a
// coordinator, once it answers. One copy for every e2e file.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, waitFor } from '@rollgate/demo-fleet';

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
