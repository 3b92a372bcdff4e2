// The single-file agent: built with esbuild into a temp dir, copied away from the repository (so
// nothing can be resolved from node_modules), then run as an operator would run it.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { buildAgentBundle } from './build.mjs';
import { freePort, waiter } from '@rollgate/test-kit';

let work: string;
let dist: string;

const config = (over: Record<string, unknown> = {}) => ({
  agentId: 'bundle-1',
  cluster: 'bench',
  role: 'web',
  coordinator: { address: '127.0.0.1:1' },
  dataDir: join(work, 'data'),
  gate: { host: '127.0.0.1', port: 17070 },
  services: [{ name: 'shop', port: 18080, start: { command: 'node', args: ['server.js'] } }],
  ...over,
});

function writeConfig(name: string, value: unknown): string {
  const p = join(work, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return p;
}

const run = (...args: string[]) =>
  spawnSync(process.execPath, [join(dist, 'rollgate-agent.cjs'), ...args], { cwd: work, encoding: 'utf8' });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-agent-bundle-'));
  const built = await buildAgentBundle({ outDir: join(work, 'build') });
  expect(built.bundle.endsWith('rollgate-agent.cjs')).toBe(true);
  // Away from the repository: only what the build wrote is there.
  dist = join(work, 'opt', 'rollgate-agent');
  cpSync(join(work, 'build'), dist, { recursive: true });
  rmSync(join(work, 'build'), { recursive: true, force: true });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the agent bundle (tools/agent-bundle/build.mjs)', () => {
  it('is one file (agent.proto inside it) beside its heavy-work child, systemd unit and example config', () => {
    const listing = spawnSync('ls', [dist], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
    expect(listing).toEqual([
      'agent.example.json',
      'rollgate-agent-worker.cjs',
      'rollgate-agent.cjs',
      'rollgate-agent.service',
    ]);
  });

  it('issue 13 item 1: the resident agent carries no tar; only its heavy-work child does', () => {
    // A message node-tar's unpacker writes: in the child's file, not the agent's.
    expect(readFileSync(join(dist, 'rollgate-agent.cjs'), 'utf8')).not.toContain('TAR_ENTRY_INVALID');
    expect(readFileSync(join(dist, 'rollgate-agent-worker.cjs'), 'utf8')).toContain('TAR_ENTRY_INVALID');
  });

  it('does not load @grpc/proto-loader at start (agent.proto comes parsed, inside the bundle)', () => {
    const text = readFileSync(join(dist, 'rollgate-agent.cjs'), 'utf8');
    expect(text).not.toContain('agent/v1/agent.proto');
  });

  it('--check-config accepts a good config: OK and exit 0', () => {
    const r = run('--config', writeConfig('good.json', config()), '--check-config');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /^OK: .*good\.json is valid \(agent bundle-1, cluster bench, role web, services: shop\)/,
    );
    expect(r.status).toBe(0);
  });

  it('--check-config accepts the shipped example config', () => {
    const r = run('--config', join(dist, 'agent.example.json'), '--check-config');
    expect(r.stdout).toContain('is valid (agent web-01, cluster shop-prod, role web, services: shop)');
    expect(r.status).toBe(0);
  });

  it('--check-config rejects a bad config with exit 1, naming each field and what it expects', () => {
    const bad = config({
      agentId: 'no spaces allowed',
      services: [{ name: 'shop', port: '8080', start: {} }],
    });
    const r = run('--config', writeConfig('bad.json', bad), '--check-config');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('bad.json: the agent config is not valid:');
    expect(r.stderr).toMatch(/agentId: expected .*got "no spaces allowed"/);
    expect(r.stderr).toMatch(
      /services\[0\]\.port: expected a TCP port number 1-65535 \(e\.g\. 8081\), got "8080"/,
    );
    expect(r.stderr).toMatch(/services\[0\]\.start\.command/);
  });

  it('--check-config on a file that is not JSON, or missing, says so (exit 1)', () => {
    const notJson = run('--config', writeConfig('broken.json', '{ "agentId": '), '--check-config');
    expect(notJson.status).toBe(1);
    expect(notJson.stderr).toContain('broken.json');
    const missing = run('--config', join(work, 'nope.json'), '--check-config');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('nope.json');
  });

  it('an unknown flag is a usage error (exit 2)', () => {
    const r = run('--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: rollgate-agent --config <path>');
  });

  it('says Hello to a coordinator with the protocol it carries', async () => {
    // A minimal coordinator: the real service definition, answering Hello with Welcome.
    const proto = loadAgentProtocol();
    const server = new grpc.Server();
    let hello: AgentMessage__Output['hello'] = null;
    const got = new Promise<void>((resolve) => {
      server.addService(proto.rollgate.agent.v1.AgentService.service, {
        Connect(call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) {
          call.on('data', (m: AgentMessage__Output) => {
            if (m.body === 'hello' && m.hello) {
              hello = m.hello;
              call.write({ welcome: { coordinatorVersion: 'test', heartbeatIntervalMs: 5000 } });
              resolve();
            }
          });
          call.on('end', () => call.end());
        },
        FetchArtifact(call: grpc.ServerWritableStream<unknown, unknown>) {
          call.end();
        },
      });
    });
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? rej(e) : res(p),
      ),
    );
    const cfg = writeConfig(
      'live.json',
      config({
        // The minimal coordinator is plaintext: the agent must opt in (docs/adr/0013).
        coordinator: { address: `127.0.0.1:${port}`, insecure: true },
        gate: { host: '127.0.0.1', port: await freePort() },
      }),
    );
    const agent = spawn(process.execPath, [join(dist, 'rollgate-agent.cjs'), '--config', cfg], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await Promise.race([
        got,
        new Promise((_, rej) =>
          setTimeout(() => rej(new Error(`no Hello within 20 s; agent output:\n${out}`)), 20_000),
        ),
      ]);
      expect(hello).toMatchObject({ agentId: 'bundle-1', cluster: 'bench', role: 'web' });
      await new Promise((r) => setTimeout(r, 300));
      expect(out).toContain('"msg":"connected to coordinator"');
      const exit = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
      agent.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      agent.kill('SIGKILL');
      server.forceShutdown();
    }
  });

  it("issue 13 item 1: an edition downloads and unpacks through the bundle's child process (and fails without it)", async () => {
    const proto = loadAgentProtocol();
    const artifacts = new Map<string, Buffer>();
    const updates: ActionUpdate__Output[] = [];
    let stream: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage> | undefined;
    const server = new grpc.Server();
    server.addService(proto.rollgate.agent.v1.AgentService.service, {
      Connect(call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>) {
        call.on('data', (m: AgentMessage__Output) => {
          if (m.body === 'hello') {
            stream = call;
            call.write({ welcome: { coordinatorVersion: 'test', heartbeatIntervalMs: 5000 } });
          } else if (m.body === 'actionUpdate' && m.actionUpdate) updates.push(m.actionUpdate);
        });
        call.on('end', () => call.end());
        call.on('error', () => {});
      },
      FetchArtifact(call: grpc.ServerWritableStream<FetchArtifactRequest__Output, ArtifactChunk>) {
        const bytes = artifacts.get(call.request.sha256) ?? Buffer.alloc(0);
        for (let off = 0; off < bytes.length; off += 64 * 1024) {
          call.write({ data: bytes.subarray(off, off + 64 * 1024), offset: off, totalSize: bytes.length });
        }
        call.end();
      },
    });
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? rej(e) : res(p),
      ),
    );
    // An edition: a directory with a file, as a gzip tar.
    const src = join(work, 'edition-src');
    mkdirSync(join(src, 'app'), { recursive: true });
    writeFileSync(join(src, 'app', 'hello.txt'), 'hello from 1.0\n');
    const archive = join(work, 'edition.tgz');
    await tar.create({ gzip: true, file: archive, cwd: src }, ['app']);
    const bytes = readFileSync(archive);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    artifacts.set(sha256, bytes);
    // Past the agent's own reader (1 MiB, docs/adr/0051) but within a thread's bound (8 MiB).
    writeFileSync(join(src, 'app', 'blob.bin'), randomBytes(2 * 1024 * 1024));
    const bigArchive = join(work, 'edition-big.tgz');
    await tar.create({ gzip: true, file: bigArchive, cwd: src }, ['app']);
    const bigBytes = readFileSync(bigArchive);
    const bigSha256 = createHash('sha256').update(bigBytes).digest('hex');
    artifacts.set(bigSha256, bigBytes);

    const dataDir = join(work, 'data-install');
    const cfg = writeConfig(
      'install.json',
      config({
        dataDir,
        coordinator: { address: `127.0.0.1:${port}`, insecure: true },
        gate: { host: '127.0.0.1', port: await freePort() },
      }),
    );
    const agent = spawn(process.execPath, [join(dist, 'rollgate-agent.cjs'), '--config', cfg], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const { waitFor: until } = waiter({ timeoutMs: 60_000, diagnostics: () => `agent output:\n${out}` });

    const install = async (id: string, edition: string, size: number, digest = sha256) => {
      const conn = await until('the agent to connect', () => stream);
      conn.write({
        runAction: {
          actionId: id,
          runId: 'r',
          stepIndex: 0,
          attempt: 1,
          ops: [{ install: { service: 'shop', edition, sha256: digest, size } }],
        },
      });
      return until(`the result of ${id}`, () =>
        updates.find((u) => u.actionId === id && /SUCCEEDED|FAILED|CANCELLED/.test(u.status)),
      );
    };
    const worker = join(dist, 'rollgate-agent-worker.cjs');
    try {
      // An edition of a known size past 1 MiB: a worker thread runs the bundle's worker file (ADR 0047).
      const ok = await install('r.s0.bundle-1.a1', '1.0', bigBytes.length, bigSha256);
      expect(ok.reason).toBe('');
      expect(ok.status).toBe('ACTION_STATUS_SUCCEEDED');
      expect(readFileSync(join(dataDir, 'editions', 'shop', '1.0', 'app', 'hello.txt'), 'utf8')).toBe(
        'hello from 1.0\n',
      );
      // Of an unknown size: the child process.
      const byChild = await install('r.s0.bundle-1.a2', '1.1', 0);
      expect(byChild.reason).toBe('');
      expect(readFileSync(join(dataDir, 'editions', 'shop', '1.1', 'app', 'hello.txt'), 'utf8')).toBe(
        'hello from 1.0\n',
      );
      // Without the worker file the agent can neither download nor unpack: the work really happens there.
      renameSync(worker, `${worker}.away`);
      const noChild = await install('r.s0.bundle-1.a3', '1.2', 0);
      expect(noChild.status).toBe('ACTION_STATUS_FAILED');
      expect(noChild.reason).toMatch(
        /the agent's work process for install exited \(code 1\) without an answer/,
      );
      const noThread = await install('r.s0.bundle-1.a4', '1.3', bigBytes.length, bigSha256);
      expect(noThread.status).toBe('ACTION_STATUS_FAILED');
      expect(noThread.reason).toMatch(
        /the agent's work thread for install was stopped: it failed: Cannot find module/,
      );
      for (const e of ['1.2', '1.3']) expect(existsSync(join(dataDir, 'editions', 'shop', e))).toBe(false);
      // A small plain edition needs neither: the agent unpacks it itself (ADR 0051).
      const inline = await install('r.s0.bundle-1.a5', '1.4', bytes.length);
      expect(inline.reason).toBe('');
      expect(inline.status).toBe('ACTION_STATUS_SUCCEEDED');
      expect(readFileSync(join(dataDir, 'editions', 'shop', '1.4', 'app', 'hello.txt'), 'utf8')).toBe(
        'hello from 1.0\n',
      );
    } finally {
      if (existsSync(`${worker}.away`)) renameSync(`${worker}.away`, worker);
      agent.kill('SIGKILL');
      server.forceShutdown();
    }
  });
});
