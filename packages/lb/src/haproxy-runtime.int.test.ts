// The runtime client against a REAL HAProxy on loopback, configured by renderHaproxyBackend, with
// three small HTTP servers behind it and the load generator in front: a drained server gets no new
// request, maint takes it out, ready puts it back, and a group switch happens in one exchange.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHaproxyBackend } from './haproxy-config';
import { createHaproxyRuntime, type HaproxyRuntime } from './haproxy-runtime';
import { createLoadGenerator, freePort, startHaproxy, type HaproxyProcess, type LoadResult } from './testing';
import { waiter } from '@rollgate/test-kit';

const BACKEND = 'rollgate_demo';
let hp: HaproxyProcess;
let rt: HaproxyRuntime;
let fePort: number;
const servers: Server[] = [];

/** A server that answers {"edition": <name>} and 200 on /gate (its own health-check port). */
async function backendServer(name: string, port: number): Promise<Server> {
  const s = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/gate' ? 'open\n' : JSON.stringify({ edition: name }));
  });
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { waitFor } = waiter({ timeoutMs: 10_000, everyMs: 25, diagnostics: () => hp.output().slice(-2000) });

/** Runs load while `during` acts; returns every result and the report. */
async function underLoad(during: () => Promise<void>, opts: { keepAlive: boolean; rate?: number }) {
  const results: LoadResult[] = [];
  const gen = createLoadGenerator({
    url: `http://127.0.0.1:${fePort}/`,
    ratePerSec: opts.rate ?? 200,
    keepAlive: opts.keepAlive,
    timeoutMs: 3000,
    onResult: (r) => results.push(r),
  });
  gen.start();
  await sleep(300);
  await during();
  await sleep(300);
  const report = await gen.stop();
  return { results, report };
}

beforeAll(async () => {
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  fePort = ports[0]!;
  const names = ['s1', 's2', 's3'];
  for (const [i, n] of names.entries()) servers.push(await backendServer(n, ports[i + 1]!));
  hp = await startHaproxy({
    config: ({ socketPath }) =>
      renderHaproxyBackend({
        cluster: 'demo',
        bind: `127.0.0.1:${fePort}`,
        runtimeSocketPath: socketPath,
        checkIntervalMs: 500,
        servers: names.map((name, i) => ({
          name,
          address: '127.0.0.1',
          servicePort: ports[i + 1]!,
          gatePort: ports[i + 1]!,
          // Health from the service itself (it answers 200 on any path).
          healthPath: '/health',
        })),
      }),
  });
  rt = createHaproxyRuntime({ socketPath: hp.socketPath });
  await waitFor('all servers UP by their health check', async () =>
    (await rt.serverStats(BACKEND)).every((s) => s.status === 'UP' && s.checkStatus === 'L7OK'),
  );
}, 30_000);

