// The promise users buy: during a rolling upgrade no user request fails. Proven through a REAL
// HAProxy (from Debian) in front of the demo fleet (real coordinator, agents and demo-apps), under
// continuous load, with the HAProxy configuration that `rollgate lb haproxy-config` generates.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyRuntime } from '@rollgate/lb';
import {
  createLoadGenerator,
  freePort,
  startHaproxyOnFreePort,
  type HaproxyProcess,
  type LoadReport,
} from '@rollgate/lb/testing';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

const RATE = 600;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('no request lost through a real HAProxy', () => {
  let dir: string;
  let fleet: Fleet;
  let haproxy: HaproxyProcess;
  let front: string;
  let socketPath: string;

  async function upload(name: string, path: string) {
    await fleet.api.editions.upload.mutate({
      app: 'demo-app',
      name,
      contentBase64: (await readFile(path)).toString('base64'),
    });
  }

  async function useLb(mode: 'haproxy-runtime' | 'gate-only') {
    await fleet.api.lb.configure.mutate({
      cluster: 'demo',
      config: {
        mode,
        ...(mode === 'haproxy-runtime' ? { runtime: { socketPath } } : {}),
        backend: 'demo',
        checkIntervalMs: 500,
        fall: 2,
        rise: 2,
        agentInterMs: 500,
        drainageIntervalSec: 7,
      },
    });
  }

  async function allUp() {
    const rows = await createHaproxyRuntime({ socketPath }).serverStats('demo');
    return rows.length === 4 && rows.every((r) => r.status === 'UP' && r.adminState === 'ready');
  }

  async function runUpgrade(edition: string, drainageIntervalSec = 5) {
    const started = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition,
      drainageIntervalSec,
      signOff: false,
    });
    const runId = started.run.id;
    const done = await waitFor(
      `run ${runId} to finish`,
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId });
        if (s.run.status === 'paused') throw new Error(`paused: ${s.run.failure}`);
        return s.run.status === 'succeeded' ? s : null;
      },
      180_000,
      250,
    );
    return { runId, view: done };
  }

  /** Rolls the fleet to `edition` while the load generator runs for the whole rollout. */
  async function rollUnderLoad(edition: string, keepAlive: boolean): Promise<LoadReport> {
    const load = createLoadGenerator({ url: `${front}/`, ratePerSec: RATE, keepAlive });
    load.start();
    await sleep(1000);
    await runUpgrade(edition);
    await sleep(1000);
    const report = await load.stop();
    console.log(
      `[${edition}, keep-alive ${keepAlive}] sent ${report.sent}, 2xx ${report.ok2xx}, non-2xx ${report.non2xx}, errors ${report.errors} ${JSON.stringify(report.errorsByKind)}, by edition ${JSON.stringify(report.byBody)}, ${report.achievedRps.toFixed(0)} req/s for ${(report.durationMs / 1000).toFixed(1)} s, p99 ${report.latencyMs.p99} ms`,
    );
    return report;
  }

  async function editionsServedNow(n = 40): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${front}/`);
      seen.add(((await res.json()) as { edition: string }).edition);
    }
    return seen;
  }

  function expectNothingLost(report: LoadReport, from: string, to: string) {
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(report.ok2xx).toBe(report.sent);
    expect(report.achievedRps).toBeGreaterThanOrEqual(500);
    // The responses moved from the old edition to the new one during the run.
    expect(report.byBody[from] ?? 0).toBeGreaterThan(0);
    expect(report.byBody[to] ?? 0).toBeGreaterThan(0);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-lb-'));
    fleet = await startFleet({ dir, heartbeatMs: 500, editions: ['1.0', '2.0', '2.1', '2.2', '2.3'] });
    socketPath = join(dir, 'haproxy.sock');
    // The configuration an LB admin would paste: what `rollgate lb haproxy-config` prints.
    const started = await startHaproxyOnFreePort(
      (port) =>
        fleet.api.lb.haproxyConfig.query({
          cluster: 'demo',
          backend: 'demo',
          bind: `127.0.0.1:${port}`,
          socketPath,
          checkIntervalMs: 500,
        }),
      freePort,
    );
    haproxy = started.haproxy;
    front = `http://127.0.0.1:${started.port}`;
    await waitFor('HAProxy to see all four servers up', allUp, 30_000, 200);
  });

  afterAll(async () => {
    await haproxy?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runtime API, keep-alive: a minor rolling upgrade 1.0 → 2.0 under load loses no request', async () => {
    await useLb('haproxy-runtime');
    // The drainage interval: the run's own, else the cluster's.
    const drainOf = async (drainageIntervalSec?: number) => {
      const plan = await fleet.api.upgrade.plan.query({
        cluster: 'demo',
        app: 'demo-app',
        edition: '2.0',
        ...(drainageIntervalSec !== undefined ? { drainageIntervalSec } : {}),
      });
      return plan.steps.find((s) => s.key === 'g1.stop')!.ops.find((op) => op.op === 'drain');
    };
    expect(await drainOf()).toMatchObject({ maxWaitMs: 7000 });
    expect(await drainOf(3)).toMatchObject({ maxWaitMs: 3000 });
    const report = await rollUnderLoad('2.0', true);
    expectNothingLost(report, '1.0', '2.0');
    expect(await editionsServedNow()).toEqual(new Set(['2.0']));
    expect(await allUp()).toBe(true);
  });

  it('runtime API, no keep-alive: 2.0 → 2.1 under load loses no request', async () => {
    const report = await rollUnderLoad('2.1', false);
    expectNothingLost(report, '2.0', '2.1');
    expect(await editionsServedNow()).toEqual(new Set(['2.1']));
  });

  it("gate-only (HAProxy's own checks on /gate and agent-check, no runtime API): 2.1 → 2.2 loses no request", async () => {
    await useLb('gate-only');
    const report = await rollUnderLoad('2.2', true);
    expectNothingLost(report, '2.1', '2.2');
    expect(await editionsServedNow()).toEqual(new Set(['2.2']));
    await waitFor('all servers up again', allUp, 10_000, 200);
  });

  it('a drain waits for in-flight slow requests (15 s) to finish before the service is stopped', async () => {
    await useLb('haproxy-runtime');
    // Staged beforehand, so the run's own staging step finds it installed and group 1 leaves
    // rotation within moments of the start, while the slow requests still run, however busy the
    // machine (staging in the agents' child processes took 13 s at load 25).
    const staged = await fleet.api.editions.install.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.3',
    });
    await waitFor(
      'the distribution of 2.3 to finish',
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId: staged.run.id });
        if (s.run.status === 'paused' || s.run.status === 'failed')
          throw new Error(`${s.run.status}: ${s.run.failure}`);
        return s.run.status === 'succeeded' ? s : null;
      },
      180_000,
      250,
    );
    // Two slow requests per server, through the load balancer, already running when the run starts.
    const slow = Array.from({ length: 8 }, () =>
      fetch(`${front}/slow?ms=15000`).then(
        async (r) => ({ status: r.status, body: await r.text() }),
        (e: Error) => ({ status: 0, body: e.message }),
      ),
    );
    await sleep(200);
    // Light traffic as well: a re-admitted server counts as back once it has served a request.
    const load = createLoadGenerator({ url: `${front}/`, ratePerSec: 100, keepAlive: true });
    load.start();
    // The drainage interval outlasts the slow requests: the drain must end on "no sessions left".
    const { runId } = await runUpgrade('2.3', 25);
    const report = await load.stop();
    expect(report.errors + report.non2xx).toBe(0);
    const results = await Promise.all(slow);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const drains = (await fleet.api.upgrade.logs.query({ runId, code: 'RG0111I' })).filter((l) =>
      /drained in/.test(l.message),
    );
    // Group 1's first stop (the first step that drains; preparation steps come before it) is the
    // one the slow requests were running into.
    const first = Math.min(...drains.map((l) => l.stepIndex ?? Infinity));
    const g1 = drains.filter((l) => l.stepIndex === first);
    expect(g1.map((l) => l.serverId).sort()).toEqual(['admin-1', 'stream-1']);
    expect(g1).toHaveLength(2);
    for (const l of g1) {
      // The drain took about as long as the slow requests, and ended because sessions reached 0.
      const secs = Number(/drained in ([\d.]+) s/.exec(l.message)![1]);
      expect(secs).toBeGreaterThanOrEqual(2);
      expect(l.message).toMatch(/no sessions left/);
    }
  });

  it('a step that fails mid-rollout reports exactly which servers are out of rotation and why; a new run recovers', async () => {
    // An edition whose service cannot start.
    const src = join(dir, 'broken-src');
    await mkdir(src, { recursive: true });
    await writeFile(
      join(src, 'server.mjs'),
      "console.error('cannot start: missing licence file'); process.exit(3);\n",
    );
    await writeFile(join(src, 'edition.json'), JSON.stringify({ name: 'broken' }));
    const archive = join(dir, 'broken.tgz');
    await tar.c({ gzip: true, file: archive, cwd: src, portable: true }, ['server.mjs', 'edition.json']);
    await upload('broken', archive);

    const load = createLoadGenerator({ url: `${front}/`, ratePerSec: RATE, keepAlive: true });
    load.start();
    const started = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: 'broken',
      drainageIntervalSec: 5,
      healthTimeoutSec: 3,
      signOff: false,
    });
    const runId = started.run.id;
    const paused = await waitFor(
      'the run to pause on the failed start',
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId });
        return s.run.status === 'paused' ? s : null;
      },
      60_000,
      250,
    );
    // The run names the servers it left out of rotation...
    expect(paused.run.failure, 'the failure').toMatch(/Start all services on server group 1/);
    expect(paused.outOfRotation.map((o) => o.serverId).sort()).toEqual(['admin-1', 'stream-1']);
    expect(paused.run.failure).toMatch(/Start all services on server group 1/);
    // Log lines are written in batches: the report may land a moment after the status.
    const leftOut = await waitFor('the left-out report in the run log', async () =>
      (await fleet.api.upgrade.logs.query({ runId, code: 'RG0062E' })).at(-1),
    );
    expect(leftOut.message).toMatch(/admin-1, stream-1/);
    // ...and HAProxy agrees: exactly those two take no traffic, the other group serves.
    const rows = await createHaproxyRuntime({ socketPath }).serverStats('demo');
    const serving = rows.filter((r) => r.status === 'UP' && r.adminState === 'ready').map((r) => r.name);
    expect(serving.sort()).toEqual(['admin-2', 'stream-2']);
    await fleet.api.upgrade.abort.mutate({ runId, reason: 'broken edition' });
    const report = await load.stop();
    expect(report.errors + report.non2xx).toBe(0);

    // Recovery: a new run to a good edition brings the stopped group back.
    const recoveryLoad = createLoadGenerator({ url: `${front}/`, ratePerSec: 100, keepAlive: true });
    recoveryLoad.start();
    await runUpgrade('2.3', 5);
    const recovery = await recoveryLoad.stop();
    console.log(
      `[recovery] sent ${recovery.sent}, errors ${recovery.errors} ${JSON.stringify(recovery.errorsByKind)} ${JSON.stringify(recovery.errorSamples)}, non-2xx ${JSON.stringify(recovery.byStatus)}`,
    );
    expect(recovery.errors + recovery.non2xx).toBe(0);
    await waitFor('all servers up again', allUp, 10_000, 200);
    expect(await editionsServedNow()).toEqual(new Set(['2.3']));
  });
});
