// Issue 13 item 3: a dead or busy agent never takes a healthy service out of rotation. REAL agent
// processes manage a service that is not the demo (a stdlib Python HTTP server with /healthz),
// each driven by a fake coordinator on loopback, behind a REAL HAProxy running the configuration
// renderHaproxyBackend generates in its default health mode (the service's own health path). A
// second HAProxy runs the gate-mode configuration over the same servers, as the contrast: there a
// dead agent does take its server out, which is what proves the service-mode result means something.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import {
  createHaproxyRuntime,
  renderHaproxyBackend,
  type HaproxyBackendServer,
  type HaproxyRuntime,
  type ServerStat,
} from '@rollgate/lb';
import {
  createLoadGenerator,
  freePort,
  startHaproxy,
  type HaproxyProcess,
  type LoadResult,
} from '@rollgate/lb/testing';
import {
  loadAgentProtocol,
  type AgentMessage__Output,
  type CoordinatorMessage,
  type Hello__Output,
} from '@rollgate/protocol';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const BACKEND = 'shop';
const CHECK_INTER_MS = 300;
const AGENT_INTER_MS = 300;
const AGENTS = ['api-1', 'api-2'] as const;
type AgentId = (typeof AGENTS)[number];

// The service: not the demo. GET / answers {"edition": NAME}; GET /healthz answers 200, every
// LATE_EVERY-th probe of the agent (HTTP/1.1; HAProxy's checks are HTTP/1.0) after 1.5 s.
// GET /probes says how many agent probes it saw and how many it answered late.
const SERVICE_PY = `
import http.server, json, os, threading, time
NAME = os.environ['NAME']
LATE_EVERY = int(os.environ.get('LATE_EVERY', '0'))
lock = threading.Lock()
seen = {'probes': 0, 'late': 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def answer(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        if self.path == '/healthz':
            late = False
            if self.request_version == 'HTTP/1.1':
                with lock:
                    seen['probes'] += 1
                    late = LATE_EVERY > 0 and seen['probes'] % LATE_EVERY == 0
                    if late: seen['late'] += 1
            if late: time.sleep(1.5)
            return self.answer(200, 'ok')
        if self.path == '/probes':
            with lock: return self.answer(200, json.dumps(seen))
        return self.answer(200, json.dumps({'edition': NAME}))
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
S(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
`;
import { waiter } from '@rollgate/test-kit';

// ------------------------------------------------------------------ a fake coordinator for several agents

interface FakeCoordinator {
  hellos: Hello__Output[];
  /** Every service health each agent reported, in order. */
  reported: Record<string, string[]>;
  send(agentId: string, msg: CoordinatorMessage): void;
  stop(): Promise<void>;
}

