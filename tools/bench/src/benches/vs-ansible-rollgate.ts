// The Rollgate side of `vs-ansible`: the peer's fleet run by Rollgate. A real coordinator and one
// real agent per server (tools/demo-fleet's startFleet with the peer's svc.js as the service), the
// peer's HAProxy configuration in front of the services, and `rollgate edition rollout` run as an
// operator runs it, timed around the CLI process as the Ansible side is timed around
// ansible-playbook.
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MSG } from '@rollgate/domain';
import { startFleet, type Fleet, type FleetAgent } from '@rollgate/demo-fleet';
import { createHaproxyRuntime } from '@rollgate/lb';
import { freePort, startHaproxyOnFreePort } from '@rollgate/lb/testing';
import { onCleanup, ROOT, sleep, waitFor } from '../lib/proc';
import {
  editionsServed,
  intrinsicFromSvcLog,
  peerHaproxyConfig,
  readText,
  startWrk,
  sumIntrinsic,
  tarGz,
  writeEditionDir,
  type Load,
  type ServerIntrinsic,
  type WrkReport,
} from './vs-ansible-fleet';
import { COORDINATOR_UNIT, unitNice, unitNodeFlags } from './agent';
import { phasesFromRun, type RunPhases } from './vs-ansible-phases';

export const APP = 'svc';

export interface RollgateFleetOptions {
  dir: string;
  peerDir: string;
  cluster: string;
  servers: number;
  /** Editions to upload: the first is installed everywhere. */
  editions: string[];
  mode: 'haproxy-runtime' | 'gate-only';
  /** HAProxy's check interval, ms. */
  interMs: number;
  fall: number;
  rise: number;
  /** The cluster's readmitTimeoutMs (lb configure). */
  readmitTimeoutMs: number;
  /** The agent bundle (agentBundle()); none: tsx on the sources. */
  agentBundle?: string;
}

/**
 * Builds the agent bundle (tools/agent-bundle) into `outDir`: the agents then run as their systemd
 * unit runs them, and start in a fraction of tsx's time on a busy machine.
 */
export async function agentBundle(outDir: string): Promise<string> {
  const { buildAgentBundle } = (await import(
    pathToFileURL(join(ROOT, 'tools/agent-bundle/build.mjs')).href
  )) as typeof import('../../../agent-bundle/build.mjs');
  return (await buildAgentBundle({ outDir })).bundle;
}

export interface RollgateFleet {
  fleet: Fleet;
  front: string;
  svcLog(serverId: string): string;
  stop(): Promise<void>;
}

/**
 * Edition archives of the peer's service: svc.js and its EDITION file. The agent runs it in the
 * edition's directory and keeps a `current` link beside the editions, the layout svc.js reads.
 */
async function buildEditions(dir: string, peerDir: string, names: string[]) {
  const out: { name: string; path: string }[] = [];
  for (const name of names) {
    const staging = await writeEditionDir(join(dir, 'staging'), name);
    await copyFile(join(peerDir, 'svc.js'), join(staging, 'svc.js'));
    const path = join(dir, `svc-${name}.tgz`);
    tarGz(path, staging, ['EDITION', 'svc.js']);
    out.push({ name, path });
  }
  return out;
}

/** Gives a running process its unit's Nice= (root only, as systemd has it); says so when it cannot. */
function asUnitNice(pid: number | undefined, nice: number, what: string): void {
  if (pid === undefined || nice === 0) return;
  try {
    setPriority(pid, nice);
  } catch (err) {
    console.warn(
      `${what} runs at niceness 0, not its unit's ${nice}: ${(err as Error).message} (run the bench as root)`,
    );
  }
}

