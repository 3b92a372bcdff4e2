// Shared by the build's integration tests: run a built binary as an operator would (plain `node`,
// a minimal environment, away from the checkout) and check that stopping it leaves nothing behind.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FatalWait, freePort, waitFor } from '@rollgate/demo-fleet';
import { CONSOLE_LAUNCHER } from './build.mjs';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node <file> …args` with only PATH and HOME set, from `cwd` (never the checkout). */
export function runNode(file: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Within `npm test` the checks tier has already built the console (`build.mjs --only web`) and
 * names it in ROLLGATE_TEST_CONSOLE_BUILD: a test that needs a built console copies that one into
 * `<dist>/web` rather than running `next build` again, which costs 30 s to minutes of CPU
 * (docs/adr/0049). Returns false when there is none (e.g. `npm test -- --only int`): build it then.
 */
export function copyPrebuiltConsole(dist: string): boolean {
  const prebuilt = process.env.ROLLGATE_TEST_CONSOLE_BUILD;
  if (!prebuilt) return false;
  if (!existsSync(join(prebuilt, CONSOLE_LAUNCHER)))
    throw new Error(`ROLLGATE_TEST_CONSOLE_BUILD=${prebuilt} holds no ${CONSOLE_LAUNCHER}`);
  // Copied under the test's own directory, so its "no process left" checks cover the console too.
  cpSync(prebuilt, join(dist, 'web'), { recursive: true, verbatimSymlinks: true });
  return true;
}

/** Pids of the live processes whose command line mentions `needle` (e.g. a temp data directory). */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(join('/proc', entry, 'cmdline'), 'utf8').includes(needle)) found.push(Number(entry));
    } catch {
      // Ended while we looked.
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface BundledCoordinator {
  /** The API's base URL, e.g. http://127.0.0.1:43121. */
  url: string;
  proc: ChildProcess;
  /** The embedded PostgreSQL's postmaster, from the coordinator's log. */
  postgresPid: number;
  /** Everything it printed so far (JSON lines). */
  output: () => string;
  /** SIGTERM, then waits for its exit; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/**
 * Starts `<coordinatorDir>/main.cjs` with plain node (no loader) in `workDir`: the embedded
 * PostgreSQL in `<workDir>/data`, free loopback ports; resolves once /healthz answers.
 */
export async function startBundledCoordinator(
  coordinatorDir: string,
  workDir: string,
): Promise<BundledCoordinator> {
  const [http, grpc, enrol] = [await freePort(), await freePort(), await freePort()];
  let out = '';
  const proc = spawn(process.execPath, [join(coordinatorDir, 'main.cjs')], {
    cwd: workDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: workDir,
      ROLLGATE_DATA_DIR: join(workDir, 'data'),
      ROLLGATE_HTTP_PORT: String(http),
      ROLLGATE_GRPC_PORT: String(grpc),
      ROLLGATE_ENROL_PORT: String(enrol),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${http}`;
  await waitFor(
    'the bundled coordinator to answer /healthz',
    async () => {
      if (proc.exitCode !== null)
        throw new FatalWait(`the bundled coordinator exited ${proc.exitCode}:\n${out}`);
      const res = await fetch(`${url}/healthz`);
      return res.ok;
    },
    120_000,
  );
  const started = out
    .split('\n')
    .filter((l) => l.includes('embedded PostgreSQL started'))
    .map((l) => JSON.parse(l) as { pid: number })[0];
  if (!started) throw new Error(`the coordinator did not say it started an embedded PostgreSQL:\n${out}`);
  return {
    url,
    proc,
    // Its log object carries the postmaster's pid after the logger's own, so it is the one parsed.
    postgresPid: started.pid,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
