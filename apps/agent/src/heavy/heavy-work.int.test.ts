// Issue 13 items 1 and 2 with the real agent process (under tsx, as agent.int.test.ts runs it)
// against a fake coordinator (a real grpc-js server on loopback): while the agent's heavy-work
// child unpacks a 1 GiB edition, the gate and the HAProxy agent-check keep answering; a 20 GiB
// decompression bomb is refused naming the limit, leaves nothing behind, and the agent's memory
// returns to its resting figure.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import {
  loadAgentProtocol,
  type ActionUpdate__Output,
  type AgentMessage__Output,
  type ArtifactChunk,
  type CoordinatorMessage,
  type FetchArtifactRequest__Output,
} from '@rollgate/protocol';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBomb, writeGzipTar } from '../../test/archives';
import { createHeavyClient } from './heavy-client';
import { freePort, waiter } from '@rollgate/test-kit';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)), '../../..');
const MiB = 1024 * 1024;

let agentOutput = '';

const { waitFor } = waiter({
  timeoutMs: 60_000,
  diagnostics: () => `--- agent output (tail) ---\n${agentOutput.slice(-4000)}`,
});

/** ms until the gate answered (any status), or undefined when it did not answer within 5 s. */
function probeGate(port: number): Promise<number | undefined> {
  const t0 = performance.now();
  return new Promise((res) => {
    const req = request({ host: '127.0.0.1', port, path: '/gate', agent: false, timeout: 5000 }, (r) => {
      r.resume();
      r.on('end', () => res(performance.now() - t0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(undefined));
    req.end();
  });
}

/** ms until the agent-check sent its line, or undefined. */
function probeAgentCheck(port: number): Promise<number | undefined> {
  const t0 = performance.now();
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    let line = '';
    s.setTimeout(5000, () => s.destroy());
    s.on('data', (d) => {
      line += d.toString();
      if (line.includes('\n')) {
        res(performance.now() - t0);
        s.destroy();
      }
    });
    s.on('error', () => res(undefined));
    s.on('close', () => res(undefined));
  });
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) / 1024;
}

// ------------------------------------------------------------------ fake coordinator

const protocol = loadAgentProtocol();
const artifacts = new Map<string, string>(); // sha256 -> file
const stalling = new Set<string>(); // sha256s whose stream sends one chunk, then nothing
const updates: ActionUpdate__Output[] = [];
const logLines: { actionId: string; message: string }[] = [];
let stream: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage> | undefined;
let server: grpc.Server;

async function startCoordinator(port: number): Promise<void> {
  server = new grpc.Server();
  server.addService(protocol.rollgate.agent.v1.AgentService.service, {
    Connect: (call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) => {
      call.on('data', (m: AgentMessage__Output) => {
        if (m.body === 'hello') {
          stream = call;
          call.write({ welcome: { coordinatorVersion: 'fake', heartbeatIntervalMs: 500 } });
        } else if (m.body === 'actionUpdate' && m.actionUpdate) updates.push(m.actionUpdate);
        else if (m.body === 'logs' && m.logs) logLines.push(...m.logs.lines);
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
    FetchArtifact: (call: grpc.ServerWritableStream<FetchArtifactRequest__Output, ArtifactChunk>) => {
      const file = artifacts.get(call.request.sha256);
      if (!file) {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: 'no such artifact' });
        return;
      }
      void (async () => {
        let offset = 0;
        for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) {
          const data = chunk as Buffer;
          if (!call.write({ data, offset, sha256: call.request.sha256 })) {
            await new Promise((r) => call.once('drain', r));
          }
          offset += data.length;
          if (stalling.has(call.request.sha256)) return;
        }
        call.end();
      })();
    },
  });
  await new Promise<void>((res, rej) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? rej(err) : res(),
    ),
  );
}

async function publish(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(file)) {
    hash.update(c as Buffer);
    size += (c as Buffer).length;
  }
  const sha256 = hash.digest('hex');
  artifacts.set(sha256, file);
  return { sha256, size };
}

