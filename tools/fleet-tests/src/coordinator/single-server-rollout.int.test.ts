// A single-server target rolled out under load through a real HAProxy: the new edition starts
// beside the old one on the server's beside port, HAProxy is switched to it in one runtime-API
// exchange, the server's own instance is upgraded, HAProxy is switched back, the second instance
// stops. Real agent, real demo-app processes, and not one request lost.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyRuntime } from '@rollgate/lb';
import { createLoadGenerator, type LoadResult } from '@rollgate/lb/testing';
import { behindHaproxy, runSucceeded, startFleet, type Fleet, type FleetHaproxy } from '@rollgate/demo-fleet';

describe('a single-server target, side by side', () => {
  let dir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let front: string;
  let socketPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-solo-'));
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      agents: [{ id: 'solo-1', role: 'web' }],
      beside: true,
    });
    lb = await behindHaproxy(fleet);
    front = lb.front;
    socketPath = lb.socketPath;
    const twin = (await createHaproxyRuntime({ socketPath }).serverStats('demo')).find(
      (r) => r.name === 'solo-1-beside',
    );
    expect(twin?.status).toBe('MAINT');
  });

  afterAll(async () => {
    await lb?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('rolls 1.0 → 2.0 out under keep-alive load with 0 failed requests, then stops the second instance', async () => {
    const results: LoadResult[] = [];
    const load = createLoadGenerator({
      url: `${front}/`,
      ratePerSec: 200,
      keepAlive: true,
      onResult: (r) => results.push(r),
    });
    load.start();
    await new Promise((r) => setTimeout(r, 500));
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    expect(view.run.plan.rollout).toMatchObject({ beside: true });
    expect(view.steps.map((s) => s.key)).toEqual([
      'prep.stage',
      'beside.start',
      'beside.in',
      'beside.upgrade',
      'beside.out',
      'beside.stop',
    ]);
    const done = await runSucceeded(fleet, view.run.id);
    await new Promise((r) => setTimeout(r, 500));
    const report = await load.stop();
    console.log(
      `[single server] sent ${report.sent}, errors ${report.errors}, non-2xx ${report.non2xx}, by edition ${JSON.stringify(report.byBody)}`,
    );
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(report.byBody['1.0'] ?? 0).toBeGreaterThan(0);
    expect(report.byBody['2.0'] ?? 0).toBeGreaterThan(0);
    // Once 2.0 answered, 1.0 never did again: the switches were clean.
    const first2 = Math.min(...results.filter((r) => r.key === '2.0').map((r) => r.startedAt));
    expect(results.filter((r) => r.key === '1.0' && r.startedAt > first2 + 1000)).toEqual([]);
    expect(done.outOfRotation).toEqual([]);
    const server = (await fleet.api.servers.list.query({ cluster: 'demo' }))[0]!;
    expect(server.services[0]?.activeEdition).toBe('2.0');
    expect(server.gateOpen).toBe(true);
    // Back on the server's own instance; the second one is stopped and HAProxy sends it nothing.
    const rows = await createHaproxyRuntime({ socketPath }).serverStats('demo');
    expect(rows.find((r) => r.name === 'solo-1')).toMatchObject({ status: 'UP', adminState: 'ready' });
    expect(rows.find((r) => r.name === 'solo-1-beside')?.adminState).not.toBe('ready');
    const agent = fleet.agents[0]!;
    await expect(fetch(`http://127.0.0.1:${agent.besidePort}/health`)).rejects.toThrow();
    const codes = new Set(
      (await fleet.api.upgrade.logs.query({ runId: view.run.id, limit: 5000 })).map((l) => l.code),
    );
    expect(codes).toContain('RG0115I');
  });
});
