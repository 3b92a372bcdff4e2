// How fast the `rollgate` CLI answers (issue 18 item 5, docs/adr/0024): medians of N sequential
// runs of `--version`, `--help` and `servers` (against a real coordinator with two agents on this
// machine), bundled (`node dist/cli/rollgate.cjs`) against the sources through tsx (what `npm run
// rollgate` ran before); plus how long after a run's end `edition rollout --wait` and `upgrade logs
// --follow` return (the live stream, no polling).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startFleet } from '@rollgate/demo-fleet';
import { atMost, median, round, type BenchResult, type Figure } from '../lib/figures';
import { onCleanup, ROOT, tempDir } from '../lib/proc';

export interface CliStartupOptions {
  /** Sequential runs per command and variant; the median is reported. Default 10. */
  runs?: number;
  /** Rollouts followed with --wait (alternating 2.0 and 1.0). Default 4. */
  waits?: number;
}

interface Timed {
  /** Wall time from spawn to exit, ms. */
  ms: number;
  /** CPU time of the child (user + system), ms; NaN where /usr/bin/time is missing. */
  cpuMs: number;
  code: number;
  stdout: string;
  /** Wall clock (ms since the epoch) of the exit, and of the last output before it. */
  endedAt: number;
  lastOutputAt: number;
}

const TIME = '/usr/bin/time';
const haveTime = existsSync(TIME);

/**
 * Runs a command to its end. The CPU time comes from /usr/bin/time (on a busy machine wall time
 * mostly measures the wait for a core; CPU time is what the CLI itself costs).
 */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = haveTime
      ? spawn(TIME, ['-f', 'rollgate-bench-cpu %U %S', cmd, ...args], { cwd: ROOT, env })
      : spawn(cmd, args, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    let lastOutputAt = NaN;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      lastOutputAt = performance.timeOrigin + performance.now();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const t1 = performance.now();
      const m = /rollgate-bench-cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      resolve({
        ms: t1 - t0,
        cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN,
        code: code ?? 1,
        stdout,
        endedAt: performance.timeOrigin + t1,
        lastOutputAt,
      });
    });
  });
}

