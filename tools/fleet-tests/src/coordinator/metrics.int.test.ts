// Metrics and readiness (issue 16 item 3): a real coordinator process on a real PostgreSQL (the
// embedded one, started by this test as an external database so the test can stop it), its
// /metrics checked by Debian's promtool and scraped by a real Prometheus, /readyz while the
// database is down and while a migration is pending, and the standard gRPC health service.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from '@rollgate/db';
import { appNodeArgs, FatalWait, freePort, ROOT, waitFor } from '@rollgate/demo-fleet';
import { HEALTH_SERVICE_DEFINITION, SERVING_STATUS } from '@rollgate/protocol';
import { seedFromTemplate } from '@rollgate/test-kit';

const PROMTOOL = '/usr/bin/promtool';
const PROMETHEUS = '/usr/bin/prometheus';

/** Runs promtool with `input` on stdin; resolves its exit code and output. */
function promtool(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input ?? '');
  });
}

async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

describe('coordinator metrics and readiness (issue 16 item 3)', () => {
  let dir: string;
  let db: RollgateDb;
  let proc: ChildProcess;
  let base: string;
  let grpcAddress: string;
  let coordinatorEnv: NodeJS.ProcessEnv;
  let agent: ChildProcess | undefined;
  let logFile: string;
  let health: grpc.Client & {
    Check(
      req: { service: string },
      cb: (err: grpc.ServiceError | null, res?: { status: number }) => void,
    ): void;
  };

  const check = (service: string) =>
    new Promise<{ status?: number; code?: number }>((resolve) =>
      health.Check({ service }, (err, res) => resolve(err ? { code: err.code } : { status: res!.status })),
    );
  const readyz = async () => {
    const r = await get(`${base}/readyz`);
    return { status: r.status, body: JSON.parse(r.text) as { ready: boolean; reason?: string } };
  };

  async function startCoordinator() {
    const out = createWriteStream(logFile, { flags: 'a' });
    proc = spawn(process.execPath, appNodeArgs('coordinator'), {
      cwd: ROOT,
      env: coordinatorEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    const started = proc;
    await waitFor(
      'the coordinator to answer /healthz',
      async () => {
        if (started.exitCode !== null) throw new FatalWait(`the coordinator exited; see ${logFile}`);
        return (await fetch(`${base}/healthz`)).ok;
      },
      90_000,
    );
  }

  async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** One sample's value from a text exposition, or undefined when the series is absent. */
  function sample(text: string, series: string): number | undefined {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  }

  /**
   * The agent leaves its managed service running when it dies (by design): this test ends the
   * processes it caused, found by this test's directory in their working directory or command line.
   */
  async function killLeftovers() {
    for (const entry of await readdir('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cwd.startsWith(dir) || cmd.includes(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-metrics-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, join(dir, 'db'));
    db = createDb({ dataDir: join(dir, 'db') });
    await db.start();
    logFile = join(dir, 'coordinator.log');
    const port = await freePort();
    const grpcPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    grpcAddress = `127.0.0.1:${grpcPort}`;
    coordinatorEnv = {
      ...process.env,
      DATABASE_URL: db.url,
      ROLLGATE_DATA_DIR: join(dir, 'coordinator'),
      ROLLGATE_HTTP_PORT: String(port),
      ROLLGATE_GRPC_PORT: String(grpcPort),
      ROLLGATE_INSECURE_AGENTS: '1',
      ROLLGATE_HEARTBEAT_MS: '1000',
    };
    await startCoordinator();
    const Health = grpc.makeGenericClientConstructor(HEALTH_SERVICE_DEFINITION, 'Health');
    health = new Health(grpcAddress, grpc.credentials.createInsecure()) as unknown as typeof health;
  }, 120_000);

  afterAll(async () => {
    health?.close();
    await stopProcess(agent, 'SIGKILL');
    await stopProcess(proc);
    await db?.stop();
    if (dir) await killLeftovers();
    await rm(dir, { recursive: true, force: true });
  });

  it('/metrics serves every named metric in Prometheus text format, accepted by promtool check metrics, with no id or secret in it', async () => {
    // An API call first, so the latency histogram has a sample of a known procedure.
    expect((await get(`${base}/trpc/health`)).status).toBeLessThan(500);
    const m = await get(`${base}/metrics`);
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of [
      'rollgate_runs{state="paused"} 0',
      'rollgate_runs{state="running"} 0',
      'rollgate_servers_out_of_rotation 0',
      'rollgate_ready 1',
      'rollgate_agents_connected 0',
      'rollgate_agents_lost_total 0',
      'rollgate_log_writer_lag_lines',
      'rollgate_log_lines_stored_total',
      'rollgate_actions_total{result="failed"} 0',
      'rollgate_lb_operations_total{result="unreachable"} 0',
      '# TYPE rollgate_step_duration_seconds histogram',
      '# TYPE rollgate_phase_duration_seconds histogram',
      '# TYPE rollgate_log_lines_ingested_total counter',
      'rollgate_api_request_duration_seconds_count{procedure=',
      'rollgate_coordinator_process_resident_memory_bytes',
    ]) {
      expect(m.text).toContain(name);
    }
    // Label values come from closed sets: no run id, no database URL or password.
    expect(m.text).not.toMatch(/r-\d{14}-/);
    expect(m.text).not.toContain(new URL(db.url).password || 'no-password-in-url');
    expect(m.text).not.toContain('postgres://');
    const checked = await promtool(['check', 'metrics'], m.text);
    expect(checked.out).toBe('');
    expect(checked.code).toBe(0);
  });

  it('promtool check metrics fails on a malformed exposition (the check can fail)', async () => {
    const bad = await promtool(['check', 'metrics'], '# TYPE x counter\nx{a="1" 1\n');
    expect(bad.code).not.toBe(0);
  });

  it('the sample alerting rules pass promtool check rules and their unit tests (run paused, agent lost, server out of rotation)', async () => {
    const rules = join(ROOT, 'deploy/prometheus/rollgate-alerts.yml');
    const checked = await promtool(['check', 'rules', rules]);
    expect(checked.out).toContain('SUCCESS: 5 rules found');
    expect(checked.code).toBe(0);
    const text = await readFile(rules, 'utf8');
    for (const alert of ['RollgateRunPaused', 'RollgateAgentLost', 'RollgateServerOutOfRotation'])
      expect(text).toContain(`alert: ${alert}`);
    const tested = await promtool([
      'test',
      'rules',
      join(ROOT, 'deploy/prometheus/rollgate-alerts.test.yml'),
    ]);
    expect(tested.out).toContain('SUCCESS');
    expect(tested.code).toBe(0);
  });

  it('a real Prometheus scrapes the coordinator once: its target is up and rollgate_runs is queryable', async () => {
    const promDir = join(dir, 'prometheus');
    const promPort = await freePort();
    const config = join(dir, 'prometheus.yml');
    await writeFile(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: rollgate-coordinator',
        '    static_configs:',
        `      - targets: ['${new URL(base).host}']`,
        '',
      ].join('\n'),
    );
    const promLog = join(dir, 'prometheus.log');
    const out = createWriteStream(promLog);
    const prom = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${promDir}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stdout!.pipe(out);
    prom.stderr!.pipe(out);
    const api = `http://127.0.0.1:${promPort}/api/v1`;
    try {
      const target = await waitFor(
        'Prometheus to report the coordinator target up',
        async () => {
          if (prom.exitCode !== null) throw new FatalWait(`prometheus exited; see ${promLog}`);
          const body = (await (await fetch(`${api}/targets`)).json()) as {
            data: { activeTargets: { health: string; labels: { job: string }; lastError: string }[] };
          };
          return body.data.activeTargets.find(
            (t) => t.labels.job === 'rollgate-coordinator' && t.health === 'up',
          );
        },
        90_000,
      );
      expect(target.lastError).toBe('');
      const series = await waitFor(
        'rollgate_runs in Prometheus',
        async () => {
          const body = (await (
            await fetch(`${api}/query?query=${encodeURIComponent('rollgate_runs')}`)
          ).json()) as {
            data: { result: { metric: { state: string } }[] };
          };
          return body.data.result.length > 0 ? body.data.result : null;
        },
        60_000,
      );
      expect(series.map((s) => s.metric.state).sort()).toEqual(
        ['aborted', 'failed', 'paused', 'pending', 'running', 'succeeded', 'waiting-approval'].sort(),
      );
    } finally {
      if (prom.exitCode === null) {
        const exited = new Promise((r) => prom.once('exit', r));
        prom.kill('SIGTERM');
        await exited;
      }
    }
    expect(prom.exitCode !== null || prom.signalCode !== null).toBe(true);
  });

  it('the gRPC port serves grpc.health.v1.Health: SERVING for the server and the agent service, NOT_FOUND for another, Watch UNIMPLEMENTED', async () => {
    expect(await check('')).toEqual({ status: SERVING_STATUS.SERVING });
    expect(await check('rollgate.agent.v1.AgentService')).toEqual({ status: SERVING_STATUS.SERVING });
    expect(await check('no.such.Service')).toEqual({ code: grpc.status.NOT_FOUND });
    const watch = await new Promise<number>((resolve) => {
      const call = health.makeServerStreamRequest(
        '/grpc.health.v1.Health/Watch',
        (r: { service: string }) => HEALTH_SERVICE_DEFINITION.Check.requestSerialize(r),
        (b: Buffer) => b,
        { service: '' },
      );
      call.on('data', () => undefined);
      call.on('error', (err: grpc.ServiceError) => resolve(err.code));
    });
    expect(watch).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('a real agent serves /metrics on the port its config names (gate, health, ops, bytes staged, reconnects), accepted by promtool; the coordinator counts it connected, then lost', async () => {
    // The service is not the demo: a stdlib Python HTTP server with /healthz.
    const agentDir = join(dir, 'agent');
    const staging = join(dir, 'staging');
    await mkdir(agentDir);
    await mkdir(staging);
    await writeFile(
      join(staging, 'server.py'),
      [
        'import http.server, os',
        'class H(http.server.BaseHTTPRequestHandler):',
        '    def do_GET(self):',
        '        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")',
        '    def log_message(self, *a): pass',
        "http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()",
        '',
      ].join('\n'),
    );
    const archive = join(dir, 'api-1.0.tar.gz');
    await promisify(execFile)('tar', ['-czf', archive, '-C', staging, 'server.py']);
    const servicePort = await freePort();
    const metricsPort = await freePort();
    const configPath = join(agentDir, 'agent.json');
    await writeFile(
      configPath,
      JSON.stringify({
        agentId: 'api-1',
        cluster: 'shop',
        role: 'api',
        coordinator: { address: grpcAddress, insecure: true },
        dataDir: './data',
        gate: { host: '127.0.0.1', port: await freePort() },
        metrics: { port: metricsPort },
        services: [
          {
            name: 'api',
            port: servicePort,
            start: { command: 'python3', args: ['server.py'] },
            healthUrl: `http://127.0.0.1:${servicePort}/healthz`,
            env: { PORT: String(servicePort) },
            initialEdition: { name: '1.0', archive },
          },
        ],
      }),
    );
    const agentLog = join(dir, 'agent.log');
    const out = createWriteStream(agentLog);
    agent = spawn(process.execPath, appNodeArgs('agent', ['--config', configPath]), {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.pipe(out);
    agent.stderr!.pipe(out);
    const running = agent;
    const agentMetrics = () => get(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text);
    const ready = await waitFor(
      'the agent connected with its service healthy and its gate open',
      async () => {
        if (running.exitCode !== null) throw new FatalWait(`the agent exited; see ${agentLog}`);
        const text = await agentMetrics();
        return sample(text, 'rollgate_agent_connected') === 1 &&
          sample(text, 'rollgate_agent_service_health{service="api",state="healthy"}') === 1 &&
          sample(text, 'rollgate_agent_gate_open') === 1
          ? text
          : null;
      },
      90_000,
    );
    expect(sample(ready, 'rollgate_agent_gate_wish_open')).toBe(1);
    expect(sample(ready, 'rollgate_agent_service_health{service="api",state="unhealthy"}')).toBe(0);
    expect(sample(ready, 'rollgate_agent_reconnects_total')).toBe(0);
    expect(sample(ready, 'rollgate_agent_bytes_staged_total')).toBe(0);
    expect(ready).toContain('# TYPE rollgate_agent_op_duration_seconds histogram');
    const agentChecked = await promtool(['check', 'metrics'], ready);
    expect(agentChecked.out).toBe('');
    expect(agentChecked.code).toBe(0);
    // Only /metrics, and only on loopback (the config named no host).
    expect((await get(`http://127.0.0.1:${metricsPort}/`)).status).toBe(404);

    await waitFor(
      'the coordinator to count the agent connected',
      async () => sample((await get(`${base}/metrics`)).text, 'rollgate_agents_connected') === 1,
      30_000,
    );

    // The coordinator restarts: the agent reconnects, and counts it.
    await stopProcess(proc);
    await startCoordinator();
    await waitFor(
      'the agent to count one reconnect',
      async () => sample(await agentMetrics(), 'rollgate_agent_reconnects_total') === 1,
      60_000,
    );
    await waitFor(
      'the restarted coordinator to count the agent connected',
      async () => sample((await get(`${base}/metrics`)).text, 'rollgate_agents_connected') === 1,
      30_000,
    );

    // The agent dies: the coordinator counts it lost and no longer connected.
    await stopProcess(agent, 'SIGKILL');
    const lost = await waitFor(
      'the coordinator to count the agent lost',
      async () => {
        const text = (await get(`${base}/metrics`)).text;
        return (sample(text, 'rollgate_agents_lost_total') ?? 0) >= 1 ? text : null;
      },
      30_000,
    );
    expect(sample(lost, 'rollgate_agents_connected')).toBe(0);
    expect(lost).not.toContain('api-1');
    expect((await promtool(['check', 'metrics'], lost)).code).toBe(0);
  });

  it('/readyz: 200 while the database answers, 503 with a reason while it is stopped (gRPC health NOT_SERVING, /healthz still 200), 200 again once it is back', async () => {
    expect(await readyz()).toEqual({ status: 200, body: { ready: true } });
    await db.stop();
    const down = await waitFor(
      '/readyz to answer 503',
      async () => {
        // A coordinator that ended with its database is the defect this test exists for.
        if (proc.exitCode !== null || proc.signalCode !== null) {
          const tail = (await readFile(logFile, 'utf8')).split('\n').slice(-15).join('\n');
          throw new FatalWait(`the coordinator exited while its database was down; its log ends:\n${tail}`);
        }
        const r = await readyz();
        return r.status === 503 ? r : null;
      },
      30_000,
    );
    expect(down.body.ready).toBe(false);
    expect(down.body.reason).toMatch(/^database unreachable: /);
    expect(down.body.reason).not.toContain('postgres://');
    expect(await check('')).toEqual({ status: SERVING_STATUS.NOT_SERVING });
    expect((await get(`${base}/healthz`)).status).toBe(200);
    // /metrics still answers: the database's gauges are left out, rollgate_ready says why.
    const scrape = await get(`${base}/metrics`);
    expect(scrape.status).toBe(200);
    expect(sample(scrape.text, 'rollgate_ready')).toBe(0);
    expect(scrape.text).not.toContain('rollgate_runs{');
    expect(sample(scrape.text, 'rollgate_agents_connected')).toBe(0);
    await db.start();
    await waitFor('/readyz to answer 200 again', async () => (await readyz()).status === 200, 60_000);
    expect(sample((await get(`${base}/metrics`)).text, 'rollgate_ready')).toBe(1);
    expect(await check('')).toEqual({ status: SERVING_STATUS.SERVING });
  });

  it('/readyz: 503 naming the migration while the newest one this build ships is not applied, 200 once it is', async () => {
    const client = db.pool;
    {
      const { rows } = await client.query<{ id: number; hash: string; created_at: string }>(
        'SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1',
      );
      const newest = rows[0]!;
      const journal = JSON.parse(
        await readFile(join(ROOT, 'packages/db/migrations/meta/_journal.json'), 'utf8'),
      ) as { entries: { tag: string; when: number }[] };
      const last = journal.entries.reduce((a, b) => (b.when > a.when ? b : a));
      // As if the database were one migration behind this build.
      await client.query('DELETE FROM drizzle.__drizzle_migrations WHERE id = $1', [newest.id]);
      try {
        const pending = await readyz();
        expect(pending.status).toBe(503);
        expect(pending.body.reason).toContain(
          `database migrations pending: this build's newest is ${last.tag}`,
        );
        expect(await check('')).toEqual({ status: SERVING_STATUS.NOT_SERVING });
      } finally {
        await client.query(
          'INSERT INTO drizzle.__drizzle_migrations (id, hash, created_at) VALUES ($1, $2, $3)',
          [newest.id, newest.hash, newest.created_at],
        );
      }
      expect(await readyz()).toEqual({ status: 200, body: { ready: true } });
    }
  });
});
