// The HAProxy agent-check end to end: the listener on its own, then a REAL HAProxy polling the agent-check
// of a REAL agent process (managing the real demo-app, driven by a fake coordinator on loopback)
// next to a second server, with the load generator in front. HAProxy checks the services
// themselves (health mode service, docs/adr/0017), slowly on purpose (inter 2 s, fall 2), so what
// acts within ~agent-inter is the agent-check, which carries the coordinator's wish only.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  createHaproxyRuntime,
  renderHaproxyBackend,
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
import { createLogger } from '@rollgate/logger';
import {
  loadAgentProtocol,
  type ActionOp,
  type ActionUpdate__Output,
  type AgentMessage__Output,
  type CoordinatorMessage,
  type Hello__Output,
} from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentCheckServer } from './agent-check';
import { waiter } from '@rollgate/test-kit';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)), '../../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects, optionally sends agent-send text, and returns everything read until the server closes. */
function readAgentCheck(port: number, send?: string): Promise<string> {
  return new Promise((res, rej) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      if (send) sock.write(send);
    });
    sock.on('data', (d: string) => (data += d));
    sock.on('end', () => res(data));
    sock.on('error', rej);
  });
}

describe('agent-check listener', () => {
  it('answers each connection with the current line and closes; ignores agent-send; logs changes', async () => {
    const lines: string[] = [];
    const log = createLogger({
      name: 'test',
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    let line = 'ready up\n';
    const server = createAgentCheckServer({ host: '127.0.0.1', port: 0, line: () => line, log });
    const { port } = await server.start();
    try {
      expect(await readAgentCheck(port)).toBe('ready up\n');
      expect(await readAgentCheck(port, 'rollgate_demo/admin-1\n')).toBe('ready up\n');
      line = 'drain\n';
      const many = await Promise.all(Array.from({ length: 50 }, () => readAgentCheck(port)));
      expect(new Set(many)).toEqual(new Set(['drain\n']));
      const changes = lines.filter((l) => l.includes('agent-check answer changed'));
      expect(changes).toHaveLength(2);
      expect(changes[1]).toContain('"previous":"ready up","line":"drain"');
    } finally {
      await server.stop();
    }
    await expect(readAgentCheck(port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

// ------------------------------------------------------------------ a fake coordinator

interface FakeCoordinator {
  hellos: Hello__Output[];
  updates: ActionUpdate__Output[];
  send(msg: CoordinatorMessage): void;
  stop(): Promise<void>;
}

async function startFakeCoordinator(port: number): Promise<FakeCoordinator> {
  const protocol = loadAgentProtocol();
  const server = new grpc.Server();
  let stream: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage> | undefined;
  const fake: FakeCoordinator = {
    hellos: [],
    updates: [],
    send(msg) {
      if (!stream) throw new Error('no agent connected');
      stream.write(msg);
    },
    stop: async () => {
      stream = undefined;
      server.forceShutdown();
    },
  };
  server.addService(protocol.rollgate.agent.v1.AgentService.service, {
    Connect: (call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) => {
      call.on('data', (m: AgentMessage__Output) => {
        if (m.body === 'hello' && m.hello) {
          fake.hellos.push(m.hello);
          stream = call;
          call.write({
            welcome: { coordinatorVersion: 'fake-1', heartbeatIntervalMs: 1000, gateWish: 'GATE_STATE_OPEN' },
          });
        } else if (m.body === 'actionUpdate' && m.actionUpdate) fake.updates.push(m.actionUpdate);
        else if (m.body === 'logs' && m.logs) {
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

// ------------------------------------------------------------------ agent + demo-app + other server + HAProxy

const BACKEND = 'rollgate_demo';
const AGENT_INTER_MS = 500;
const CHECK_INTERVAL_MS = 2000;

let dir: string;
let dataDir: string;
let coord: FakeCoordinator;
let agent: ChildProcess | undefined;
let agentOutput = '';
let other: Server;
let hp: HaproxyProcess;
let rt: HaproxyRuntime;
let fePort: number;
let gatePort: number;
let agentCheckPort: number;
let appPort: number;

const { waitFor } = waiter({
  timeoutMs: 20_000,
  everyMs: 25,
  diagnostics: () =>
    `--- agent (tail) ---\n${agentOutput.slice(-3000)}\n--- haproxy ---\n${hp?.output().slice(-2000)}`,
});

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

const stat = async (name: string): Promise<ServerStat | undefined> =>
  (await rt.serverStats(BACKEND)).find((s) => s.name === name);

async function runAction(actionId: string, ops: ActionOp[]): Promise<ActionUpdate__Output> {
  coord.send({ runAction: { actionId, runId: 'agent-check', ops } });
  return waitFor(
    `final result of ${actionId}`,
    () => coord.updates.find((u) => u.actionId === actionId && /SUCCEEDED|FAILED|CANCELLED/.test(u.status)),
    60_000,
  );
}

/** Load on the frontend while `during` runs; every result, timestamped. */
async function underLoad(during: () => Promise<void>) {
  const results: LoadResult[] = [];
  const gen = createLoadGenerator({
    url: `http://127.0.0.1:${fePort}/`,
    ratePerSec: 200,
    keepAlive: true,
    timeoutMs: 5000,
    onResult: (r) => results.push(r),
  });
  gen.start();
  await sleep(500);
  await during();
  await sleep(500);
  return { results, report: await gen.stop() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-check-int-'));
  dataDir = join(dir, 'data');
  const [coordPort, otherPort] = [await freePort(), await freePort()];
  [fePort, gatePort, agentCheckPort, appPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];

  // The demo-app editions, built by the tool's CLI (the agent may not import tools/).
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'tools/demo-app/src/package-editions.ts', join(dir, 'editions')],
    { cwd: repoRoot },
  );
  const e1 = stdout
    .trim()
    .split('\n')
    .map((l) => l.split('\t'))
    .find((f) => f[0] === '1.0');
  if (!e1?.[3]) throw new Error(`package-editions printed no 1.0 edition:\n${stdout}`);

  const configPath = join(dir, 'agent.json');
  await writeFile(
    configPath,
    JSON.stringify({
      agentId: 'admin-1',
      cluster: 'demo',
      role: 'admin',
      // The fake coordinator speaks plaintext: the agent must opt in (docs/adr/0013).
      coordinator: { address: `127.0.0.1:${coordPort}`, insecure: true },
      dataDir: './data',
      gate: { host: '127.0.0.1', port: gatePort, agentCheckPort },
      services: [
        {
          name: 'demo-app',
          port: appPort,
          start: { command: process.execPath, args: ['server.mjs'] },
          env: { PORT: String(appPort), HOST: '127.0.0.1', SERVER_NAME: 'admin-1' },
          initialEdition: { name: '1.0', archive: e1[3] },
        },
      ],
    }),
  );

  coord = await startFakeCoordinator(coordPort);
  agent = spawn(process.execPath, ['--import', 'tsx', 'apps/agent/src/main.ts', '--config', configPath], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent.stdout?.on('data', (d: Buffer) => (agentOutput += d.toString()));
  agent.stderr?.on('data', (d: Buffer) => (agentOutput += d.toString()));

  // The second server in the backend: always healthy, tells itself apart by its body.
  other = createHttpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/gate' ? 'open\n' : '{"edition":"other"}');
  });
  await new Promise<void>((r) => other.listen(otherPort, '127.0.0.1', r));

  const hello = await waitFor('Hello from the agent', () => coord.hellos[0], 60_000);
  expect(hello.agentCheckPort).toBe(agentCheckPort);
  // Where HAProxy checks the service: reported by the agent from services[].healthUrl.
  expect(hello.services[0]).toMatchObject({ healthPath: '/health', healthPort: appPort });
  await waitFor(
    'gate open',
    async () => (await httpGet(gatePort, '/gate').catch(() => undefined))?.status === 200,
  );

  hp = await startHaproxy({
    config: ({ socketPath }) =>
      renderHaproxyBackend({
        cluster: 'demo',
        bind: `127.0.0.1:${fePort}`,
        runtimeSocketPath: socketPath,
        checkIntervalMs: CHECK_INTERVAL_MS,
        agentInterMs: AGENT_INTER_MS,
        servers: [
          {
            name: 'admin-1',
            address: '127.0.0.1',
            servicePort: appPort,
            gatePort,
            agentCheckPort,
            healthPath: hello.services[0]!.healthPath,
          },
          {
            name: 'other',
            address: '127.0.0.1',
            servicePort: otherPort,
            gatePort: otherPort,
            healthPath: '/health',
          },
        ],
      }),
  });
  rt = createHaproxyRuntime({ socketPath: hp.socketPath });
  await waitFor(
    'admin-1 UP with its agent-check answering',
    async () => (await stat('admin-1'))?.agentStatus === 'L7OK' && (await stat('admin-1'))?.status === 'UP',
  );
}, 120_000);

afterAll(async () => {
  const a = agent;
  if (a && a.exitCode === null) {
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGKILL');
    await exited;
  }
  try {
    const pid = (JSON.parse(await readFile(join(dataDir, 'run', 'demo-app.json'), 'utf8')) as { pid: number })
      .pid;
    process.kill(-pid, 'SIGKILL');
  } catch {
    // not running
  }
  await hp?.stop();
  await coord?.stop();
  if (other) await new Promise((r) => other.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('agent-check with a real HAProxy, agent and demo-app', () => {
  it('closing the wish stops new requests to the server within ~agent-inter; opening re-admits it', async () => {
    let closedAt = 0;
    let openedAt = 0;
    let drainStat: ServerStat | undefined;
    const { results, report } = await underLoad(async () => {
      closedAt = Date.now();
      coord.send({ setGate: { state: 'GATE_STATE_CLOSED', reason: 'test: drain through agent-check' } });
      drainStat = await waitFor('admin-1 DRAIN by its agent-check', async () => {
        const s = await stat('admin-1');
        return s?.status === 'DRAIN' ? s : undefined;
      });
      await sleep(2000);
      openedAt = Date.now();
      coord.send({ setGate: { state: 'GATE_STATE_OPEN', reason: 'test: back in rotation' } });
      await waitFor('admin-1 UP again', async () => (await stat('admin-1'))?.status === 'UP');
      await sleep(500);
    });
    expect(drainStat).toMatchObject({
      statusText: 'DRAIN (agent)',
      adminState: 'drain',
      // "drain up": the health word is always "up", which leaves health to the service check.
      agentStatus: 'L7OK',
    });
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);

    const toAdmin = results.filter((r) => r.key === '1.0');
    const lastBeforeOpen = Math.max(...toAdmin.filter((r) => r.startedAt < openedAt).map((r) => r.startedAt));
    const firstAfterOpen = Math.min(
      ...toAdmin.filter((r) => r.startedAt >= openedAt).map((r) => r.startedAt),
    );
    const detectMs = lastBeforeOpen - closedAt;
    const readmitMs = firstAfterOpen - openedAt;
    console.log(
      `[agent-check] agent-inter ${AGENT_INTER_MS} ms (HTTP check inter ${CHECK_INTERVAL_MS} ms, fall 2): last new request to the drained server was due ${detectMs} ms after the wish closed; first request after the wish opened was due ${readmitMs} ms after; ${report.sent} requests, 0 errors`,
    );
    // The HTTP check alone could not act before one full interval (2 s): this is the agent-check.
    expect(detectMs).toBeLessThan(AGENT_INTER_MS + 1000);
    expect(readmitMs).toBeLessThan(AGENT_INTER_MS + 1000);
    // In between, only the other server got new requests.
    const between = results.filter(
      (r) => r.startedAt > closedAt + AGENT_INTER_MS + 1000 && r.startedAt < openedAt,
    );
    expect(between.length).toBeGreaterThan(50);
    expect(new Set(between.map((r) => r.key))).toEqual(new Set(['other']));
  });

  it('a stop-and-start cycle driven only by the agent-check loses no request', async () => {
    let drained = '';
    const { results, report } = await underLoad(async () => {
      const closed = await runAction('cycle.close', [{ gate: { state: 'GATE_STATE_CLOSED' } }]);
      expect(closed.status).toBe('ACTION_STATUS_SUCCEEDED');
      // Gate-only: wait for HAProxy to notice (agent-inter + margin) before draining.
      await sleep(AGENT_INTER_MS + 250);
      const started = Date.now();
      const cycle = await runAction('cycle.restart', [
        // A drained server stays UP (service checks), so HAProxy may keep idle keep-alive
        // connections to it open past the last request: the drain then ends at its limit, and
        // stopping the service with them open must lose nothing (HAProxy sends them no request).
        { drain: { service: 'demo-app', maxWaitMs: 5_000 } },
        { stop: { service: 'demo-app', timeoutMs: 10_000 } },
        { start: { service: 'demo-app' } },
        { waitHealthy: { service: 'demo-app', timeoutMs: 20_000 } },
        { gate: { state: 'GATE_STATE_OPEN' } },
      ]);
      expect(cycle.reason).toBe('');
      expect(cycle.status).toBe('ACTION_STATUS_SUCCEEDED');
      drained = `restart cycle took ${Date.now() - started} ms`;
      await waitFor('admin-1 UP after the cycle', async () => (await stat('admin-1'))?.status === 'UP');
      await sleep(500);
    });
    console.log(
      `[agent-check] ${drained}; ${report.sent} requests: ${JSON.stringify(report.byBody)}, errors ${report.errors}`,
    );
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(results.at(-1)).toBeDefined();
    expect(report.byBody['1.0']).toBeGreaterThan(0);
  });

  it("the agent-check's word wins over the runtime API, and survives an HAProxy reload", async () => {
    // Wish open: a drain through the runtime API is undone by the next "ready up". The agent-check
    // is held while the drain is set and read, so the check cannot race the read.
    await rt.raw(`disable agent ${BACKEND}/admin-1`);
    await rt.setState(BACKEND, 'admin-1', 'drain');
    await waitFor(
      'admin-1 drained by the runtime API',
      async () => (await stat('admin-1'))?.adminState === 'drain',
    );
    await rt.raw(`enable agent ${BACKEND}/admin-1`);
    await waitFor(
      'agent "ready" clearing the drain',
      async () => (await stat('admin-1'))?.adminState === 'ready',
      5000,
    );

    // Wish closed: a reload forgets admin states, and the agent-check puts the drain back.
    coord.send({ setGate: { state: 'GATE_STATE_CLOSED', reason: 'test: reload' } });
    await waitFor(
      'admin-1 drained by its agent-check',
      async () => (await stat('admin-1'))?.adminState === 'drain',
    );
    await hp.reload();
    const reloadedAt = Date.now();
    await waitFor(
      'drain re-asserted after reload',
      async () => (await stat('admin-1'))?.adminState === 'drain',
      5000,
    );
    console.log(`[agent-check] drain re-asserted ${Date.now() - reloadedAt} ms after an HAProxy reload`);
    coord.send({ setGate: { state: 'GATE_STATE_OPEN', reason: 'test: reload done' } });
    await waitFor('admin-1 UP again', async () => (await stat('admin-1'))?.status === 'UP');
  });

  it("a stopped service is marked DOWN by HAProxy's own check of it, never by the agent-check; UP again once healthy", async () => {
    const stopped = await runAction('down.stop', [{ stop: { service: 'demo-app', timeoutMs: 10_000 } }]);
    expect(stopped.status).toBe('ACTION_STATUS_SUCCEEDED');
    const down = await waitFor('admin-1 DOWN by its health check', async () => {
      const s = await stat('admin-1');
      return s?.status === 'DOWN' ? s : undefined;
    });
    // DOWN by the check of the service (connection refused), while the agent still says "ready up".
    expect(down).toMatchObject({ statusText: 'DOWN', adminState: 'ready', agentStatus: 'L7OK' });
    expect(down.checkStatus).toMatch(/^L4CON|^L7/);
    expect(hp.output()).not.toContain('via agent : down');
    const status = JSON.parse((await httpGet(gatePort, '/status')).body) as { agentCheck: string };
    expect(status.agentCheck).toBe('ready up');

    const restarted = await runAction('down.start', [
      { start: { service: 'demo-app' } },
      { waitHealthy: { service: 'demo-app', timeoutMs: 20_000 } },
    ]);
    expect(restarted.status).toBe('ACTION_STATUS_SUCCEEDED');
    await waitFor('admin-1 UP once healthy', async () => (await stat('admin-1'))?.status === 'UP');
    expect(JSON.parse((await httpGet(gatePort, '/status')).body)).toMatchObject({ agentCheck: 'ready up' });
  });
});