export async function startRollgateFleet(o: RollgateFleetOptions): Promise<RollgateFleet> {
  await mkdir(join(o.dir, 'svc'), { recursive: true });
  const editions = await buildEditions(join(o.dir, 'editions-src'), o.peerDir, o.editions);
  const svcLog = (id: string) => join(o.dir, 'svc', `${id}.log`);
  const fleet = await startFleet({
    dir: join(o.dir, 'fleet'),
    heartbeatMs: 1000,
    // Plaintext on loopback, as every bench (README "How"): the figures measure the rollout.
    insecure: true,
    ...(o.agentBundle
      ? {
          // As the unit runs it: its node flags and its Nice= (needs root here, as systemd has).
          agentCommand: (a: FleetAgent) => ({
            command: '/usr/bin/nice',
            args: [
              '-n',
              String(unitNice()),
              process.execPath,
              ...unitNodeFlags(),
              o.agentBundle!,
              '--config',
              a.configPath,
            ],
          }),
        }
      : {}),
    agents: Array.from({ length: o.servers }, (_, i) => ({
      id: `s${i + 1}`,
      role: 'web',
      cluster: o.cluster,
    })),
    service: {
      name: APP,
      editions,
      // svc.js as run.sh starts it (PORT, the editions folder, the server's name), its JSON lines
      // appended to a file per server for the intrinsic times; exec: the agent supervises node itself.
      start: {
        command: '/bin/sh',
        args: ['-c', 'exec "$NODE" svc.js "$PORT" "$EDITIONS_DIR" "$SERVER_ID" >> "$SVC_LOG" 2>&1'],
      },
      env: (a) => ({
        NODE: process.execPath,
        EDITIONS_DIR: join(a.dataDir, 'editions', APP),
        SERVER_ID: a.id,
        SVC_LOG: svcLog(a.id),
      }),
    },
  });
  const stopFleet = onCleanup(`rollgate fleet ${o.cluster}`, () => fleet.stop());
  // The coordinator as its unit runs it too (Nice=, docs/adr/0054); its embedded PostgreSQL, which
  // stands for the operator's own, was started before this and keeps niceness 0.
  asUnitNice(fleet.coordinator?.pid, unitNice(COORDINATOR_UNIT), 'the coordinator');
  const socketPath = join(o.dir, 'haproxy.sock');
  const gateOnly = o.mode === 'gate-only';
  const { haproxy, port } = await startHaproxyOnFreePort(
    (frontPort) =>
      peerHaproxyConfig({
        socketPath,
        frontPort,
        interMs: o.interMs,
        fall: o.fall,
        rise: o.rise,
        servers: fleet.agents.map((a) => ({
          name: a.id,
          port: a.servicePort,
          ...(gateOnly ? { agentCheckPort: a.agentCheckPort } : {}),
        })),
      }),
    freePort,
  );
  const stopHaproxy = onCleanup(`rollgate haproxy ${o.cluster}`, () => haproxy.stop());
  const runtime = createHaproxyRuntime({ socketPath, timeoutMs: 15_000 });
  await waitFor(
    `the ${o.cluster} fleet UP in HAProxy`,
    async () => {
      const rows = await runtime.serverStats('app');
      return rows.length === o.servers && rows.every((r) => r.status === 'UP') ? true : undefined;
    },
    60_000,
    200,
  );
  await fleet.api.lb.configure.mutate({
    cluster: o.cluster,
    config: {
      mode: o.mode,
      ...(gateOnly ? { agentInterMs: o.interMs } : { runtime: { socketPath } }),
      backend: 'app',
      checkIntervalMs: o.interMs,
      fall: o.fall,
      rise: o.rise,
      readmitTimeoutMs: o.readmitTimeoutMs,
    },
  });
  return {
    fleet,
    front: `http://127.0.0.1:${port}/`,
    svcLog,
    async stop() {
      await stopHaproxy();
      await stopFleet();
    },
  };
}

// ---------------------------------------------------------------- the CLI

export interface Cli {
  kind: 'bundle' | 'tsx';
  /** What is run, for the report. */
  describe: string;
  command: string;
  args: string[];
}

/**
 * The bundled CLI (dist/cli/rollgate.cjs, docs/adr/0024: no compilation at run time) when it is
 * built, else tsx on the sources.
 */
