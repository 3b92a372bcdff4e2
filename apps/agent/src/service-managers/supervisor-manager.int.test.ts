// A service under a REAL supervisord (Debian's `supervisor` package; tools/scripts/ensure-system-deps.sh
// installs it): the agent's op layer, health monitor and service manager for real, the service a
// stdlib Python HTTP server that reads its edition once at start through the `current` link.
// Rolled out to a new edition, rolled back, and crashed (kill -9): supervisord restarts it and the
// agent reports the restart (issue 14 item 3).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ActionOp } from '@rollgate/domain';
import { createLogger } from '@rollgate/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractArchiveSafely } from '../heavy/archive';
import { parseConfig, type ServiceConfig } from '../config';
import { createEditionStore, type EditionStore } from '../heavy/edition-store';
import { createHealthMonitor, type HealthMonitor } from '../rotation/health-monitor';
import type { OpRunner } from '../actions/op-result';
import { createOpRunner } from '../actions/ops';
import { createSupervisor } from '../processes/supervisor';
import { createConnectionCounter, createListenCheck } from '../rotation/tcp-connections';
import { createServiceManagers } from './create-service-manager';
import type { ServiceManager } from './service-manager';
import { freePort, waiter } from '@rollgate/test-kit';

const run = promisify(execFile);
const log = createLogger({ name: 'test', level: 'silent' });

const SERVER_PY = `import http.server, os
here = os.path.dirname(os.path.realpath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    edition = f.read().strip()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("edition %s pid %d\\n" % (edition, os.getpid())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("serving edition", edition, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

const { waitFor } = waiter({ timeoutMs: 30_000, everyMs: 100 });

function get(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

let dir: string;
let dataDir: string;
let conf: string;
let port: number;
let supervisord: ChildProcess | undefined;
let editions: EditionStore;
let manager: ServiceManager;
let health: HealthMonitor;
let runOp: OpRunner;
const restarts: string[] = [];
const progress: string[] = [];

async function op(o: ActionOp): Promise<string> {
  const out = await runOp(o, {
    actionId: 'a1',
    signal: new AbortController().signal,
    log: (_level, _code, message) => progress.push(message),
  });
  return typeof out === 'string' ? out : out.summary;
}

async function makeEdition(edition: string): Promise<void> {
  const src = join(dir, `src-${edition}`);
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'server.py'), SERVER_PY);
  await writeFile(join(src, 'VERSION'), `${edition}\n`);
  const tgz = join(dir, `web-${edition}.tgz`);
  await run('tar', ['-czf', tgz, '-C', src, '.']);
  const bytes = await readFile(tgz);
  const sha = createHash('sha256').update(bytes).digest('hex');
  await editions.installArchive('web', edition, tgz, sha, bytes.length);
}

/** A rollout of one server, as the engine sends it (minus the gate and the drain). */
async function rollTo(edition: string): Promise<void> {
  await op({ op: 'stop', service: 'web', timeoutMs: 10_000 });
  await op({ op: 'activate', service: 'web', edition });
  await op({ op: 'configure', service: 'web', edition, env: {} });
  await op({ op: 'start', service: 'web' });
  await op({ op: 'waitHealthy', service: 'web', timeoutMs: 30_000 });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rg-supervisord-'));
  dataDir = join(dir, 'data');
  port = await freePort();
  conf = join(dir, 'supervisord.conf');
  const current = join(dataDir, 'editions', 'web', 'current');
  await writeFile(
    conf,
    [
      '[unix_http_server]',
      `file=${join(dir, 'supervisor.sock')}`,
      '[supervisord]',
      `logfile=${join(dir, 'supervisord.log')}`,
      `pidfile=${join(dir, 'supervisord.pid')}`,
      `childlogdir=${dir}`,
      'nodaemon=true',
      '[rpcinterface:supervisor]',
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
      '[supervisorctl]',
      `serverurl=unix://${join(dir, 'supervisor.sock')}`,
      '[program:web]',
      // Through the `current` link: each start runs the edition active at that moment.
      `command=/usr/bin/python3 -u ${join(current, 'server.py')}`,
      `directory=${current}`,
      `environment=PORT="${port}"`,
      'autostart=false',
      'autorestart=true',
      'startsecs=1',
      'startretries=20',
      'stopwaitsecs=5',
      'redirect_stderr=true',
      `stdout_logfile=${join(dir, 'web.log')}`,
      '',
    ].join('\n'),
  );
  supervisord = spawn('supervisord', ['-n', '-c', conf], { stdio: 'ignore' });
  await waitFor('supervisord to answer', async () =>
    (
      await run('supervisorctl', ['-c', conf, 'status', 'web']).catch((e: { stdout?: string }) => e)
    ).stdout?.includes('STOPPED'),
  );

  const parsed = parseConfig(
    {
      agentId: 'sv-1',
      cluster: 'demo',
      role: 'app',
      coordinator: { address: '127.0.0.1:7443' },
      dataDir,
      gate: { host: '127.0.0.1', port: 7070 },
      services: [
        { name: 'web', port, manager: 'supervisor', supervisor: { program: 'web', configFile: conf } },
      ],
    },
    dir,
  );
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const services: ServiceConfig[] = parsed.config.services;
  editions = createEditionStore({ dataDir, unpack: (a, d) => extractArchiveSafely(a, d) });
  const supervisor = createSupervisor({ dataDir, baseEnv: {}, log, onOutput: () => {}, onExit: () => {} });
  const managers = createServiceManagers(services, {
    dataDir,
    supervisor,
    baseEnv: {},
    log,
    onRestart: (_service, detail) => restarts.push(detail),
    watchMs: 500,
  });
  manager = managers.get('web')!;
  health = createHealthMonitor({
    services,
    isRunning: (name) => managers.get(name)!.refresh(),
    onChange: () => {},
    intervalMs: 250,
  });
  runOp = createOpRunner({
    dataDir,
    services,
    baseEnv: {},
    editions,
    supervisor,
    managers,
    health,
    setGateWish: async () => {},
    countConnections: createConnectionCounter(),
    isListening: createListenCheck(),
    fetchArtifact: () => {
      throw new Error('not used: editions are installed from local archives');
    },
    lastOutput: () => undefined,
  });
  await makeEdition('1.0');
  await makeEdition('2.0');
  await op({ op: 'activate', service: 'web', edition: '1.0' });
  await op({ op: 'configure', service: 'web', edition: '1.0', env: {} });
  expect(await manager.adopt()).toBeUndefined(); // supervisord knows the program, nothing runs yet
  health.start();
}, 120_000);

