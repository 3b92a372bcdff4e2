import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { startCoordinator, type CoordinatorProcess } from '../lib/coordinator';
import { measureUnpack } from './agent-unpack';
import { atMost, MB, median, round, type BenchResult, type Figure } from '../lib/figures';
import { readFileSync } from 'node:fs';
import { cpuSeconds, freePort, ROOT, rssBytes, sleep, spawnTracked, tempDir, waitFor } from '../lib/proc';

export interface AgentOptions {
  /** Window over which idle RSS and CPU are read. */
  idleSeconds: number;
  /**
   * Wait after the agent is connected before that window opens: an agent idle for a while, not one
   * still collecting its start-up garbage (V8 does ~8 s after start) or, without --lite-mode,
   * optimising its code (~20 s). Default 30 s.
   */
  settleSeconds: number;
  /** Also measure the esbuild single-file bundle (tools/agent-bundle). */
  bundle: boolean;
}

const STARTS = 3;
const slug = (name: string) => name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');

interface Variant {
  name: string;
  command: string[];
  /** tsx resolves from the working directory: the repo; the bundle needs nothing around it. */
  cwd?: string;
}

/** Private resident memory (RssAnon): what the process itself allocated, without mapped files. */
function rssAnonBytes(pid: number): number {
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** VmRSS of a Node.js process that does nothing (`setInterval` only): the floor any Node agent starts from. */
async function nodeFloor(): Promise<{ rss: number; anon: number }> {
  const { child, stop } = spawnTracked(
    'node floor',
    process.execPath,
    ['-e', 'setInterval(() => {}, 1000)'],
    {
      stdio: 'ignore',
    },
  );
  await sleep(2000);
  const r = { rss: rssBytes(child.pid!), anon: rssAnonBytes(child.pid!) };
  await stop();
  return r;
}

export const AGENT_UNIT = 'tools/agent-bundle/rollgate-agent.service';
export const COORDINATOR_UNIT = 'tools/package/debian/rollgate-coordinator/rollgate-coordinator.service';

/** The node flags the systemd unit starts the bundle with (between `node` and the script in ExecStart). */
export function unitNodeFlags(): string[] {
  const unit = readFileSync(join(ROOT, AGENT_UNIT), 'utf8');
  const m = /^ExecStart=\S*node((?:\s+-\S+)*)\s+\S+rollgate-agent\.cjs/m.exec(unit);
  if (!m) throw new Error(`${AGENT_UNIT}: no ExecStart running node with the bundle`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

/**
 * A unit's Nice= (docs/adr/0047, 0054): the bench runs agents and the coordinator at the niceness
 * their units give them. `unitPath` is relative to the repository; default the agent's unit.
 */
export function unitNice(unitPath = AGENT_UNIT): number {
  const unit = readFileSync(join(ROOT, unitPath), 'utf8');
  const m = /^Nice=(-?\d+)\s*$/m.exec(unit);
  return m ? Number(m[1]) : 0;
}

/** Extra node flags for the agent under test, e.g. BENCH_AGENT_NODE_ARGS="--cpu-prof" (profiling). */
const nodeArgs = () => (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** A stand-in for the managed service: answers its health URL with 200, as a healthy service does. */
async function healthService(): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, server };
}

async function measure(
  v: Variant,
  coord: CoordinatorProcess,
  servicePort: number,
  idleSeconds: number,
  settleSeconds: number,
): Promise<Figure[]> {
  const dir = tempDir(`agent-${slug(v.name)}`);
  const agentId = `bench-agent-${slug(v.name)}`;
  const configPath = join(dir.path, 'agent.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      agentId,
      cluster: 'bench',
      role: 'probe',
      coordinator: { address: coord.grpcAddress },
      dataDir: join(dir.path, 'data'),
      gate: { host: '127.0.0.1', port: await freePort() },
      services: [
        {
          name: 'app',
          port: servicePort,
          start: { command: 'node', args: ['server.mjs'] },
          healthUrl: `http://127.0.0.1:${servicePort}/health`,
        },
      ],
    }),
  );
  const startMs: number[] = [];
  let figures: Figure[] = [];
  try {
    for (let i = 1; i <= STARTS; i++) {
      const t0 = performance.now();
      const { child, stop } = spawnTracked(
        `agent ${v.name}`,
        process.execPath,
        [...nodeArgs(), ...v.command, '--config', configPath],
        {
          cwd: v.cwd ?? dir.path,
          // Plaintext and no enrolment, against the bench's coordinator (ROLLGATE_INSECURE_AGENTS).
          env: { ...process.env, ROLLGATE_LOG_LEVEL: 'info', ROLLGATE_AGENT_INSECURE: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const connected = new Promise<number>((res, rej) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.includes('"connected to coordinator"')) res(performance.now() - t0);
        });
        child.once('exit', (code) =>
          rej(new Error(`agent (${v.name}) exited with ${code}: ${stderr.slice(-1000)}`)),
        );
      });
      startMs.push(
        await Promise.race([
          connected,
          sleep(30_000).then(() =>
            Promise.reject(new Error(`agent (${v.name}) did not connect within 30 s`)),
          ),
        ]),
      );
      if (i < STARTS) {
        await stop();
        continue;
      }
      // The coordinator agrees it is connected.
      await waitFor(
        `${agentId} connected in servers.list`,
        async () => {
          const s = (await coord.api.servers.list.query({ cluster: 'bench' })).find((x) => x.id === agentId);
          return s?.status === 'connected' ? true : undefined;
        },
        10_000,
      );
      await sleep(settleSeconds * 1000);
      const pid = child.pid!;
      const c0 = cpuSeconds(pid);
      const t1 = performance.now();
      const rss: number[] = [];
      while (performance.now() - t1 < idleSeconds * 1000) {
        await sleep(1000);
        rss.push(rssBytes(pid));
      }
      const cpu = ((cpuSeconds(pid) - c0) / ((performance.now() - t1) / 1000)) * 100;
      const anon = rssAnonBytes(pid);
      await stop();
      figures = [
        atMost(
          {
            bench: 'agent',
            case: `${v.name}: start to connected`,
            value: round(median(startMs) / 1000, 2),
            unit: 's',
            note: `median of ${STARTS} starts (${startMs.map((m) => round(m / 1000, 2)).join(', ')} s): process spawn to "connected to coordinator"`,
          },
          0.5,
          '≤ 0.5 s',
        ),
        atMost(
          {
            bench: 'agent',
            case: `${v.name}: idle RSS`,
            value: round(Math.max(...rss) / MB, 1),
            unit: 'MB',
            note: `max VmRSS over ${idleSeconds} s connected and idle (min ${round(Math.min(...rss) / MB, 1)} MB, at the end ${round(rss[rss.length - 1]! / MB, 1)} MB); private (RssAnon) ${round(anon / MB, 1)} MB at the end, the rest is the node binary's mapped pages`,
          },
          40,
          '≤ 40 MB',
        ),
        atMost(
          {
            bench: 'agent',
            case: `${v.name}: idle CPU`,
            value: round(cpu, 2),
            unit: '% of a core',
            note: `utime+stime over ${idleSeconds} s: heartbeat 5 s, health poll 1 s`,
          },
          0.2,
          '≤ 0.2 %',
        ),
      ];
    }
  } finally {
    await dir.remove();
  }
  return figures;
}

