// Concurrent editions: one application on two clusters, each with its own active edition behind its
// own HAProxy backend, and a routing rule on the first cluster's frontend that sends pilot requests
// to the cluster serving the other edition. Real agents, demo-app processes and HAProxy.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyRuntime, routingMapFiles } from '@rollgate/lb';
import {
  behindHaproxy,
  runSucceeded,
  startFleet,
  waitFor,
  type Fleet,
  type FleetHaproxy,
} from '@rollgate/demo-fleet';

describe('concurrent editions on two clusters', () => {
  let dir: string;
  let mapDir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let front: string;

  async function edition(headers: Record<string, string> = {}): Promise<string> {
    const res = await fetch(`${front}/`, { headers });
    expect(res.status).toBe(200);
    return ((await res.json()) as { edition: string }).edition;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-concurrent-'));
    mapDir = join(dir, 'maps');
    await mkdir(mapDir);
    const files = routingMapFiles('blue', ['x-pilot'], mapDir);
    for (const f of [files.source, files.pathPrefix, ...Object.values(files.headers)]) await writeFile(f, '');
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      agents: [
        { id: 'blue-1', role: 'web', cluster: 'blue' },
        { id: 'blue-2', role: 'web', cluster: 'blue' },
        { id: 'green-1', role: 'web', cluster: 'green' },
        { id: 'green-2', role: 'web', cluster: 'green' },
      ],
    });
    // Blue's whole configuration with its routing frontend, plus green's backend.
    lb = await behindHaproxy(fleet, {
      cluster: 'blue',
      config: { routing: true, routingHeaders: ['x-pilot'], mapDir },
      append: async () => {
        const green = await fleet.api.lb.haproxyConfig.query({
          cluster: 'green',
          backend: 'green',
          bind: '127.0.0.1:1',
          checkIntervalMs: 500,
        });
        return green.slice(green.search(/^backend green$/m));
      },
      lb: { readmitTimeoutMs: 3_000, drainageIntervalSec: 1 },
    });
    front = lb.front;
    const rt = createHaproxyRuntime({ socketPath: lb.socketPath });
    await waitFor(
      "HAProxy to see green's servers up too",
      async () => (await rt.serverStats('green')).every((r) => r.status === 'UP'),
      30_000,
      200,
    );
    await fleet.api.lb.configure.mutate({
      cluster: 'green',
      config: {
        mode: 'haproxy-runtime',
        runtime: { socketPath: lb.socketPath },
        backend: 'green',
        checkIntervalMs: 500,
        readmitTimeoutMs: 3_000,
        drainageIntervalSec: 1,
      },
    });
  });

  afterAll(async () => {
    await lb?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('rolls 2.0 out on green only: each cluster serves its own edition, and the status says so per target', async () => {
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'green',
      edition: '2.0',
    });
    await runSucceeded(fleet, view.run.id);
    const servers = await fleet.api.servers.list.query({});
    const active = Object.fromEntries(servers.map((s) => [s.id, s.services[0]?.activeEdition]));
    expect(active).toEqual({ 'blue-1': '1.0', 'blue-2': '1.0', 'green-1': '2.0', 'green-2': '2.0' });
    const status = await waitFor(
      'the edition status to show 2.0 active on green',
      async () => {
        const rows = await fleet.api.editions.status.query({ app: 'demo-app' });
        const e2 = rows.find((r) => r.edition === '2.0');
        return e2?.targets.find((t) => t.cluster === 'green')?.state === 'ACTIVE' ? rows : null;
      },
      10_000,
    );
    const targets = (name: string) =>
      Object.fromEntries(
        status.find((r) => r.edition === name)!.targets.map((t) => [t.cluster, t.state] as const),
      );
    expect(targets('1.0')).toMatchObject({ blue: 'ACTIVE', green: 'INACTIVE' });
    expect(targets('2.0')).toMatchObject({ blue: 'INACTIVE', green: 'ACTIVE' });
    // The engine's audit entry of the start says from where the API call came (loopback here).
    const audit = await fleet.api.audit.list.query();
    expect(audit.find((a) => a.action === 'run.start' && a.target === view.run.id)?.details).toMatchObject({
      from: '127.0.0.1',
    });
    // Blue's frontend still sends everyone to blue, on 1.0.
    for (let i = 0; i < 10; i++) expect(await edition()).toBe('1.0');
  });

  it('a routing rule on blue sends pilot requests to green (2.0) while the others stay on 1.0', async () => {
    const view = await fleet.api.lb.setRoutes.mutate({
      cluster: 'blue',
      mapDir,
      rules: [{ match: 'header', header: 'x-pilot', value: 'yes', edition: '2.0' }],
    });
    expect(view.editions).toMatchObject({ '1.0': 'blue', '2.0': 'green' });
    expect(view.rules[0]).toMatchObject({ backend: 'green' });
    for (let i = 0; i < 10; i++) {
      expect(await edition({ 'x-pilot': 'yes' })).toBe('2.0');
      expect(await edition({ 'x-pilot': 'no' })).toBe('1.0');
      expect(await edition()).toBe('1.0');
    }
    await fleet.api.lb.setRoutes.mutate({ cluster: 'blue', rules: [] });
    for (let i = 0; i < 5; i++) expect(await edition({ 'x-pilot': 'yes' })).toBe('1.0');
  });
});