afterAll(async () => {
  health?.stop();
  manager?.close();
  if (supervisord && supervisord.exitCode === null) {
    await run('supervisorctl', ['-c', conf, 'shutdown']).catch(() => {});
    await waitFor(
      'supervisord to exit',
      async () => supervisord!.exitCode !== null || supervisord!.signalCode !== null,
      15_000,
    ).catch(() => supervisord!.kill('SIGKILL'));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('a service under a real supervisord (issue 14 item 3)', () => {
  it("starts the active edition with supervisorctl and reports supervisord's view", async () => {
    expect(await op({ op: 'start', service: 'web' })).toMatch(/^web edition 1\.0 started \(pid \d+\)$/);
    expect(progress).toContain('starting web edition 1.0: supervisorctl start web');
    await op({ op: 'waitHealthy', service: 'web', timeoutMs: 30_000 });
    expect(await get(port)).toMatch(/^edition 1\.0 pid \d+/);
    expect(manager.running()?.edition).toBe('1.0');
    expect(manager.lastStatus()?.detail).toMatch(/^RUNNING pid \d+/);
    await waitFor('the health view to be healthy', async () => health.get('web')?.state === 'healthy');
  });

  it('rolls out to a new edition: supervisord runs 2.0 through the current link', async () => {
    const before = manager.running()?.pid;
    await rollTo('2.0');
    expect(
      await op({
        op: 'probe',
        service: 'web',
        path: '/',
        expectStatus: 200,
        expectBodyContains: 'edition 2.0',
        timeoutMs: 5000,
      }),
    ).toMatch(/answered 200/);
    expect(manager.running()).toMatchObject({ edition: '2.0' });
    expect(manager.running()?.pid).not.toBe(before);
    expect(
      progress.some((l) => l.includes('stopping web (pid') && l.endsWith('supervisorctl stop web')),
    ).toBe(true);
    expect(restarts).toEqual([]); // the agent's own stop and start are not restarts
  });

  it('rolls back to the previous edition', async () => {
    await rollTo('1.0');
    expect(await get(port)).toMatch(/^edition 1\.0 /);
    expect(manager.running()?.edition).toBe('1.0');
  });

  it('crashed (kill -9): supervisord restarts it and the agent reports the restart', async () => {
    await waitFor('healthy before the crash', async () => health.get('web')?.state === 'healthy');
    const { stdout } = await run('supervisorctl', ['-c', conf, 'pid', 'web']);
    const victim = Number(stdout.trim());
    expect(victim).toBeGreaterThan(0);
    expect(manager.running()?.pid).toBe(victim);
    process.kill(victim, 'SIGKILL');

    const detail = await waitFor('the agent to notice the restart', async () => restarts[0]);
    const now = manager.running()?.pid;
    expect(now).toBeGreaterThan(0);
    expect(now).not.toBe(victim);
    expect(detail).toMatch(
      new RegExp(`^supervisord restarted web \\((pid ${victim} → ${now}|back up as pid ${now})\\)$`),
    );
    expect(manager.restarts()).toBe(1);
    // Same edition (the current link did not move), served by the new process; health is back.
    expect(await get(port)).toBe(`edition 1.0 pid ${now}\n`);
    await waitFor('healthy after the restart', async () => health.get('web')?.state === 'healthy');
    // A start now is a no-op: the agent does not fight supervisord over its own restart.
    expect(await op({ op: 'start', service: 'web' })).toBe(`web edition 1.0 already running (pid ${now})`);
  });

  it('stops through supervisord: the program stays stopped and the health view says so', async () => {
    expect(await op({ op: 'stop', service: 'web', timeoutMs: 10_000 })).toMatch(/^web stopped in /);
    const { stdout } = await run('supervisorctl', ['-c', conf, 'status', 'web']).catch(
      (e: { stdout: string }) => e,
    );
    expect(stdout).toMatch(/STOPPED/);
    await waitFor('the health view to say stopped', async () => health.get('web')?.state === 'stopped');
    expect(manager.running()).toBeUndefined();
    expect(await op({ op: 'stop', service: 'web', timeoutMs: 10_000 })).toBe('web was already stopped');
  });
});
