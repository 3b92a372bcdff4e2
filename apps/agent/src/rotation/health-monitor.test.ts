import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateGate } from './gate';
import {
  createHealthMonitor,
  DEFAULT_HEALTH,
  initialTrack,
  nextHealth,
  serviceHealthTarget,
  type HealthThresholds,
  type HealthTrack,
  type ProbeOutcome,
} from './health-monitor';

const PASS: ProbeOutcome = { ok: true };
const FAIL: ProbeOutcome = { ok: false, running: true, detail: 'timed out' };
const DEAD: ProbeOutcome = { ok: false, running: false, detail: 'ECONNREFUSED' };

function run(outcomes: ProbeOutcome[], t: HealthThresholds = DEFAULT_HEALTH, from = initialTrack()) {
  const states: HealthTrack['state'][] = [];
  let track = from;
  for (const o of outcomes) {
    track = nextHealth(track, o, t);
    states.push(track.state);
  }
  return { states, track };
}

describe('health hysteresis (issue 13 item 3)', () => {
  it('defaults to HAProxy-like fall 3, rise 2 and a 2 s probe timeout', () => {
    expect(DEFAULT_HEALTH).toEqual({ fall: 3, rise: 2, timeoutMs: 2000 });
  });

  it('a healthy service turns unhealthy only at the fall-th consecutive failed probe', () => {
    const { states, track } = run([PASS, FAIL, FAIL, FAIL]);
    expect(states).toEqual(['healthy', 'healthy', 'healthy', 'unhealthy']);
    expect(track.detail).toBe('timed out');
  });

  it('a pass in between resets the count: fail, fail, pass, fail, fail never reports unhealthy', () => {
    const { states } = run([PASS, FAIL, FAIL, PASS, FAIL, FAIL, PASS]);
    expect(states.every((s) => s === 'healthy')).toBe(true);
  });

  it('one late probe in five, for ever, never flips the reported health', () => {
    const outcomes = Array.from({ length: 100 }, (_, i) => (i % 5 === 4 ? FAIL : PASS));
    expect(new Set(run(outcomes).states)).toEqual(new Set(['healthy']));
  });

  it('says on the status line that a probe missed while still healthy', () => {
    const { track } = run([PASS, FAIL]);
    expect(track).toMatchObject({ state: 'healthy', fails: 1 });
    expect(track.detail).toBe('1 of 3 failed probes before unhealthy: timed out');
  });

  it('a service that fell needs rise consecutive passes to be healthy again', () => {
    const t = { ...DEFAULT_HEALTH, rise: 3 };
    const { states, track } = run([PASS, FAIL, FAIL, FAIL, PASS, PASS, FAIL, PASS, PASS, PASS], t);
    expect(states).toEqual([
      'healthy',
      'healthy',
      'healthy',
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'healthy',
    ]);
    expect(track.fell).toBe(false);
  });

  it('fall and rise of 1 react to every probe', () => {
    const { states } = run([PASS, FAIL, PASS, FAIL], { fall: 1, rise: 1, timeoutMs: 900 });
    expect(states).toEqual(['healthy', 'unhealthy', 'healthy', 'unhealthy']);
  });

  it('a dead process is stopped at once, whatever the fall count', () => {
    const { states } = run([PASS, DEAD], { ...DEFAULT_HEALTH, fall: 10 });
    expect(states).toEqual(['healthy', 'stopped']);
    const mid = run([PASS, FAIL, FAIL, DEAD]);
    expect(mid.states.at(-1)).toBe('stopped');
  });

  it('a (re)started service is healthy at its first pass: no healthy state to protect', () => {
    // stopped → started, booting (probe fails) → first pass.
    const { states } = run([DEAD, FAIL, FAIL, PASS]);
    expect(states).toEqual(['stopped', 'unhealthy', 'unhealthy', 'healthy']);
    // First probe after an agent start.
    expect(run([FAIL]).states).toEqual(['unhealthy']);
    expect(run([FAIL, PASS]).states).toEqual(['unhealthy', 'healthy']);
  });
});

// ------------------------------------------------------------------ the monitor against a real HTTP service

let server: Server | undefined;
afterEach(async () => {
  if (server) await new Promise((r) => server!.close(r));
  server = undefined;
});