async function startFakeCoordinator(port: number): Promise<FakeCoordinator> {
  const protocol = loadAgentProtocol();
  const server = new grpc.Server();
  const streams = new Map<string, grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>>();
  const fake: FakeCoordinator = {
    hellos: [],
    reported: {},
    send(agentId, msg) {
      const s = streams.get(agentId);
      if (!s) throw new Error(`agent ${agentId} is not connected`);
      s.write(msg);
    },
    stop: async () => {
      streams.clear();
      server.forceShutdown();
    },
  };
  server.addService(protocol.rollgate.agent.v1.AgentService.service, {
    Connect: (call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) => {
      let id = '';
      call.on('data', (m: AgentMessage__Output) => {
        if (m.body === 'hello' && m.hello) {
          id = m.hello.agentId;
          fake.hellos.push(m.hello);
          streams.set(id, call);
          call.write({
            welcome: { coordinatorVersion: 'fake-1', heartbeatIntervalMs: 1000, gateWish: 'GATE_STATE_OPEN' },
          });
        } else if (m.body === 'health' && m.health) {
          (fake.reported[id] ??= []).push(...m.health.services.map((s) => s.health));
        } else if (m.body === 'logs' && m.logs) {
          const upToSeq = Math.max(...m.logs.lines.map((l) => Number(l.seq)));
          call.write({ logAck: { streamId: m.logs.streamId, upToSeq } });
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
    FetchArtifact: (call: grpc.ServerWritableStream<unknown, unknown>) =>
      call.emit('error', { code: grpc.status.NOT_FOUND, details: 'no artifacts here' }),
  });
  await new Promise<void>((res, rej) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? rej(err) : res(),
    ),
  );
  return fake;
}

// ------------------------------------------------------------------ fleet: two agents, two services, two HAProxies

interface Node {
  id: AgentId;
  dir: string;
  configPath: string;
  servicePort: number;
  gatePort: number;
  agentCheckPort: number;
  proc?: ChildProcess;
  output: string;
}

let dir: string;
let coord: FakeCoordinator;
const nodes = new Map<AgentId, Node>();
let hpService: HaproxyProcess;
let hpGate: HaproxyProcess;
let rtService: HaproxyRuntime;
let rtGate: HaproxyRuntime;
let fePort: number;

function diagnostics(): string {
  const agents = [...nodes.values()].map((n) => `--- ${n.id} (tail) ---\n${n.output.slice(-1500)}`);
  return `${agents.join('\n')}\n--- haproxy (service mode) ---\n${hpService?.output().slice(-1500)}`;
}

const { waitFor } = waiter({ timeoutMs: 30_000, diagnostics });

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

function startAgent(n: Node): void {
  n.proc = spawn(process.execPath, ['--import', 'tsx', 'apps/agent/src/main.ts', '--config', n.configPath], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  n.proc.stdout?.on('data', (d: Buffer) => (n.output = (n.output + d.toString()).slice(-20_000)));
  n.proc.stderr?.on('data', (d: Buffer) => (n.output = (n.output + d.toString()).slice(-20_000)));
}

async function killAgent(n: Node): Promise<void> {
  const p = n.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

const statsOf = async (rt: HaproxyRuntime): Promise<Map<string, ServerStat>> =>
  new Map((await rt.serverStats(BACKEND)).map((s) => [s.name, s]));

/** Load on the service-mode frontend while `during` runs; every result, timestamped. */
async function underLoad(during: () => Promise<void>) {
  const results: LoadResult[] = [];
  const gen = createLoadGenerator({
    url: `http://127.0.0.1:${fePort}/`,
    ratePerSec: 150,
    keepAlive: true,
    timeoutMs: 5000,
    onResult: (r) => results.push(r),
  });
  gen.start();
  await sleep(300);
  await during();
  await sleep(300);
  return { results, report: await gen.stop() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-death-int-'));
  const coordPort = await freePort();
  fePort = await freePort();
  const feGatePort = await freePort();

  // One edition of the service, packaged as an operator would.
  const staging = join(dir, 'staging');
  await mkdir(staging);
  await writeFile(join(staging, 'server.py'), SERVICE_PY);
  const archive = join(dir, 'shop-api-1.0.tgz');
  await tar.create({ gzip: true, portable: true, cwd: staging, file: archive }, ['server.py']);

  coord = await startFakeCoordinator(coordPort);
  for (const id of AGENTS) {
    const n: Node = {
      id,
      dir: join(dir, id),
      configPath: join(dir, id, 'agent.json'),
      servicePort: await freePort(),
      gatePort: await freePort(),
      agentCheckPort: await freePort(),
      output: '',
    };
    await mkdir(n.dir);
    await writeFile(
      n.configPath,
      JSON.stringify({
        agentId: id,
        cluster: 'shop',
        role: 'api',
        coordinator: { address: `127.0.0.1:${coordPort}`, insecure: true },
        dataDir: './data',
        gate: { host: '127.0.0.1', port: n.gatePort, agentCheckPort: n.agentCheckPort },
        services: [
          {
            name: 'api',
            port: n.servicePort,
            start: { command: 'python3', args: ['server.py'] },
            healthUrl: `http://127.0.0.1:${n.servicePort}/healthz`,
            // api-2's probe times out before its late answers come: each one FAILS, and must not count.
            ...(id === 'api-2' ? { health: { timeoutMs: 1000 } } : {}),
            env: { PORT: String(n.servicePort), NAME: id, ...(id === 'api-2' ? { LATE_EVERY: '5' } : {}) },
            initialEdition: { name: '1.0', archive },
          },
        ],
      }),
    );
    nodes.set(id, n);
    startAgent(n);
  }

  const hellos = await waitFor(
    'Hello from both agents',
    () => (AGENTS.every((id) => coord.hellos.some((h) => h.agentId === id)) ? coord.hellos : undefined),
    90_000,
  );
  // The servers as the coordinator learns them: the health path comes from the agents' Hello.
  const servers: HaproxyBackendServer[] = AGENTS.map((id) => {
    const h = hellos.find((x) => x.agentId === id)!;
    const svc = h.services[0]!;
    const gate = new URL(h.gateUrl);
    return {
      name: id,
      address: '127.0.0.1',
      servicePort: svc.port,
      gatePort: Number(gate.port),
      agentCheckPort: h.agentCheckPort,
      healthPath: svc.healthPath,
      healthPort: svc.healthPort,
    };
  });
  expect(servers.map((s) => s.healthPath)).toEqual(['/healthz', '/healthz']);
  for (const n of nodes.values())
    await waitFor(
      `${n.id}'s gate open`,
      async () => (await httpGet(n.gatePort, '/gate').catch(() => undefined))?.status === 200,
      60_000,
    );

  const common = { cluster: 'shop', backend: BACKEND, checkIntervalMs: CHECK_INTER_MS, fall: 2, rise: 2 };
  hpService = await startHaproxy({
    config: ({ socketPath }) =>
      renderHaproxyBackend({
        ...common,
        bind: `127.0.0.1:${fePort}`,
        runtimeSocketPath: socketPath,
        agentInterMs: AGENT_INTER_MS,
        servers,
      }),
  });
  hpGate = await startHaproxy({
    config: ({ socketPath }) =>
      renderHaproxyBackend({
        ...common,
        health: 'gate',
        bind: `127.0.0.1:${feGatePort}`,
        runtimeSocketPath: socketPath,
        agentInterMs: AGENT_INTER_MS,
        servers,
      }),
  });
  expect(await readFile(hpService.configPath, 'utf8')).toContain('option httpchk GET /healthz');
  expect(await readFile(hpGate.configPath, 'utf8')).toContain('option httpchk GET /gate');
  rtService = createHaproxyRuntime({ socketPath: hpService.socketPath });
  rtGate = createHaproxyRuntime({ socketPath: hpGate.socketPath });
  for (const rt of [rtService, rtGate])
    await waitFor('both servers UP with their agent-check answering', async () => {
      const st = await statsOf(rt);
      return AGENTS.every((id) => st.get(id)?.status === 'UP' && st.get(id)?.agentStatus === 'L7OK');
    });
}, 180_000);

afterAll(async () => {
  for (const n of nodes.values()) {
    await killAgent(n);
    try {
      const run = join(n.dir, 'data', 'run', 'api.json');
      const pid = (JSON.parse(await readFile(run, 'utf8')) as { pid: number }).pid;
      process.kill(-pid, 'SIGKILL');
    } catch {
      // not running
    }
  }
  await hpService?.stop();
  await hpGate?.stop();
  await coord?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a dead or busy agent never takes a healthy service out of rotation (issue 13 item 3)', () => {
  it("a service answering every 5th agent probe after 1.5 s: the agent's gate never closes, its health never flips", async () => {
    const api2 = nodes.get('api-2')!;
    const before = JSON.parse((await httpGet(api2.servicePort, '/probes')).body) as { late: number };
    const reportedBefore = coord.reported['api-2']?.length ?? 0;
    const logBefore = api2.output.length;
    const gateAnswers = new Map<number, number>();
    const details = new Set<string>();
    // Until the service has answered two more probes late (each one a failed probe: timeout 1 s).
    await waitFor(
      'two late probes',
      async () => {
        const g = await httpGet(api2.gatePort, '/gate');
        gateAnswers.set(g.status, (gateAnswers.get(g.status) ?? 0) + 1);
        const st = JSON.parse((await httpGet(api2.gatePort, '/status')).body) as {
          services: { detail: string }[];
        };
        details.add(st.services[0]?.detail ?? '');
        const now = JSON.parse((await httpGet(api2.servicePort, '/probes')).body) as { late: number };
        return now.late >= before.late + 2;
      },
      60_000,
    );
    await sleep(1600); // the last late probe has timed out on the agent's side
    const g = await httpGet(api2.gatePort, '/gate');
    gateAnswers.set(g.status, (gateAnswers.get(g.status) ?? 0) + 1);
    const status = JSON.parse((await httpGet(api2.gatePort, '/status')).body) as {
      services: { state: string }[];
    };
    console.log(
      `[agent-death] api-2 late probes: gate answers ${JSON.stringify(Object.fromEntries(gateAnswers))}`,
    );
    expect([...gateAnswers.keys()]).toEqual([200]);
    expect(status.services[0]?.state).toBe('healthy');
    const reported = (coord.reported['api-2'] ?? []).slice(reportedBefore);
    expect(reported.filter((h) => h !== 'SERVICE_HEALTH_HEALTHY')).toEqual([]);
    // The late probes did fail on the agent's side (so this test can fail)...
    expect([...details].some((d) => d.startsWith('1 of 3 failed probes before unhealthy'))).toBe(true);
    // ...and the gate never closed meanwhile.
    expect(api2.output.slice(logBefore)).not.toMatch(/"gate closed"/);
  }, 90_000);

  it('every agent SIGKILLed at once under load: 0 failed requests, every server stays UP', async () => {
    let killedAt = 0;
    const samples: string[] = [];
    const gateModeDown = new Set<string>();
    const { results, report } = await underLoad(async () => {
      await sleep(500);
      killedAt = Date.now();
      await Promise.all([...nodes.values()].map((n) => killAgent(n)));
      // The agents are gone: their gates and agent-checks refuse connections.
      for (const n of nodes.values())
        await expect(httpGet(n.gatePort, '/gate')).rejects.toThrow(/ECONNREFUSED/);
      // Many check intervals (fall 2 x inter 300 ms = 0.6 s would mark a server DOWN).
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const st = await statsOf(rtService);
        for (const id of AGENTS) samples.push(`${id} ${st.get(id)?.status} ${st.get(id)?.adminState}`);
        const gt = await statsOf(rtGate);
        for (const id of AGENTS) if (gt.get(id)?.status === 'DOWN') gateModeDown.add(id);
        await sleep(100);
      }
    });
    const afterKill = results.filter((r) => r.startedAt > killedAt + 1000);
    console.log(
      `[agent-death] all agents SIGKILLed: ${report.sent} requests, errors ${report.errors}, non-2xx ${report.non2xx}, by server ${JSON.stringify(report.byBody)}; service-mode samples ${samples.length}, gate-mode servers DOWN: ${[...gateModeDown].join(', ')}`,
    );
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(new Set(samples)).toEqual(new Set(AGENTS.map((id) => `${id} UP ready`)));
    // Both servers kept serving after the agents died.
    expect(new Set(afterKill.map((r) => r.key))).toEqual(new Set(AGENTS));
    // The contrast: the gate-mode configuration took both healthy servers out.
    expect([...gateModeDown].sort()).toEqual([...AGENTS]);
  }, 60_000);

  it('agents restarted: the drain through the agent-check still works, with no request lost', async () => {
    const hellosBefore = coord.hellos.length;
    for (const n of nodes.values()) startAgent(n);
    await waitFor('Hello from both restarted agents', () => coord.hellos.length >= hellosBefore + 2, 90_000);
    const api1 = nodes.get('api-1')!;
    // The service was left running and was adopted, not restarted.
    const st = JSON.parse((await httpGet(api1.gatePort, '/status')).body) as { agentCheck: string };
    expect(st.agentCheck).toBe('ready up');

    let closedAt = 0;
    let openedAt = 0;
    let drained: ServerStat | undefined;
    let drainSeenAt = 0;
    const { results, report } = await underLoad(async () => {
      closedAt = Date.now();
      coord.send('api-1', { setGate: { state: 'GATE_STATE_CLOSED', reason: 'test: drain after restart' } });
      drained = await waitFor('api-1 DRAIN by its agent-check', async () => {
        const s = (await statsOf(rtService)).get('api-1');
        return s?.status === 'DRAIN' ? s : undefined;
      });
      drainSeenAt = Date.now();
      await sleep(1500);
      openedAt = Date.now();
      coord.send('api-1', { setGate: { state: 'GATE_STATE_OPEN', reason: 'test: back in rotation' } });
      await waitFor('api-1 UP again', async () => {
        const s = (await statsOf(rtService)).get('api-1');
        return s?.status === 'UP' && s.adminState === 'ready';
      });
      await sleep(500);
    });
    expect(drained).toMatchObject({ statusText: 'DRAIN (agent)', adminState: 'drain' });
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    // Once HAProxy shows the drain, new requests go to api-2 only.
    console.log(
      `[agent-death] after the restart, the drain reached HAProxy ${drainSeenAt - closedAt} ms after the wish closed`,
    );
    const between = results.filter((r) => r.startedAt > drainSeenAt + 100 && r.startedAt < openedAt);
    expect(between.length).toBeGreaterThan(20);
    expect(new Set(between.map((r) => r.key))).toEqual(new Set(['api-2']));
    expect(results.some((r) => r.key === 'api-1' && r.startedAt > openedAt)).toBe(true);
  }, 150_000);
});