export async function benchCliStartup(opts: CliStartupOptions = {}): Promise<BenchResult> {
  const runs = opts.runs ?? 10;
  const waits = opts.waits ?? 4;
  const dir = tempDir('cli-startup');
  // A build tool, not a library of ours: loaded by path (as benches/agent.ts loads the agent's).
  const { buildCliBundle } = (await import(
    pathToFileURL(join(ROOT, 'tools/cli-bundle/build.mjs')).href
  )) as typeof import('../../../cli-bundle/build.mjs');
  const built = await buildCliBundle({ outDir: join(dir.path, 'dist') });
  const fleet = await startFleet({
    dir: join(dir.path, 'fleet'),
    heartbeatMs: 1000,
    agents: [
      { id: 'web-1', role: 'web' },
      { id: 'web-2', role: 'web' },
    ],
  });
  const stopFleet = onCleanup('cli-startup fleet', () => fleet.stop());
  const env = { ...process.env, ROLLGATE_URL: fleet.url, ROLLGATE_TOKEN: fleet.admin.token };

  const variants = {
    bundled: (args: string[]) => timed(process.execPath, [built.bundle, ...args], env),
    // What `npm run rollgate` was: the tsx CLI, which starts node with its loader and compiles.
    tsx: (args: string[]) =>
      timed(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'apps/cli/src/main.ts'), ...args], env),
  };
  const commands: Record<string, string[]> = {
    '--version': ['--version'],
    '--help': ['--help'],
    servers: ['servers'],
  };
  const targets: Record<string, [number, string]> = {
    '--version': [150, '≤ 150 ms'],
    servers: [300, '≤ 300 ms'],
  };

  const figures: Figure[] = [];
  const raw: Record<string, { wallMs: number; cpuMs: number }> = {};
  const load = [loadavg()[0]!];
  const fig = (c: string, value: number, note?: string): Figure => ({
    bench: 'cli-startup',
    case: c,
    value: round(value, 0),
    unit: 'ms',
    ...(note ? { note } : {}),
  });
  /** Medians of `runs` runs (after one to warm the page cache): wall and CPU time. */
  async function measure(label: string, run: () => Promise<Timed>, target?: [number, string]) {
    await run();
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await run();
      if (r.code !== 0) throw new Error(`${label} exited ${r.code}`);
      wall.push(r.ms);
      cpu.push(r.cpuMs);
    }
    raw[label] = { wallMs: round(median(wall), 0), cpuMs: round(median(cpu), 0) };
    const f = fig(`${label}: wall`, median(wall));
    figures.push(target ? atMost(f, target[0], target[1]) : f, fig(`${label}: CPU (user+sys)`, median(cpu)));
  }

  // node itself, for scale: nothing the CLI does can start faster than this.
  await measure('node -e 0 (floor)', () => timed(process.execPath, ['-e', '0'], env));
  for (const [name, args] of Object.entries(commands)) {
    for (const [variant, run] of Object.entries(variants)) {
      await measure(
        `${name} (${variant})`,
        () => run(args),
        variant === 'bundled' ? targets[name] : undefined,
      );
    }
  }
  load.push(loadavg()[0]!);

  // --wait and --follow: how long after the run's end (its finishedAt, same clock) the CLI exits,
  // and how much of that is the process ending after its last line (teardown on a busy machine).
  const waitLag: number[] = [];
  const waitTeardown: number[] = [];
  const followLag: number[] = [];
  for (let i = 0; i < waits; i++) {
    const edition = i % 2 === 0 ? '2.0' : '1.0';
    const r = await variants.bundled([
      'edition',
      'rollout',
      '--app',
      'demo-app',
      '--cluster',
      'demo',
      '--edition',
      edition,
      '--drainage-interval',
      '0',
      '--wait',
      '--json',
    ]);
    if (r.code !== 0) throw new Error(`edition rollout --wait exited ${r.code}`);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { run: { id: string } };
    const run = (await fleet.api.upgrade.status.query({ runId: last.run.id })).run;
    if (run.finishedAt === null) throw new Error(`run ${run.id} has not finished`);
    waitLag.push(r.endedAt - run.finishedAt);
    waitTeardown.push(r.endedAt - r.lastOutputAt);
  }
  for (let i = 0; i < waits; i++) {
    // Follow a run from its start: start it without --wait, follow it, compare with its end.
    const edition = (waits + i) % 2 === 0 ? '2.0' : '1.0';
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition,
      drainageIntervalSec: 0,
    });
    const r = await variants.bundled(['upgrade', 'logs', view.run.id, '--follow', '--json']);
    if (r.code !== 0) throw new Error(`upgrade logs --follow exited ${r.code}`);
    const run = (await fleet.api.upgrade.status.query({ runId: view.run.id })).run;
    if (run.finishedAt === null) throw new Error(`run ${run.id} has not finished`);
    followLag.push(r.endedAt - run.finishedAt);
  }
  load.push(loadavg()[0]!);
  figures.push(
    atMost(
      fig(
        `edition rollout --wait: exit after the run's end (median of ${waits})`,
        median(waitLag),
        `max ${round(Math.max(...waitLag), 0)} ms`,
      ),
      100,
      '≤ 100 ms',
    ),
    fig(
      '  of which: process exit after its last line',
      median(waitTeardown),
      `max ${round(Math.max(...waitTeardown), 0)} ms`,
    ),
    atMost(
      fig(
        `upgrade logs --follow: exit after the run's end (median of ${waits})`,
        median(followLag),
        `max ${round(Math.max(...followLag), 0)} ms; every line stored at the end (docs/adr/0055)`,
      ),
      100,
      '≤ 100 ms',
    ),
  );
  await stopFleet();
  await dir.remove();
  return {
    figures,
    method:
      `Medians of ${runs} sequential runs each (after one warm-up) of node ${built.bundle} (bundle ` +
      `${Math.round(built.bytes / 1024)} KB, commit ${built.commit}) and of node_modules/.bin/tsx ` +
      `apps/cli/src/main.ts: wall time from spawn to exit, and CPU time (user+sys, /usr/bin/time), ` +
      `against a real coordinator with two agents (demo fleet, embedded PostgreSQL) on this machine, ` +
      `ROLLGATE_TOKEN set. --wait/--follow: the CLI's exit time minus the run's finishedAt (same ` +
      `clock), over ${waits} rollouts each of two servers (drainage 0). 1-minute load average at ` +
      `start, after the start-up runs and at the end: ${load.map((l) => round(l, 1)).join(', ')} ` +
      `(${cpus().length} CPUs): wall times scale with it, CPU times much less. Raw: ` +
      JSON.stringify({
        raw,
        waitLag: waitLag.map((x) => round(x, 0)),
        followLag: followLag.map((x) => round(x, 0)),
      }),
  };
}
