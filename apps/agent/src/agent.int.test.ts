// The real agent process against a fake coordinator (a real grpc-js server on loopback speaking
// the wire contract) and the real demo-app.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  CAPABILITIES,
  loadAgentProtocol,
  type ActionOp,
  type ActionUpdate__Output,
  type AgentMessage__Output,
  type CoordinatorMessage,
  type FetchArtifactRequest__Output,
  type ArtifactChunk,
  type Hello__Output,
  type LogLine__Output,
  type Welcome,
} from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waiter } from '@rollgate/test-kit';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

// ------------------------------------------------------------------ helpers

const { waitFor } = waiter({
  timeoutMs: 20_000,
  everyMs: 25,
  diagnostics: () => `--- agent output (tail) ---\n${agentOutput.slice(-4000)}`,
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
const tryGet = (port: number, path: string) => httpGet(port, path).catch(() => undefined);

// ------------------------------------------------------------------ fake coordinator

interface FakeCoordinator {
  hellos: Hello__Output[];
  received: AgentMessage__Output[];
  updates: ActionUpdate__Output[];
  logs: LogLine__Output[];
  fetches: FetchArtifactRequest__Output[];
  welcome: Welcome;
  send(msg: CoordinatorMessage): void;
  connected(): boolean;
  stop(): Promise<void>;
}

const protocol = loadAgentProtocol();
const artifacts = new Map<string, Buffer>(); // by the sha256 the agent asks for

async function startFakeCoordinator(port: number, welcome: Welcome): Promise<FakeCoordinator> {
  const server = new grpc.Server();
  let stream: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage> | undefined;
  const fake: FakeCoordinator = {
    hellos: [],
    received: [],
    updates: [],
    logs: [],
    fetches: [],
    welcome,
    send(msg) {
      if (!stream) throw new Error('no agent connected');
      stream.write(msg);
    },
    connected: () => stream !== undefined,
    stop: () =>
      new Promise((res) => {
        stream = undefined;
        server.forceShutdown();
        res();
      }),
  };
  server.addService(protocol.rollgate.agent.v1.AgentService.service, {
    Connect: (call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) => {
      call.on('data', (m: AgentMessage__Output) => {
        fake.received.push(m);
        if (m.body === 'hello' && m.hello) {
          fake.hellos.push(m.hello);
          stream = call;
          call.write({ welcome: fake.welcome });
        } else if (m.body === 'actionUpdate' && m.actionUpdate) fake.updates.push(m.actionUpdate);
        else if (m.body === 'logs' && m.logs) fake.logs.push(...m.logs.lines);
      });
      call.on('end', () => {
        if (stream === call) stream = undefined;
        call.end();
      });
      call.on('error', () => {
        if (stream === call) stream = undefined;
      });
    },
    FetchArtifact: (call: grpc.ServerWritableStream<FetchArtifactRequest__Output, ArtifactChunk>) => {
      fake.fetches.push(call.request);
      const bytes = artifacts.get(call.request.sha256);
      if (!bytes) {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: `no artifact ${call.request.sha256}` });
        return;
      }
      for (let off = 0; off < bytes.length; off += 1000) {
        call.write({
          data: bytes.subarray(off, off + 1000),
          offset: off,
          totalSize: bytes.length,
          sha256: call.request.sha256,
        });
      }
      call.end();
    },
  });
  await new Promise<void>((res, rej) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? rej(err) : res(),
    ),
  );
  return fake;
}

// ------------------------------------------------------------------ the fleet of one

let dir: string;
let dataDir: string;
let configPath: string;
let coordPort: number;
let gatePort: number;
let appPort: number;
let coord: FakeCoordinator;
let agent: ChildProcess | undefined;
let agentOutput = '';
const editions = new Map<string, { sha256: string; size: number; path: string }>();