export function findCli(): Cli {
  const bundle = join(ROOT, 'dist/cli/rollgate.cjs');
  if (existsSync(bundle)) {
    return { kind: 'bundle', describe: `node ${bundle}`, command: process.execPath, args: [bundle] };
  }
  const main = join(ROOT, 'apps/cli/src/main.ts');
  return {
    kind: 'tsx',
    describe: `node --import tsx ${main}`,
    command: process.execPath,
    args: ['--import', 'tsx', main],
  };
}

export interface RollgateTrial {
  /** Around the CLI process, s. */
  wallS: number;
  /** The run's own startedAt → finishedAt, s. */
  runS: number | null;
  runId: string;
  intrinsicS: number;
  servers: ServerIntrinsic[];
  load: WrkReport | null;
  served: string[];
  phases: RunPhases;
}

export interface RolloutArgs {
  cluster: string;
  edition: string;
  groupSize: number;
  drainageIntervalSec: number;
}

/** One rollout of `edition` with the CLI, under `load`. */
export async function rollgateTrial(
  f: RollgateFleet,
  cli: Cli,
  peerDir: string,
  r: RolloutArgs,
  load: Load,
): Promise<RollgateTrial> {
  const wrk = load === 'none' ? null : startWrk(peerDir, f.front, load);
  if (wrk) await sleep(2000);
  const t0 = Date.now();
  const p0 = performance.now();
  const child = spawn(
    cli.command,
    [
      ...cli.args,
      'edition',
      'rollout',
      '--app',
      APP,
      '--cluster',
      r.cluster,
      '--edition',
      r.edition,
      '--group-size',
      String(r.groupSize),
      '--drainage-interval',
      String(r.drainageIntervalSec),
      '--wait',
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ROLLGATE_URL: f.fleet.url, ROLLGATE_TOKEN: f.fleet.admin.token, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number>((res) => child.once('exit', (c) => res(c ?? 1)));
  const wallS = (performance.now() - p0) / 1000;
  const t1 = Date.now();
  let report: WrkReport | null = null;
  if (wrk) {
    await sleep(2000);
    report = await wrk.stop();
  }
  const served = await editionsServed(f.front);
  const runId = /\brun (\S+) \(/.exec(out)?.[1];
  if (code !== 0 || !runId) throw new Error(`the CLI exited ${code}:\n${out.slice(-3000)}`);
  const view = await f.fleet.api.upgrade.status.query({ runId });
  // The CLI may exit before the run's last lines are stored (the engine writes its log in batches):
  // the last group's timing line comes just before "rollout completed".
  const logs = await waitFor(
    `the log of ${runId} up to its last line`,
    async () => {
      const got = await f.fleet.api.upgrade.logs.query({ runId, limit: 5000 });
      return got.some((l) => l.code === MSG.runCompleted.code) ? got : undefined;
    },
    15_000,
    50,
  );
  const servers = f.fleet.agents.map((a) => intrinsicFromSvcLog(readText(f.svcLog(a.id)), t0, t1));
  // BENCH_KEEP_LOGS=<dir>: the run's view and log too, with every op's time, for a post-mortem.
  const keep = process.env.BENCH_KEEP_LOGS;
  if (keep) {
    await mkdir(keep, { recursive: true });
    await writeFile(join(keep, `run-${runId}.json`), JSON.stringify({ view, logs, servers }, null, 1));
  }
  const runS =
    view.run.startedAt && view.run.finishedAt ? (view.run.finishedAt - view.run.startedAt) / 1000 : null;
  return {
    wallS,
    runS,
    runId,
    intrinsicS: sumIntrinsic(servers),
    servers,
    load: report,
    served,
    phases: phasesFromRun(
      view,
      logs,
      servers,
      f.fleet.agents.map((a) => a.id),
      { cliStart: t0, cliEnd: t1 },
    ),
  };
}
