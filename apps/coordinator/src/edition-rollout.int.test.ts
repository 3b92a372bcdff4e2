// The edition manager's verbs with real processes: distribution without activation, a grouped
// rollout (groupSize 2 of 4) under continuous load through a real HAProxy with no request lost, a
// groupSize larger than the target refused, and a back-out by the fast path (nothing downloaded).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyRuntime } from '@rollgate/lb';
import {
  createLoadGenerator,
  freePort,
  startHaproxyOnFreePort,
  type HaproxyProcess,
} from '@rollgate/lb/testing';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

describe('edition verbs: install, grouped rollout under load, back-out fast path', () => {
  let dir: string;
  let fleet: Fleet;
  let haproxy: HaproxyProcess;
  let front: string;
  let socketPath: string;

  async function finished(runId: string) {
    return waitFor(
      `run ${runId} to succeed`,
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId });
        if (['paused', 'failed', 'aborted'].includes(s.run.status))
          throw new Error(`${s.run.status}: ${s.run.failure}`);
        return s.run.status === 'succeeded' ? s : null;
      },
      180_000,
      250,
    );
  }

  async function active(): Promise<string[]> {
    const servers = await fleet.api.servers.list.query({ cluster: 'demo' });
    return servers.map((s) => s.services.find((x) => x.name === 'demo-app')?.activeEdition ?? '');
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-editions-'));
    fleet = await startFleet({ dir, heartbeatMs: 500 });
    socketPath = join(dir, 'haproxy.sock');
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
    await waitFor(
      'HAProxy to see the four servers up',
      async () => {
        const rows = await createHaproxyRuntime({ socketPath }).serverStats('demo');
        return rows.length === 4 && rows.every((r) => r.status === 'UP');
      },
      30_000,
      200,
    );
    await fleet.api.lb.configure.mutate({
      cluster: 'demo',
      config: {
        mode: 'haproxy-runtime',
        runtime: { socketPath },
        backend: 'demo',
        checkIntervalMs: 500,
        fall: 2,
        rise: 2,
        readmitTimeoutMs: 10_000,
        drainageIntervalSec: 3,
      },
    });
  });

  afterAll(async () => {
    await haproxy?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('distributes 2.0 without activating it; the edition status shows it installed but INACTIVE', async () => {
    const view = await fleet.api.editions.install.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    expect(view.run.kind).toBe('distribute');
    await finished(view.run.id);
    expect(await active()).toEqual(['1.0', '1.0', '1.0', '1.0']);
    const status = await waitFor(
      'the agents to report 2.0 installed',
      async () => {
        const rows = await fleet.api.editions.status.query({ app: 'demo-app' });
        const e2 = rows.find((r) => r.edition === '2.0')?.targets.find((t) => t.cluster === 'demo');
        return e2?.installedOn === 4 ? rows : null;
      },
      10_000,
    );
    expect(status.find((r) => r.edition === '1.0')).toMatchObject({
      base: true,
      targets: [{ cluster: 'demo', state: 'ACTIVE' }],
    });
    expect(status.find((r) => r.edition === '2.0')).toMatchObject({
      base: false,
      targets: [{ state: 'INACTIVE', activeOn: 0 }],
    });
  });

  it('refuses groupSize 5 on 4 servers with a clear error, and a simple activation whose downtime was not accepted', async () => {
    await expect(
      fleet.api.editions.rollout.mutate({ app: 'demo-app', cluster: 'demo', edition: '2.0', groupSize: 5 }),
    ).rejects.toThrow(/groupSize 5 exceeds the 4 servers of cluster "demo"/);
    await expect(
      fleet.api.editions.activate.mutate({ app: 'demo-app', cluster: 'demo', edition: '2.0' }),
    ).rejects.toThrow(/stops all 4 servers .* --accept-downtime/);
    await expect(
      fleet.api.editions.rollout.mutate({
        app: 'demo-app',
        cluster: 'demo',
        edition: '2.0',
        strategy: 'atomic',
      }),
    ).rejects.toThrow(/atomic strategy is not available yet/);
    // Nothing was started.
    expect((await fleet.api.upgrade.list.query()).filter((r) => r.status !== 'succeeded')).toEqual([]);
  });

  it('a grouped rollout (groupSize 2) under continuous keep-alive load loses no request', async () => {
    const load = createLoadGenerator({ url: `${front}/`, ratePerSec: 300, keepAlive: true });
    load.start();
    await new Promise((r) => setTimeout(r, 500));
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
      groupSize: 2,
      drainageIntervalSec: 3,
    });
    expect(view.run.plan.rollout).toMatchObject({ strategy: 'grouped', groupSize: 2, fastPath: true });
    expect(view.steps.map((s) => s.servers)).toEqual([
      ['admin-1', 'stream-1'],
      ['admin-2', 'stream-2'],
    ]);
    await finished(view.run.id);
    await new Promise((r) => setTimeout(r, 500));
    const report = await load.stop();
    console.log(
      `[rollout groupSize 2] sent ${report.sent}, errors ${report.errors}, non-2xx ${report.non2xx}, by edition ${JSON.stringify(report.byBody)}`,
    );
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(report.byBody['2.0'] ?? 0).toBeGreaterThan(0);
    expect(await active()).toEqual(['2.0', '2.0', '2.0', '2.0']);
    // The seed's log sequence, with stable codes: quiescing, draining, stopping, starting.
    const codes = new Set(
      (await fleet.api.upgrade.logs.query({ runId: view.run.id, limit: 5000 })).map((l) => l.code),
    );
    for (const c of ['RG0010I', 'RG0110I', 'RG0111I', 'RG0112I', 'RG0114I', 'RG0011I'])
      expect(codes, c).toContain(c);
  });

  it('backs out to 1.0 by the fast path: no download, and 1.0 serves again', async () => {
    const view = await fleet.api.editions.backout.mutate({ app: 'demo-app', cluster: 'demo', groupSize: 2 });
    expect(view.run.kind).toBe('backout');
    expect(view.run.plan.toEdition.name).toBe('1.0');
    expect(view.run.plan.rollout?.fastPath).toBe(true);
    expect(view.steps.flatMap((s) => s.ops).some((o) => o.op === 'install')).toBe(false);
    await finished(view.run.id);
    expect(await active()).toEqual(['1.0', '1.0', '1.0', '1.0']);
    // No agent downloaded anything for this run (synchronizing is the download/unpack line).
    const lines = await fleet.api.upgrade.logs.query({ runId: view.run.id, limit: 5000 });
    expect(lines.filter((l) => l.code === 'RG0113I')).toEqual([]);
    for (const a of fleet.agents) {
      const journal = await fleet.journal(a);
      const ops = journal
        .filter((j) => String(j.actionId ?? '').startsWith(view.run.id))
        .flatMap((j) => (j.ops as { op: string }[] | undefined) ?? []);
      expect(ops.some((o) => o.op === 'install')).toBe(false);
    }
    const res = await fetch(`${front}/`);
    expect(((await res.json()) as { edition: string }).edition).toBe('1.0');
  });
});