function install(id: string, edition: string, a: { sha256: string; size: number }) {
  if (!stream) throw new Error('no agent connected');
  stream.write({
    runAction: {
      actionId: id,
      runId: 'r',
      stepIndex: 0,
      attempt: 1,
      ops: [{ install: { service: 'api', edition, sha256: a.sha256, size: a.size } }],
    },
  });
  return waitFor(
    `the result of ${id}`,
    () => updates.find((u) => u.actionId === id && /SUCCEEDED|FAILED|CANCELLED/.test(u.status)),
    120_000,
  );
}

/** The line the agent logged when the action's op succeeded (it says how the op went). */
const succeededLine = (id: string) =>
  waitFor(
    `the success line of ${id}`,
    () => logLines.find((l) => l.actionId === id && l.message.startsWith('op succeeded'))?.message,
  );

// ------------------------------------------------------------------ one agent

let dir: string;
let dataDir: string;
let gatePort: number;
let checkPort: number;
let agent: ChildProcess;
let restingMb: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'heavy-work-'));
  dataDir = join(dir, 'data');
  const [coordPort, g, c, appPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  gatePort = g;
  checkPort = c;
  await startCoordinator(coordPort);
  await writeFile(
    join(dir, 'agent.json'),
    JSON.stringify({
      agentId: 'api-1',
      cluster: 'heavy',
      role: 'api',
      coordinator: { address: `127.0.0.1:${coordPort}`, insecure: true },
      dataDir,
      gate: { host: '127.0.0.1', port: gatePort, agentCheckPort: checkPort },
      services: [{ name: 'api', port: appPort, start: { command: process.execPath, args: ['server.js'] } }],
    }),
  );
  agent = spawn(
    process.execPath,
    ['--import', 'tsx', 'apps/agent/src/main.ts', '--config', join(dir, 'agent.json')],
    { cwd: repoRoot, env: { ...process.env, ROLLGATE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agent.stdout?.on('data', (d: Buffer) => (agentOutput = (agentOutput + d.toString()).slice(-20_000)));
  agent.stderr?.on('data', (d: Buffer) => (agentOutput = (agentOutput + d.toString()).slice(-20_000)));
  await waitFor('the agent to connect', () => stream);
  await waitFor('the agent-check port', async () => (await probeAgentCheck(checkPort)) !== undefined);
  // Resting: the median of a few samples once the agent has settled.
  await new Promise((r) => setTimeout(r, 3000));
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(await rssMb(agent.pid!));
    await new Promise((r) => setTimeout(r, 200));
  }
  restingMb = quantile(samples, 0.5);
}, 120_000);

afterAll(async () => {
  agent?.kill('SIGKILL');
  server?.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

describe('issue 13: heavy work off the agent loop, bounded archives', () => {
  it('item 1: the gate and the agent-check answer every probe while the child unpacks a 1 GiB edition (p50/p99 printed)', async () => {
    const archive = join(dir, 'big.tgz');
    await writeGzipTar(archive, [
      { path: 'lib/', type: 'Directory' },
      { path: 'lib/app.war', size: 768 * MiB },
      { path: 'lib/jdk.tar', size: 256 * MiB },
      ...Array.from({ length: 200 }, (_, i) => ({
        path: `lib/c${i}.class`,
        data: Buffer.from(`class ${i}`),
      })),
    ]);
    const a = await publish(archive);
    // The same probes with the agent at rest: what this machine's load alone costs.
    const idle: number[] = [];
    for (let i = 0; i < 50; i++) {
      const g = await probeGate(gatePort);
      if (g !== undefined) idle.push(g);
      await new Promise((r) => setTimeout(r, 20));
    }
    const gate: number[] = [];
    const check: number[] = [];
    let missed = 0;
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const [g, c] = await Promise.all([probeGate(gatePort), probeAgentCheck(checkPort)]);
        if (g === undefined || c === undefined) missed++;
        if (g !== undefined) gate.push(g);
        if (c !== undefined) check.push(c);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = Date.now();
    const done = await install('r.s0.api-1.big', '1.0', a);
    probing = false;
    await prober;
    const fmt = (xs: number[]) =>
      `n=${xs.length} p50=${quantile(xs, 0.5).toFixed(1)} ms p99=${quantile(xs, 0.99).toFixed(1)} ms max=${Math.max(...xs).toFixed(1)} ms`;
    console.log(
      `[issue 13 item 1] install of a 1 GiB edition (${(a.size / MiB).toFixed(1)} MiB compressed) took ${((Date.now() - t0) / 1000).toFixed(1)} s; gate at rest ${fmt(idle)}; gate during ${fmt(gate)}; agent-check ${fmt(check)}; unanswered ${missed}`,
    );
    expect(done.reason).toBe('');
    expect(done.status).toBe('ACTION_STATUS_SUCCEEDED');
    expect(gate.length).toBeGreaterThan(20);
    expect(missed).toBe(0);
    // Generous for a shared CI machine; the figure printed above is the real one.
    expect(quantile(gate, 0.99)).toBeLessThan(250);
    expect(quantile(check, 0.99)).toBeLessThan(250);
    expect((await readdir(join(dataDir, 'editions', 'api'))).sort()).toEqual(['1.0']);
  }, 180_000);

  it('item 2: a 20 GiB bomb is refused naming the limit, leaves nothing behind, and the agent returns to its resting memory', async () => {
    const bomb = join(dir, 'bomb.tgz');
    await writeBomb(bomb);
    const a = await publish(bomb);
    const done = await install('r.s0.api-1.bomb', '6.6.6', a);
    expect(done.status).toBe('ACTION_STATUS_FAILED');
    expect(done.reason).toContain(
      'the archive of api 6.6.6 was refused: the archive expands past 20 GiB (limit 8 GiB); raise limits.maxExpandedBytes in the agent config if this edition is genuine; nothing was installed',
    );
    // No partial edition, no temp dir, no download left.
    expect((await readdir(join(dataDir, 'editions', 'api'))).sort()).toEqual(['1.0']);
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
    // The gate still answers, and the agent's memory comes back (the child has exited).
    expect(await probeGate(gatePort)).toBeDefined();
    let last = 0;
    await waitFor(
      `agent RSS under resting ${restingMb.toFixed(1)} MB + 20 MB`,
      async () => (last = await rssMb(agent.pid!)) < restingMb + 20,
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (last ${last.toFixed(1)} MB)`);
    });
    console.log(
      `[issue 13 item 2] agent RSS resting ${restingMb.toFixed(1)} MB, after the bomb ${last.toFixed(1)} MB`,
    );
  }, 180_000);
});

describe('issue 13 item 1: the heavy-work child is bounded', () => {
  // Input that never ends: the child waits on its stdin until a bound stops it.
  async function* forever(): AsyncIterable<Uint8Array> {
    yield Buffer.from('x');
    await new Promise(() => {});
  }

  it('is stopped at its deadline, naming limits.workerTimeoutMs', async () => {
    const heavy = createHeavyClient({ workerMemoryMb: 512, workerTimeoutMs: 3000 });
    const file = join(dir, 'never.part');
    const err = await heavy.run({ kind: 'receive', file }, { input: forever() }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^the agent's work process for receive was stopped: it did not finish within 3 s \(limits\.workerTimeoutMs in the agent config\)/,
    );
  }, 60_000);

  it('is stopped past its memory bound, naming limits.workerMemoryMb', async () => {
    // A Node child under tsx is well past 40 MiB resident: the watchdog stops it.
    const heavy = createHeavyClient({ workerMemoryMb: 40, workerTimeoutMs: 60_000 });
    const err = await heavy
      .run({ kind: 'receive', file: join(dir, 'mem.part') }, { input: forever() })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^the agent's work process for receive was stopped: it used \d+ MiB of memory \(limit 40 MiB, limits\.workerMemoryMb in the agent config\)/,
    );
  }, 60_000);
});

describe('issue 18: one child receives, verifies and unpacks an edition', () => {
  /** The agent's heavy-work child, if one runs (the agent starts no other process here). */
  async function workChild(): Promise<number | undefined> {
    for (const tid of await readdir(`/proc/${agent.pid}/task`)) {
      const kids = await readFile(`/proc/${agent.pid}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const pid of kids.trim().split(/\s+/).filter(Boolean).map(Number)) {
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmd.includes('heavy-worker')) return pid;
      }
    }
    return undefined;
  }

  it('issue 18: an archive whose bytes do not match the planned sha256 is never unpacked and leaves nothing', async () => {
    const tgz = join(dir, 'mismatch.tgz');
    await writeGzipTar(tgz, [{ path: 'server.js', data: Buffer.from('// 2.0') }]);
    const claimed = 'c'.repeat(64);
    artifacts.set(claimed, tgz); // served (and labelled) as `claimed`, but its bytes hash otherwise
    const done = await install('r.s0.api-1.mismatch', '7.0', { sha256: claimed, size: 0 });
    expect(done.status).toBe('ACTION_STATUS_FAILED');
    expect(done.reason).toMatch(
      /^checksum mismatch for api 7\.0: expected c{64}, got [0-9a-f]{64}; the archive was refused and nothing was installed/,
    );
    expect((await readdir(join(dataDir, 'editions', 'api'))).sort()).toEqual(['1.0']);
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
  }, 120_000);

  it('issue 18: a small plain edition is unpacked by the agent itself, verified first (docs/adr/0051)', async () => {
    const tgz = join(dir, 'tiny.tgz');
    await writeGzipTar(tgz, [
      { path: 'bin', type: 'Directory' },
      { path: 'bin/server.js', data: Buffer.from('// 12.0') },
    ]);
    const a = await publish(tgz);
    const done = await install('r.s0.api-1.inline', '12.0', a);
    expect(done.status).toBe('ACTION_STATUS_SUCCEEDED');
    expect(await succeededLine('r.s0.api-1.inline')).toMatch(
      /installed api edition 12\.0: 1 files in .*, unpacked in the agent itself \(a small archive\)/,
    );
    expect(await readFile(join(dataDir, 'editions', 'api', '12.0', 'bin', 'server.js'), 'utf8')).toBe(
      '// 12.0',
    );
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
  }, 120_000);

  it("issue 18: a small edition the agent's own reader does not take (a symlink) goes to a worker thread, same bytes", async () => {
    const src = join(dir, 'linked-src');
    await mkdir(join(src, 'lib'), { recursive: true });
    await writeFile(join(src, 'lib', 'server.js'), '// 14.0');
    await symlink('lib/server.js', join(src, 'server.js'));
    const tgz = join(dir, 'linked.tgz');
    await tar.create({ gzip: true, file: tgz, cwd: src }, ['lib', 'server.js']);
    const a = await publish(tgz);
    const done = await install('r.s0.api-1.deferred', '14.0', a);
    expect(done.status).toBe('ACTION_STATUS_SUCCEEDED');
    expect(await succeededLine('r.s0.api-1.deferred')).toMatch(/unpacked in a worker thread\b/);
    expect(await readFile(join(dataDir, 'editions', 'api', '14.0', 'server.js'), 'utf8')).toBe('// 14.0');
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
  }, 120_000);

  it("issue 18: an edition past the agent's own reader (1 MiB) is unpacked in a worker thread, verified first (docs/adr/0047)", async () => {
    const tgz = join(dir, 'small.tgz');
    await writeGzipTar(tgz, [{ path: 'server.js', data: randomBytes(2 * MiB) }]);
    const a = await publish(tgz);
    expect(a.size).toBeGreaterThan(MiB);
    const done = await install('r.s0.api-1.thread', '9.0', a);
    expect(done.status).toBe('ACTION_STATUS_SUCCEEDED');
    expect(await succeededLine('r.s0.api-1.thread')).toMatch(
      /installed api edition 9\.0: 1 files in .*, unpacked in a worker thread\b/,
    );
    expect((await readFile(join(dataDir, 'editions', 'api', '9.0', 'server.js'))).length).toBe(2 * MiB);
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
  }, 120_000);

  it.each([
    ['by the agent itself', '10.0', Buffer.from('// 10.0'), 'e'],
    ['in a worker thread', '10.1', randomBytes(2 * MiB), 'd'],
  ])(
    'issue 18: unpacked %s or not, bytes that do not match the planned sha256 are never unpacked',
    async (_how, edition, data, digit) => {
      const tgz = join(dir, `mismatch-${edition}.tgz`);
      await writeGzipTar(tgz, [{ path: 'server.js', data }]);
      const { size } = await publish(tgz);
      const claimed = digit.repeat(64);
      artifacts.set(claimed, tgz);
      const done = await install(`r.s0.api-1.mismatch-${edition}`, edition, { sha256: claimed, size });
      expect(done.status).toBe('ACTION_STATUS_FAILED');
      expect(done.reason).toMatch(
        new RegExp(
          `^checksum mismatch for api ${edition.replace('.', '\\.')}: expected ${digit}{64}, got [0-9a-f]{64}`,
        ),
      );
      expect(
        (await readdir(join(dataDir, 'editions', 'api'))).filter(
          (n) => n.startsWith(edition) || n.startsWith('.'),
        ),
      ).toEqual([]);
      expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
    },
    120_000,
  );

  it('issue 18: a small archive that unpacks past the thread bound (64 MiB) is unpacked by a work process under the agent limits', async () => {
    const tgz = join(dir, 'wide.tgz');
    await writeGzipTar(tgz, [{ path: 'data.bin', size: 70 * MiB }]);
    const a = await publish(tgz);
    expect(a.size).toBeLessThan(8 * MiB);
    const done = await install('r.s0.api-1.wide', '11.0', a);
    expect(done.status).toBe('ACTION_STATUS_SUCCEEDED');
    expect(await succeededLine('r.s0.api-1.wide')).toMatch(
      /unpacked in a work process \(past the thread bound\)/,
    );
    expect((await readdir(join(dataDir, 'editions', 'api', '11.0'))).sort()).toEqual(
      ['.rollgate-edition.json', 'data.bin'].sort(),
    );
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
  }, 120_000);

  it('issue 18: an install of a large edition whose child is killed mid-job leaves no edition, temp dir or download', async () => {
    const tgz = join(dir, 'stall.tgz');
    // Past the thread's input bound (8 MiB): a large edition is received by a work process.
    await writeGzipTar(tgz, [{ path: 'big.bin', data: randomBytes(9 * MiB) }]);
    const a = await publish(tgz);
    stalling.add(a.sha256);
    const result = install('r.s0.api-1.killed', '8.0', a);
    // Mid-job: the child runs, the download and the temp edition dir exist.
    const pid = await waitFor('the work child with a half-received download', async () => {
      const parts = await readdir(join(dataDir, 'downloads')).catch(() => []);
      const temps = (await readdir(join(dataDir, 'editions', 'api'))).filter((n) =>
        n.startsWith('.install-8.0'),
      );
      return parts.length === 1 && temps.length === 1 ? await workChild() : undefined;
    });
    process.kill(pid, 'SIGKILL');
    const done = await result;
    expect(done.status).toBe('ACTION_STATUS_FAILED');
    expect(done.reason).toMatch(/the agent's work process for install exited \(SIGKILL\) without an answer/);
    expect(done.reason).toContain('nothing was installed');
    expect(
      (await readdir(join(dataDir, 'editions', 'api'))).filter((n) => n === '8.0' || n.startsWith('.')),
    ).toEqual([]);
    expect(await readdir(join(dataDir, 'downloads'))).toEqual([]);
  }, 120_000);
});