afterAll(async () => {
  await hp?.stop();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

describe('HAProxy runtime API against a real HAProxy', () => {
  it('starts from the rendered config: three servers UP and ready, round robin', async () => {
    const stats = await rt.serverStats(BACKEND);
    expect(stats.map((s) => [s.name, s.status, s.adminState, s.opState])).toEqual([
      ['s1', 'UP', 'ready', 'running'],
      ['s2', 'UP', 'ready', 'running'],
      ['s3', 'UP', 'ready', 'running'],
    ]);
    const { report } = await underLoad(async () => {}, { keepAlive: true });
    expect(report.errors).toBe(0);
    expect(Object.keys(report.byBody).sort()).toEqual(['s1', 's2', 's3']);
  });

  for (const keepAlive of [true, false]) {
    it(`drain: show stat says DRAIN and no request sent after the call reaches that server (keep-alive ${keepAlive})`, async () => {
      let drainedAt = 0;
      let calledAt = 0;
      const { results, report } = await underLoad(
        async () => {
          calledAt = Date.now();
          await rt.setState(BACKEND, 's1', 'drain');
          drainedAt = Date.now();
          const s1 = (await rt.serverStats(BACKEND)).find((s) => s.name === 's1');
          expect(s1).toMatchObject({ status: 'DRAIN', adminState: 'drain', opState: 'running' });
          await sleep(700);
        },
        { keepAlive },
      );
      expect(report.errors).toBe(0);
      expect(report.non2xx).toBe(0);
      const toS1After = results.filter((r) => r.key === 's1' && r.startedAt > drainedAt);
      expect(toS1After).toEqual([]);
      const lastToS1 = Math.max(...results.filter((r) => r.key === 's1').map((r) => r.startedAt));
      const afterCall = results.filter((r) => r.startedAt > drainedAt);
      expect(afterCall.length).toBeGreaterThan(100);
      expect(new Set(afterCall.map((r) => r.key))).toEqual(new Set(['s2', 's3']));
      console.log(
        `[lb] runtime drain (keep-alive ${keepAlive}): call took ${drainedAt - calledAt} ms; last request to s1 was due ${lastToS1 - calledAt} ms after the call began; ${report.sent} requests, 0 errors`,
      );
      await rt.setState(BACKEND, 's1', 'ready');
    });
  }

  it('maint takes a server out entirely; ready puts it back in rotation at once', async () => {
    await rt.setState(BACKEND, 's2', 'maint');
    const s2 = (await rt.serverStats(BACKEND)).find((s) => s.name === 's2');
    expect(s2).toMatchObject({ status: 'MAINT', adminState: 'maint', opState: 'stopped', checkStatus: '' });
    let readyAt = 0;
    const { results, report } = await underLoad(
      async () => {
        await sleep(300);
        await rt.setState(BACKEND, 's2', 'ready');
        readyAt = Date.now();
        await sleep(500);
      },
      { keepAlive: true },
    );
    expect(report.errors).toBe(0);
    expect(results.filter((r) => r.key === 's2' && r.finishedAt < readyAt - 5)).toEqual([]);
    expect(results.filter((r) => r.key === 's2' && r.startedAt > readyAt).length).toBeGreaterThan(10);
    const back = (await rt.serversState(BACKEND)).find((s) => s.name === 's2');
    expect(back).toMatchObject({ adminState: 'ready', opState: 'running' });
  });

  it('setStates switches a group in one exchange: ready first, then the others drained', async () => {
    let switchedAt = 0;
    const { results, report } = await underLoad(
      async () => {
        await rt.setStates([
          { backend: BACKEND, server: 's1', state: 'ready' },
          { backend: BACKEND, server: 's2', state: 'drain' },
          { backend: BACKEND, server: 's3', state: 'drain' },
        ]);
        switchedAt = Date.now();
        await sleep(500);
      },
      { keepAlive: true },
    );
    expect(report.errors).toBe(0);
    const after = results.filter((r) => r.startedAt > switchedAt);
    expect(after.length).toBeGreaterThan(50);
    expect(new Set(after.map((r) => r.key))).toEqual(new Set(['s1']));
    expect((await rt.serverStats(BACKEND)).map((s) => s.status)).toEqual(['UP', 'DRAIN', 'DRAIN']);
    await rt.setStates([
      { backend: BACKEND, server: 's2', state: 'ready' },
      { backend: BACKEND, server: 's3', state: 'ready' },
    ]);
  });

  it('a typo in a group change changes nothing; HAProxy errors name the backend and server', async () => {
    await expect(
      rt.setStates([
        { backend: BACKEND, server: 's1', state: 'drain' },
        { backend: BACKEND, server: 's9', state: 'drain' },
      ]),
    ).rejects.toThrow(/no server state was changed: HAProxy backend "rollgate_demo" has no server "s9"/);
    expect((await rt.serverStats(BACKEND)).map((s) => s.adminState)).toEqual(['ready', 'ready', 'ready']);
    await expect(rt.setState('rollgate_nope', 's1', 'drain')).rejects.toThrow(
      'HAProxy has no backend "rollgate_nope"',
    );
    await expect(rt.setState(BACKEND, 's9', 'drain')).rejects.toThrow(
      'HAProxy backend "rollgate_demo" has no server "s9"',
    );
    await expect(rt.serverStats('rollgate_nope')).rejects.toThrow('HAProxy has no backend "rollgate_nope"');
  });

  it('a reload loses no keep-alive request (idle-close-on-response) but forgets runtime API states', async () => {
    await rt.setState(BACKEND, 's3', 'drain');
    const before = hp.workerPid;
    const { report } = await underLoad(() => hp.reload(), { keepAlive: true });
    expect(hp.workerPid).not.toBe(before);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    const s3 = (await rt.serversState(BACKEND)).find((s) => s.name === 's3');
    expect(s3?.adminState).toBe('ready');
  });
});
