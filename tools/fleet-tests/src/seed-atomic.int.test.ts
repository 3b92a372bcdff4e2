// Issue 14, "an atomic rollout across per-role pools": the seed topology of seed-topology.int.test.ts
// (admin and stream pools of the application, the admin servers' licence service in a third pool,
// a pair of HAProxies configured with what `lb haproxy-config` prints for each), and an atomic
// rollout of the application: half of each pool upgraded out of rotation, then ONE switch per
// balancer. Under load on every frontend of both balancers: no failed request, no pool ever
// without a server in rotation, and once the run is over every answer of the application's pools
// comes from the new edition.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatalWait, waitFor } from '@rollgate/demo-fleet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeLoad, loadEveryFrontend } from './load';
import {
  APP,
  BALANCERS,
  LB_TIMINGS,
  POOLS,
  SEED_CLUSTER,
  startSeedFleet,
  type SeedFleet,
} from './seed-fleet';

let dir: string;
let seed: SeedFleet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-seed-atomic-'));
  seed = await startSeedFleet({ dir, editions: ['1.0', '2.0'] });
}, 240_000);

afterAll(async () => {
  await seed?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every moment a pool had no server in rotation on a balancer, from `show stat` every 100 ms. */
function watchPools(s: SeedFleet) {
  const empty: string[] = [];
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const b of BALANCERS) {
        const rows = await s.balancers[b].stats().catch(() => null);
        if (!rows) continue;
        samples++;
        for (const p of POOLS)
          if (!rows.some((r) => r.backend === p.backend && r.status === 'UP'))
            empty.push(`${new Date().toISOString()} ${b} ${p.backend}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { empty, samples };
    },
  };
}

describe('issue 14: an atomic rollout across per-role pools behind a pair of HAProxies', () => {
  it('issue 14: an atomic rollout under load on both balancers: 0 failed requests, no pool ever empty, only the new edition answers after it', async () => {
    await seed.fleet.waitConnected();
    const load = loadEveryFrontend(seed.frontends(), { ratePerSec: 10, maxMs: 150_000 });
    const pools = watchPools(seed);
    await new Promise((r) => setTimeout(r, 1000));
    const view = await seed.fleet.api.editions.rollout.mutate({
      app: APP,
      cluster: SEED_CLUSTER,
      edition: '2.0',
      strategy: 'atomic',
      drainageIntervalSec: LB_TIMINGS.drainageIntervalSec,
    });
    expect(view.run.plan.rollout).toMatchObject({ strategy: 'atomic' });
    const runId = view.run.id;
    await waitFor(
      `run ${runId} to succeed`,
      async () => {
        const s = await seed.fleet.api.upgrade.status.query({ runId });
        if (['paused', 'failed', 'aborted'].includes(s.run.status))
          throw new FatalWait(`run ${runId} ${s.run.status}: ${s.run.failure}`);
        return s.run.status === 'succeeded';
      },
      140_000,
      250,
    );
    const during = await load.stop();
    const seen = await pools.stop();
    console.log(describeLoad('seed atomic rollout', during));
    expect(during.failures).toEqual({});
    expect(during.failed).toBe(0);
    expect(seen.samples).toBeGreaterThan(0);
    expect(seen.empty).toEqual([]);

    // After the switch: the application's pools answer 2.0 only, on both balancers.
    const after = loadEveryFrontend(seed.frontends(), { ratePerSec: 10, maxMs: 10_000 });
    await new Promise((r) => setTimeout(r, 3000));
    const report = await after.stop();
    console.log(describeLoad('seed after the atomic switch', report));
    expect(report.failed).toBe(0);
    for (const b of BALANCERS)
      for (const pool of ['admin', 'stream']) {
        const byBody = report.byFrontend[`${b}/${pool}`]!.byBody;
        expect(Object.keys(byBody)).toEqual(['2.0']);
      }
    const servers = await seed.fleet.api.servers.list.query({ cluster: SEED_CLUSTER });
    expect(servers.map((s) => s.services.find((x) => x.name === APP)?.activeEdition)).toEqual([
      '2.0',
      '2.0',
      '2.0',
      '2.0',
    ]);
  }, 240_000);
});
