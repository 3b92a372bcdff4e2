// Validation activation with real agents, demo-app processes and HAProxy: 2.0 runs on a clone of
// the target (second instances beside two servers, in the cluster's validation backend) while the
// target serves 1.0; pilot rules (a header, then a client address) send matching requests to the
// clone; a rollout from validation moves 2.0 onto the target and the clone is gone.
import { request } from 'node:http';
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

/** The edition that answers a GET / sent from `localAddress` with these headers. */
function edition(url: string, headers: Record<string, string> = {}, localAddress = '127.0.0.1') {
  return new Promise<string>((resolve, reject) => {
    const req = request(url, { headers, localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve((JSON.parse(body) as { edition: string }).edition)
          : reject(new Error(`status ${res.statusCode}: ${body}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('validation: a clone of the target for pilot requests, then rollout from validation', () => {
  let dir: string;
  let mapDir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let front: string;

  const finished = (runId: string) => runSucceeded(fleet, runId, 120_000);

  async function stateOf(name: string) {
    const rows = await fleet.api.editions.status.query({ app: 'demo-app' });
    return rows.find((r) => r.edition === name)?.targets.find((t) => t.cluster === 'demo');
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-validate-'));
    mapDir = join(dir, 'maps');
    await mkdir(mapDir);
    const files = routingMapFiles('demo', ['x-pilot'], mapDir);
    for (const f of [files.source, files.pathPrefix, ...Object.values(files.headers)]) await writeFile(f, '');
    fleet = await startFleet({ dir, heartbeatMs: 500, beside: true });
    lb = await behindHaproxy(fleet, {
      config: { routing: true, routingHeaders: ['x-pilot'], mapDir },
      lb: { readmitTimeoutMs: 3_000, drainageIntervalSec: 1 },
    });
    front = `${lb.front}/`;
    const clone = await createHaproxyRuntime({ socketPath: lb.socketPath }).serverStats('demo-validate');
    expect(clone.map((r) => r.status)).toEqual(['MAINT', 'MAINT', 'MAINT', 'MAINT']);
  });

  afterAll(async () => {
    await lb?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs 2.0 beside two servers while the target serves 1.0: the edition is VALIDATING there', async () => {
    const view = await fleet.api.editions.validate.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
      cloneSize: 2,
    });
    expect(view.run.kind).toBe('validate');
    expect(view.steps.map((s) => s.key)).toEqual(['prep.stage', 'clone.start']);
    expect(view.steps[1]!.servers).toEqual(['admin-1', 'stream-1']);
    await finished(view.run.id);
    const validating = await waitFor(
      'the agents to report the clone',
      async () => {
        const s = await stateOf('2.0');
        return s?.state === 'VALIDATING' && s.cloneOn === 2 ? s : null;
      },
      10_000,
    );
    expect(validating).toMatchObject({ activeOn: 0, cloneOn: 2 });
    expect((await stateOf('1.0'))?.state).toBe('ACTIVE');
    for (let i = 0; i < 8; i++) expect(await edition(front)).toBe('1.0');
  });

  it('pilot rules send matching requests to the clone: a header, then a client address; the others get 1.0', async () => {
    const byHeader = await fleet.api.lb.setRoutes.mutate({
      cluster: 'demo',
      mapDir,
      rules: [{ match: 'header', header: 'x-pilot', value: 'yes', edition: '2.0' }],
    });
    expect(byHeader.rules[0]).toMatchObject({ backend: 'demo-validate' });
    for (let i = 0; i < 8; i++) {
      expect(await edition(front, { 'x-pilot': 'yes' })).toBe('2.0');
      expect(await edition(front)).toBe('1.0');
    }
    await fleet.api.lb.setRoutes.mutate({
      cluster: 'demo',
      rules: [{ match: 'source', cidr: '127.0.0.2/32', edition: '2.0' }],
    });
    for (let i = 0; i < 8; i++) {
      expect(await edition(front, {}, '127.0.0.2')).toBe('2.0');
      expect(await edition(front, {}, '127.0.0.1')).toBe('1.0');
      expect(await edition(front, { 'x-pilot': 'yes' })).toBe('1.0');
    }
  });

  it('deactivate refuses the ACTIVE edition, and stops a clone and its pilot rules', async () => {
    await expect(
      fleet.api.editions.deactivate.mutate({ app: 'demo-app', cluster: 'demo', edition: '1.0' }),
    ).rejects.toThrow(/1\.0 is the ACTIVE edition of cluster "demo": it is replaced, not deactivated/);
    const view = await fleet.api.editions.deactivate.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    expect(view.run.kind).toBe('deactivate');
    expect((await fleet.api.lb.routes.query({ cluster: 'demo' })).rules).toEqual([]);
    await finished(view.run.id);
    await waitFor(
      'the status to show 2.0 INACTIVE again',
      async () => (await stateOf('2.0'))?.state === 'INACTIVE',
      10_000,
    );
    for (const a of fleet.agents) {
      await expect(fetch(`http://127.0.0.1:${a.besidePort}/health`), `${a.id} clone`).rejects.toThrow();
    }
    await expect(
      fleet.api.editions.deactivate.mutate({ app: 'demo-app', cluster: 'demo', edition: '2.0' }),
    ).rejects.toThrow(/runs on no validation clone/);
    // Validate again (fast path: installed) with the pilot by address, for the rollout below.
    await finished(
      (
        await fleet.api.editions.validate.mutate({
          app: 'demo-app',
          cluster: 'demo',
          edition: '2.0',
          cloneSize: 2,
        })
      ).run.id,
    );
    await waitFor('the clone to be reported', async () => (await stateOf('2.0'))?.cloneOn === 2, 10_000);
    await fleet.api.lb.setRoutes.mutate({
      cluster: 'demo',
      rules: [{ match: 'source', cidr: '127.0.0.2/32', edition: '2.0' }],
    });
    expect(await edition(front, {}, '127.0.0.2')).toBe('2.0');
  });

  it('a rollout from validation moves 2.0 onto the target, lifts the pilot rules, and the clone is gone', async () => {
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
      groupSize: 2,
    });
    // Every server that can run a second instance: stopping one that is not there is a no-op.
    expect(view.steps.at(-1)).toMatchObject({
      key: 'clone.stop',
      servers: ['admin-1', 'stream-1', 'admin-2', 'stream-2'],
    });
    expect((await fleet.api.lb.routes.query({ cluster: 'demo' })).rules).toEqual([]);
    await finished(view.run.id);
    const servers = await fleet.api.servers.list.query({ cluster: 'demo' });
    expect(servers.map((s) => s.services[0]?.activeEdition)).toEqual(['2.0', '2.0', '2.0', '2.0']);
    for (const a of fleet.agents) {
      await expect(fetch(`http://127.0.0.1:${a.besidePort}/health`), `${a.id} clone`).rejects.toThrow();
    }
    const after = await waitFor(
      'the status to show 2.0 active and no clone',
      async () => {
        const s = await stateOf('2.0');
        return s?.state === 'ACTIVE' && s.cloneOn === 0 ? s : null;
      },
      10_000,
    );
    expect(after.activeOn).toBe(4);
    for (let i = 0; i < 8; i++) expect(await edition(front, {}, '127.0.0.2')).toBe('2.0');
  });
});