/** A /health that answers every `lateEvery`-th probe after `lateMs`, the others at once. */
async function lateService(
  lateEvery: number,
  lateMs: number,
): Promise<{ url: string; probes: () => number }> {
  let n = 0;
  server = createServer((_req, res) => {
    n++;
    const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (n % lateEvery === 0) setTimeout(answer, lateMs).unref();
    else answer();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, probes: () => n };
}

describe('health monitor with hysteresis against a real service (issue 13 item 3)', () => {
  it('a service answering every 5th probe after 1.5 s never closes the gate nor flips health', async () => {
    const svc = await lateService(5, 1500);
    const changes: string[][] = [];
    const hm = createHealthMonitor({
      // A timeout below the late answer: every 5th probe FAILS, and must change nothing.
      services: [{ name: 'api', healthUrl: svc.url, health: { timeoutMs: 500 } }],
      isRunning: async () => true,
      onChange: (v) => changes.push(v.map((x) => x.state)),
    });
    const gateStates = new Set<boolean>();
    const seen = new Set<string>();
    for (let i = 0; i < 15; i++) {
      await hm.checkNow();
      const v = hm.get('api')!;
      seen.add(v.detail);
      if (i > 0) gateStates.add(evaluateGate('open', hm.view()).open);
      if (i > 0) expect(v.state).toBe('healthy');
    }
    expect(svc.probes()).toBeGreaterThanOrEqual(15);
    // The late probes did fail (so the test can fail): the status line said so.
    expect([...seen].some((d) => d.startsWith('1 of 3 failed probes before unhealthy'))).toBe(true);
    expect(gateStates).toEqual(new Set([true]));
    expect(changes).toEqual([['healthy']]);
  }, 30_000);

  it('a service that stops answering is unhealthy after fall probes, healthy after rise', async () => {
    let ok = true;
    server = createServer((_req, res) => res.writeHead(ok ? 200 : 500).end());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    const hm = createHealthMonitor({
      services: [{ name: 'api', healthUrl: url, health: { fall: 2, rise: 3 } }],
      isRunning: async () => true,
      onChange: () => {},
    });
    await hm.checkNow();
    expect(hm.get('api')?.state).toBe('healthy');
    ok = false;
    await hm.checkNow();
    expect(hm.get('api')?.state).toBe('healthy');
    await hm.checkNow();
    expect(hm.get('api')).toMatchObject({ state: 'unhealthy' });
    expect(hm.get('api')?.detail).toContain('answered 500');
    ok = true;
    await hm.checkNow();
    await hm.checkNow();
    expect(hm.get('api')?.state).toBe('unhealthy');
    await hm.checkNow();
    expect(hm.get('api')?.state).toBe('healthy');
  });

  it('a process the supervisor finds dead is stopped at the first failed probe', async () => {
    let ok = true;
    let running = true;
    server = createServer((_req, res) => res.writeHead(ok ? 200 : 503).end());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    const hm = createHealthMonitor({
      services: [{ name: 'api', healthUrl: url }],
      isRunning: async () => running,
      onChange: () => {},
    });
    await hm.checkNow();
    expect(hm.get('api')?.state).toBe('healthy');
    ok = false;
    running = false;
    await hm.checkNow();
    expect(hm.get('api')).toEqual({ name: 'api', state: 'stopped', detail: 'not running' });
  });

  it('issue 18: a healthy answer waitHealthy just got counts as a passed probe, without asking the service again', async () => {
    let asked = 0;
    let ok = false;
    server = createServer((_req, res) => {
      asked++;
      res.writeHead(ok ? 200 : 503).end();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    const changes: string[] = [];
    const hm = createHealthMonitor({
      services: [{ name: 'api', healthUrl: url }],
      isRunning: async () => true,
      onChange: (v) => changes.push(v[0]!.state),
    });
    await hm.checkNow();
    expect(hm.get('api')?.state).toBe('unhealthy');
    ok = true;
    const before = asked;
    await hm.passed('api');
    expect(hm.get('api')?.state).toBe('healthy');
    expect(asked).toBe(before);
    expect(changes).toEqual(['unhealthy', 'healthy']);
  });
});

describe('serviceHealthTarget: where HAProxy checks the service (issue 13 item 3)', () => {
  it('reports the path with its query and the port; null for https', () => {
    expect(serviceHealthTarget('http://127.0.0.1:8081/health')).toEqual({ path: '/health', port: 8081 });
    expect(serviceHealthTarget('http://10.0.0.5:9100/ready?deep=1')).toEqual({
      path: '/ready?deep=1',
      port: 9100,
    });
    expect(serviceHealthTarget('http://app.internal/')).toEqual({ path: '/', port: 80 });
    expect(serviceHealthTarget('https://127.0.0.1:8443/health')).toBeNull();
  });
});
