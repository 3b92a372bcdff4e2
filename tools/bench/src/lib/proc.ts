// Processes, ports, temp dirs and /proc readings for the benchmarks. Everything a benchmark starts
// is registered here and torn down on normal exit, on error and on Ctrl-C (see installCleanup).
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waiter } from '@rollgate/test-kit';

export const ROOT = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));

type Cleanup = () => Promise<void> | void;
const cleanups: { name: string; fn: Cleanup }[] = [];

/** Registers a teardown; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(name: string, fn: Cleanup): () => Promise<void> {
  const entry = { name, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await entry.fn();
  };
}

/** Runs every registered teardown, newest first; errors are reported, not thrown. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const { name, fn } = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`bench cleanup "${name}" failed: ${(err as Error).message}\n`);
    }
  }
}

/** Ctrl-C, SIGTERM and crashes tear everything down before the process leaves. */
export function installCleanup(): void {
  let exiting = false;
  const bail = (code: number, why: string) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\nbench: ${why}; stopping everything it started…\n`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => bail(130, 'interrupted'));
  process.on('SIGTERM', () => bail(143, 'terminated'));
  process.on('uncaughtException', (err) => bail(1, `uncaught ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => bail(1, `unhandled rejection ${(err as Error)?.stack ?? err}`));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A temp directory every user can traverse (the embedded PostgreSQL runs as `postgres` when we are root). */
export function tempDir(prefix: string): { path: string; remove: () => Promise<void> } {
  const path = mkdtempSync(join(tmpdir(), `rollgate-bench-${prefix}-`));
  chmodSync(path, 0o755);
  const remove = onCleanup(`temp dir ${path}`, () => rmSync(path, { recursive: true, force: true }));
  return { path, remove };
}

/** A TCP port free on loopback right now (one implementation, shared with the tests). */
export { freePort } from '@rollgate/test-kit';

/** Polls until a probe returns a truthy value, every 100 ms (one implementation, shared with the tests). */
export { FatalWait } from '@rollgate/test-kit';
export const { waitFor } = waiter({ everyMs: 100 });

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      res();
    });
    child.kill('SIGTERM');
  });
}

/** Spawns a process and registers its teardown (SIGTERM, then SIGKILL). */
export function spawnTracked(
  name: string,
  command: string,
  args: string[],
  opts: SpawnOptions & { graceMs?: number },
): { child: ChildProcess; stop: () => Promise<void> } {
  const child = spawn(command, args, opts);
  const stop = onCleanup(name, () => stopProcess(child, opts.graceMs));
  return { child, stop };
}

// ---------------------------------------------------------------- /proc

let clkTck = 0;
/** Kernel clock ticks per second (utime/stime unit). */
export function clockTicks(): number {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Resident set size of a process in bytes (VmRSS), or NaN when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Proportional set size in bytes (smaps_rollup Pss): shared pages divided among their users. The
 * right figure to SUM over several processes sharing memory (PostgreSQL's backends share buffers).
 */
export function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used, in seconds; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(rest[11]) + Number(rest[12])) / clockTicks();
  } catch {
    return NaN;
  }
}

/** Direct and indirect children of `pid` (by scanning /proc). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const p = frontier.pop()!;
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

/** The postmaster pid of a PostgreSQL data directory, from postmaster.pid; null when not running. */
export function postmasterPid(pgDataDir: string): number | null {
  const file = join(pgDataDir, 'postmaster.pid');
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : null;
}

/** CPU seconds used by a process over a wall-clock window, as a percentage of one core. */
export async function cpuPercentOver(pid: number, ms: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(ms);
  const c1 = cpuSeconds(pid);
  return ((c1 - c0) / ((performance.now() - t0) / 1000)) * 100;
}