function startAgent(): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'apps/agent/src/main.ts', '--config', configPath],
    {
      cwd: repoRoot,
      env: { ...process.env, ROLLGATE_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (d: Buffer) => (agentOutput += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (agentOutput += d.toString()));
  return child;
}

async function stopAgent(signal: NodeJS.Signals): Promise<void> {
  const a = agent;
  agent = undefined;
  if (!a || a.exitCode !== null) return;
  const exited = new Promise((r) => a.once('exit', r));
  a.kill(signal);
  await exited;
}

async function servicePid(): Promise<number | undefined> {
  try {
    return (JSON.parse(await readFile(join(dataDir, 'run', 'demo-app.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

async function journal(): Promise<{ t: string; id: string; status?: string; reason?: string }[]> {
  return (await readFile(join(dataDir, 'journal.jsonl'), 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { t: string; id: string });
}

const finalUpdate = (id: string) =>
  waitFor(
    `final result of ${id}`,
    () => coord.updates.find((u) => u.actionId === id && /SUCCEEDED|FAILED|CANCELLED/.test(u.status)),
    60_000,
  );

const welcome: Welcome = {
  coordinatorVersion: 'fake-1',
  heartbeatIntervalMs: 200,
  gateWish: 'GATE_STATE_UNSPECIFIED',
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-int-'));
  dataDir = join(dir, 'data');
  [coordPort, gatePort, appPort] = [await freePort(), await freePort(), await freePort()];

  // Build the demo editions through the tool's CLI (the agent may not import tools/).
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'tools/demo-app/src/package-editions.ts', join(dir, 'editions')],
    { cwd: repoRoot },
  );
  for (const line of stdout.trim().split('\n')) {
    const [name, sha256, size, path] = line.split('\t');
    editions.set(name!, { sha256: sha256!, size: Number(size), path: path! });
    artifacts.set(sha256!, await readFile(path!));
  }

  await mkdir(join(dir, 'conf'));
  await writeFile(join(dir, 'conf', 'app.ini'), 'colour=blue\n');
  configPath = join(dir, 'agent.json');
  await writeFile(
    configPath,
    JSON.stringify({
      agentId: 'admin-1',
      cluster: 'demo',
      role: 'admin',
      // The fake coordinator is plaintext: the agent must opt in (docs/adr/0013).
      coordinator: { address: `127.0.0.1:${coordPort}`, insecure: true },
      dataDir: './data',
      gate: { host: '127.0.0.1', port: gatePort },
      services: [
        {
          name: 'demo-app',
          port: appPort,
          start: { command: process.execPath, args: ['server.mjs'] },
          healthUrl: `http://127.0.0.1:${appPort}/health`,
          env: { PORT: String(appPort), SERVER_NAME: 'admin-1' },
          configDir: 'conf',
          commands: {
            'db-upgrade': {
              command: process.execPath,
              args: ['-e', "console.log('migrating'); console.log('schema at v2')"],
            },
            broken: {
              command: process.execPath,
              args: ['-e', "console.error('no database at db:5432'); process.exit(3)"],
            },
          },
          initialEdition: { name: '1.0', archive: editions.get('1.0')!.path },
        },
      ],
    }),
  );

  coord = await startFakeCoordinator(coordPort, welcome);
  agent = startAgent();
}, 60_000);

afterAll(async () => {
  await stopAgent('SIGKILL');
  const pid = await servicePid();
  if (pid) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await coord?.stop();
  await rm(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ the tests

describe('agent against a fake coordinator and the real demo-app', () => {
  it('provisions the initial edition 1.0, starts it, and says Hello', async () => {
    const hello = await waitFor('Hello', () => coord.hellos[0]);
    expect(hello).toMatchObject({
      agentId: 'admin-1',
      cluster: 'demo',
      role: 'admin',
      gateUrl: `http://127.0.0.1:${gatePort}/gate`,
      gate: 'GATE_STATE_OPEN',
    });
    expect(hello.capabilities).toEqual(expect.arrayContaining(Object.values(CAPABILITIES)));
    expect(hello.services[0]).toMatchObject({
      name: 'demo-app',
      installedEditions: ['1.0'],
      activeEdition: '1.0',
    });

    const root = await waitFor('demo-app 1.0 answering', () => tryGet(appPort, '/'));
    expect(JSON.parse(root.body)).toMatchObject({ edition: '1.0', server: 'admin-1' });
    await waitFor('gate open', async () => (await tryGet(gatePort, '/gate'))?.status === 200);
    await waitFor('a heartbeat', () => coord.received.some((m) => m.body === 'heartbeat'));
    await waitFor('a health report with the gate open', () =>
      coord.received.some((m) => m.body === 'health' && m.health?.gateOpen),
    );
  });

  it('answers 503 on the gate while the coordinator wish is closed, and persists the wish', async () => {
    coord.send({ setGate: { state: 'GATE_STATE_CLOSED', reason: 'test' } });
    const closed = await waitFor('gate 503', async () => {
      const r = await tryGet(gatePort, '/gate');
      return r?.status === 503 ? r : undefined;
    });
    expect(closed.body.trim()).toBe('closed by coordinator');
    const state = JSON.parse(await readFile(join(dataDir, 'state.json'), 'utf8')) as { gateWish: string };
    expect(state.gateWish).toBe('closed');
    const status = JSON.parse((await httpGet(gatePort, '/status')).body) as Record<string, unknown>;
    expect(status).toMatchObject({
      agentId: 'admin-1',
      connected: true,
      gateWish: 'closed',
      gate: { open: false },
    });

    coord.send({ setGate: { state: 'GATE_STATE_OPEN', reason: 'test' } });
    await waitFor('gate 200 again', async () => (await tryGet(gatePort, '/gate'))?.status === 200);
  });

  it('runs the upgrade action to 2.0 without losing an in-flight request', async () => {
    const e2 = editions.get('2.0')!;
    const ops: ActionOp[] = [
      { gate: { state: 'GATE_STATE_CLOSED' } },
      { drain: { service: 'demo-app', maxWaitMs: 20_000 } },
      { stop: { service: 'demo-app', timeoutMs: 5000 } },
      { install: { service: 'demo-app', edition: '2.0', sha256: e2.sha256, size: e2.size } },
      { activate: { service: 'demo-app', edition: '2.0' } },
      { configure: { service: 'demo-app', edition: '2.0', env: { GREETING: 'hello' } } },
      { start: { service: 'demo-app' } },
      { waitHealthy: { service: 'demo-app', timeoutMs: 15_000 } },
      { gate: { state: 'GATE_STATE_OPEN' } },
      {
        probe: {
          service: 'demo-app',
          path: '/',
          expectStatus: 200,
          expectBodyContains: '"edition":"2.0"',
          timeoutMs: 2000,
        },
      },
    ];
    const oldPid = await servicePid();
    const inFlight = httpGet(appPort, '/slow?ms=700'); // must be answered by 1.0 before it stops
    await new Promise((r) => setTimeout(r, 50));
    coord.send({
      runAction: { actionId: 'run1.s0.admin-1.a1', runId: 'run1', stepIndex: 0, attempt: 1, ops },
    });

    const done = await finalUpdate('run1.s0.admin-1.a1');
    expect(done.reason).toBe('');
    expect(done.status).toBe('ACTION_STATUS_SUCCEEDED');
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(JSON.parse(slow.body)).toMatchObject({ edition: '1.0' });

    const mine = coord.updates.filter((u) => u.actionId === 'run1.s0.admin-1.a1');
    expect(mine[0]?.status).toBe('ACTION_STATUS_ACCEPTED');
    // RUNNING once as the action starts (docs/adr/0056); every op has its own start and end lines.
    expect(mine.filter((u) => u.status === 'ACTION_STATUS_RUNNING').map((u) => u.opIndex)).toEqual([0]);
    // Lines are shipped in batches, so they may come after the result.
    const opLines = await waitFor('a line for each op', () => {
      const ended = coord.logs.filter((l) => l.actionId === 'run1.s0.admin-1.a1' && l.code === 'RG0101I');
      return ended.length >= 10 ? ended : undefined;
    });
    expect(opLines.map((l) => l.message.match(/op (\d+)\/10/)?.[1])).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
    ]);

    const root = JSON.parse((await httpGet(appPort, '/')).body) as { edition: string; pid: number };
    expect(root.edition).toBe('2.0');
    expect(root.pid).not.toBe(oldPid);
    await waitFor('gate open after upgrade', async () => (await tryGet(gatePort, '/gate'))?.status === 200);

    // Side by side, current switched, configuration carried over.
    const svcDir = join(dataDir, 'editions', 'demo-app');
    expect((await readdir(svcDir)).sort()).toEqual(['1.0', '2.0', 'current']);
    const env = JSON.parse(await readFile(join(svcDir, '2.0', 'rollgate.env.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(env).toEqual({ PORT: String(appPort), SERVER_NAME: 'admin-1', GREETING: 'hello' });
    expect(await readFile(join(svcDir, '2.0', 'config', 'app.ini'), 'utf8')).toBe('colour=blue\n');
    expect(coord.fetches).toEqual([{ sha256: e2.sha256, agentId: 'admin-1' }]);

    // Progress shipped with stable codes, including the service's own output.
    await waitFor('service output', () =>
      coord.logs.some((l) => l.code === 'RG0190I' && l.message.includes('edition 2.0 listening')),
    );
    const codes = new Set(coord.logs.map((l) => l.code));
    for (const c of ['RG0100I', 'RG0101I', 'RG0110I', 'RG0111I', 'RG0112I', 'RG0113I', 'RG0114I', 'RG0190I'])
      expect(codes).toContain(c);
    const drained = coord.logs.find((l) => l.code === 'RG0111I' && /drained in/.test(l.message));
    expect(drained?.actionId).toBe('run1.s0.admin-1.a1');
  });

  it('answers the same action id from the journal without running it again', async () => {
    const before = coord.updates.length;
    const pid = await servicePid();
    coord.send({
      runAction: {
        actionId: 'run1.s0.admin-1.a1',
        runId: 'run1',
        stepIndex: 0,
        attempt: 1,
        ops: [{ stop: { service: 'demo-app', timeoutMs: 1000 } }],
      },
    });
    const again = await waitFor('journal answer', () =>
      coord.updates.slice(before).find((u) => u.actionId === 'run1.s0.admin-1.a1'),
    );
    expect(again.status).toBe('ACTION_STATUS_SUCCEEDED');
    await new Promise((r) => setTimeout(r, 300));
    expect(coord.updates.slice(before).filter((u) => u.actionId === 'run1.s0.admin-1.a1')).toHaveLength(1);
    expect(await servicePid()).toBe(pid); // the stop op was not run
    const started = (await journal()).filter((r) => r.t === 'started' && r.id === 'run1.s0.admin-1.a1');
    expect(started).toHaveLength(1);
  });

  it('runs named commands in the active edition, failing with the exit code and last line', async () => {
    coord.send({
      runAction: {
        actionId: 'cmd.ok',
        runId: 'cmd',
        ops: [{ command: { service: 'demo-app', command: 'db-upgrade', timeoutMs: 10_000 } }],
      },
    });
    expect(await finalUpdate('cmd.ok')).toMatchObject({ status: 'ACTION_STATUS_SUCCEEDED' });
    await waitFor('command output', () =>
      coord.logs.some(
        (l) => l.code === 'RG0190I' && l.actionId === 'cmd.ok' && l.message.includes('schema at v2'),
      ),
    );

    coord.send({
      runAction: {
        actionId: 'cmd.bad',
        runId: 'cmd',
        ops: [{ command: { service: 'demo-app', command: 'broken', timeoutMs: 10_000 } }],
      },
    });
    const bad = await finalUpdate('cmd.bad');
    expect(bad.status).toBe('ACTION_STATUS_FAILED');
    expect(bad.reason).toBe(
      'demo-app command broken exited with code 3; last output: no database at db:5432 (op 1/1: run demo-app command broken)',
    );

    coord.send({
      runAction: {
        actionId: 'cmd.unknown',
        runId: 'cmd',
        ops: [{ stop: { service: 'billing', timeoutMs: 1000 } }],
      },
    });
    const unknown = await finalUpdate('cmd.unknown');
    expect(unknown.status).toBe('ACTION_STATUS_FAILED');
    expect(unknown.reason).toContain(
      'this agent does not manage a service named "billing" (it manages: demo-app)',
    );
  });

  it('refuses an archive whose sha256 does not match and installs nothing', async () => {
    const claimed = createHash('sha256').update('something else').digest('hex');
    artifacts.set(claimed, artifacts.get(editions.get('2.0')!.sha256)!); // the coordinator serves the wrong bytes
    coord.send({
      runAction: {
        actionId: 'run2.s0.admin-1.a1',
        runId: 'run2',
        ops: [{ install: { service: 'demo-app', edition: '3.0', sha256: claimed, size: 10 } }],
      },
    });
    const f = await finalUpdate('run2.s0.admin-1.a1');
    expect(f.status).toBe('ACTION_STATUS_FAILED');
    expect(f.reason).toContain(
      `checksum mismatch for demo-app 3.0: expected ${claimed}, got ${editions.get('2.0')!.sha256}; the archive was refused and nothing was installed — re-upload the edition`,
    );
    expect(f.reason).toContain('install demo-app edition 3.0');
    expect(existsSync(join(dataDir, 'editions', 'demo-app', '3.0'))).toBe(false);
    expect((await readdir(join(dataDir, 'editions', 'demo-app'))).sort()).toEqual(['1.0', '2.0', 'current']);
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
    await waitFor('RG0120E', () =>
      coord.logs.some((l) => l.code === 'RG0120E' && l.actionId === 'run2.s0.admin-1.a1'),
    );
  });

  it('reconnects after the coordinator restarts and adopts the Welcome gate wish', async () => {
    await coord.stop();
    await waitFor('agent notices', async () =>
      (await tryGet(gatePort, '/status'))?.body.includes('"connected": false'),
    );
    // The gate keeps working while the coordinator is away; let a few reconnects fail first.
    expect((await httpGet(gatePort, '/gate')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(JSON.parse((await httpGet(gatePort, '/status')).body)).toMatchObject({ connected: false });
    coord = await startFakeCoordinator(coordPort, { ...welcome, gateWish: 'GATE_STATE_CLOSED' });
    const hello = await waitFor('Hello after coordinator restart', () => coord.hellos[0], 30_000);
    // Every finished result, newest last, so a coordinator that lost track can settle them.
    expect(hello.journaled.map((u) => [u.actionId, u.status])).toEqual([
      ['run1.s0.admin-1.a1', 'ACTION_STATUS_SUCCEEDED'],
      ['cmd.ok', 'ACTION_STATUS_SUCCEEDED'],
      ['cmd.bad', 'ACTION_STATUS_FAILED'],
      ['cmd.unknown', 'ACTION_STATUS_FAILED'],
      ['run2.s0.admin-1.a1', 'ACTION_STATUS_FAILED'],
    ]);
    expect(hello.services[0]).toMatchObject({
      installedEditions: ['1.0', '2.0'],
      activeEdition: '2.0',
      health: 'SERVICE_HEALTH_HEALTHY',
    });
    await waitFor('gate closed by Welcome', async () => (await tryGet(gatePort, '/gate'))?.status === 503);
    coord.send({ setGate: { state: 'GATE_STATE_OPEN', reason: 'back' } });
    await waitFor('gate reopened', async () => (await tryGet(gatePort, '/gate'))?.status === 200);
  });

  it('never re-runs an action interrupted by an agent crash; the service keeps serving', async () => {
    // An idle client connection keeps the drain waiting, so the agent dies mid-op.
    const sock: Socket = connect(appPort, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    coord.send({
      runAction: {
        actionId: 'run3.s0.admin-1.a1',
        runId: 'run3',
        ops: [{ drain: { service: 'demo-app', maxWaitMs: 60_000 } }],
      },
    });
    await waitFor('RUNNING', () =>
      coord.updates.find((u) => u.actionId === 'run3.s0.admin-1.a1' && u.status === 'ACTION_STATUS_RUNNING'),
    );
    const pid = await servicePid();
    await stopAgent('SIGKILL');
    sock.destroy();

    // The managed service does not depend on the agent.
    const root = JSON.parse((await httpGet(appPort, '/')).body) as { edition: string; pid: number };
    expect(root).toMatchObject({ edition: '2.0', pid });

    const hellosBefore = coord.hellos.length;
    agent = startAgent();
    const hello = await waitFor('Hello from the restarted agent', () => coord.hellos[hellosBefore], 30_000);
    const settled = hello.journaled.find((u) => u.actionId === 'run3.s0.admin-1.a1');
    expect(settled?.status).toBe('ACTION_STATUS_FAILED');
    expect(settled?.reason).toBe(
      'agent restarted while this action was running (op 1 of 1: drain demo-app (up to 60 s)); it was not re-run',
    );

    // Resent by the coordinator: answered from the journal, still not run.
    const before = coord.updates.length;
    coord.send({
      runAction: {
        actionId: 'run3.s0.admin-1.a1',
        runId: 'run3',
        ops: [{ drain: { service: 'demo-app', maxWaitMs: 60_000 } }],
      },
    });
    const answer = await waitFor('journal answer', () =>
      coord.updates.slice(before).find((u) => u.actionId === 'run3.s0.admin-1.a1'),
    );
    expect(answer.status).toBe('ACTION_STATUS_FAILED');

    // Re-adopted, not restarted.
    const status = await waitFor('healthy status', async () => {
      const s = JSON.parse((await httpGet(gatePort, '/status')).body) as {
        services: { pid: number; state: string }[];
      };
      return s.services[0]?.state === 'healthy' ? s : undefined;
    });
    expect(status.services[0]?.pid).toBe(pid);

    const recs = await journal();
    const startedIds = recs.filter((r) => r.t === 'started').map((r) => r.id);
    expect(new Set(startedIds).size).toBe(startedIds.length); // no id ever started twice
  });

  it('stops cleanly on SIGTERM and leaves the service running', async () => {
    const pid = await servicePid();
    const a = agent!;
    const code = new Promise<number | null>((r) => a.once('exit', (c) => r(c)));
    a.kill('SIGTERM');
    expect(await code).toBe(0);
    agent = undefined;
    expect(agentOutput).toContain('agent stopped');
    const root = JSON.parse((await httpGet(appPort, '/')).body) as { pid: number };
    expect(root.pid).toBe(pid);
  });
});