/** The real agent, idle and connected to a real coordinator: under tsx and as the esbuild bundle. */
export async function benchAgent(opts: AgentOptions): Promise<BenchResult> {
  const variants: Variant[] = [
    { name: 'tsx', command: ['--import', 'tsx', join(ROOT, 'apps/agent/src/main.ts')], cwd: ROOT },
  ];
  let bundleNote = '';
  if (opts.bundle) {
    const out = tempDir('agent-bundle');
    const { buildAgentBundle } = (await import(
      pathToFileURL(join(ROOT, 'tools/agent-bundle/build.mjs')).href
    )) as typeof import('../../../agent-bundle/build.mjs');
    const t0 = performance.now();
    const built = await buildAgentBundle({ outDir: out.path });
    bundleNote = `bundle ${round(built.bytes / MB, 2)} MB built in ${round(performance.now() - t0, 0)} ms`;
    variants.push({ name: 'bundle', command: [built.bundle] });
    // As production runs it: with the node flags of the systemd unit's ExecStart.
    const flags = unitNodeFlags();
    variants.push({ name: `bundle ${flags.join(' ')} (systemd unit)`, command: [...flags, built.bundle] });
  }
  const coord = await startCoordinator({ heartbeatMs: 5000 });
  const service = await healthService();
  const figures: Figure[] = [];
  try {
    const floor = await nodeFloor();
    figures.push({
      bench: 'agent',
      case: 'node runtime floor: idle RSS',
      value: round(floor.rss / MB, 1),
      unit: 'MB',
      note: `node -e "setInterval(() => {}, 1000)" on this machine (private ${round(floor.anon / MB, 1)} MB): what any Node.js agent starts from`,
    });
    for (const v of variants)
      figures.push(...(await measure(v, coord, service.port, opts.idleSeconds, opts.settleSeconds)));
    // Issue 13: the agent as production runs it (the last variant), while its child unpacks.
    const prod = variants[variants.length - 1]!;
    figures.push(
      ...(await measureUnpack(prod.name, prod.command, prod.cwd, service.port, opts.settleSeconds)),
    );
  } finally {
    service.server.close();
    await coord.stop();
  }
  return {
    figures,
    method:
      'A real coordinator and the real agent (apps/agent) with one managed service whose health URL answers ' +
      `200 (a stand-in served by the bench). Start to connected: from spawn to the agent's "connected to ` +
      `coordinator" log line, median of ${STARTS} starts. Then, after ${opts.settleSeconds} s connected, VmRSS sampled every ` +
      `second and CPU (utime+stime from /proc/<pid>/stat) over the idle window. Under tsx (node --import tsx) ` +
      `and as the single-file bundle from tools/agent-bundle/build.mjs (node rollgate-agent.cjs), plain and with ` +
      `the node flags of its systemd unit (tools/agent-bundle/rollgate-agent.service). With an unpack in progress ` +
      `(tools/bench/src/benches/agent-unpack.ts): the last variant, connected to a minimal in-process ` +
      `coordinator, is sent an install of a 1 GiB edition (two files of a repeated 1 MiB block, ~20 MB gzip) ` +
      `after the same settle time; the agent's VmRSS and CPU (its heavy-work child apart), the child's peak ` +
      `VmRSS and GET /gate latency every ~20 ms are read until the install's result arrives. ${bundleNote}`,
  };
}
