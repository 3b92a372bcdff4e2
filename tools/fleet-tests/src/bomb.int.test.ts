// Issue 13: an archive too large to unpack is refused while it is only being distributed, and
// costs the pool nothing. Under load on every frontend, `edition install` (the distribution step:
// download, verify, unpack; nothing activated) sends every server of the cluster the bomb of the
// issue (a 20 MB .tar.gz expanding to 20 GiB), a smaller bomb past the expansion ratio, and an
// oversize edition (no bomb, just past the maxExpandedBytes this fleet's agent config sets).
// Each is refused on every server with the limit named; no request fails, no server leaves
// rotation, and each agent's memory returns under its resting figure + 20 MB.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FatalWait, waitFor } from '@rollgate/demo-fleet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBomb, buildOversize } from './editions';
import { CLUSTER, SERVICE, startShopFleet, type ShopFleet } from './fleet';
import { describeLoad, loadEveryFrontend } from './load';
import { MiB, residentBytes } from './proc';
import { watchRotation } from './watch';

/** What this fleet's agents allow one edition to expand to (limits.maxExpandedBytes). */
const MAX_EXPANDED = 256 * MiB;

let dir: string;
let shop: ShopFleet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-bomb-'));
  shop = await startShopFleet({
    dir,
    agentConfig: (_a, config) => ({ ...config, limits: { maxExpandedBytes: MAX_EXPANDED } }),
  });
});

afterAll(async () => {
  await shop?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function upload(name: string, path: string): Promise<void> {
  await shop.fleet.api.editions.upload.mutate({
    app: SERVICE,
    name,
    description: `issue 13: ${name}`,
    contentBase64: (await readFile(path)).toString('base64'),
  });
}

/** Runs `edition install` and waits for it to end; returns the run's failure and every agent's journal text for it. */
async function distribute(edition: string): Promise<{ status: string; failure: string; journals: string[] }> {
  const { fleet } = shop;
  const view = await fleet.api.editions.install.mutate({ app: SERVICE, cluster: CLUSTER, edition });
  const runId = view.run.id;
  const ended = await waitFor(
    `the distribution of ${edition} to end`,
    async () => {
      const v = await fleet.api.upgrade.status.query({ runId });
      if (v.run.status === 'succeeded') throw new FatalWait(`${edition} was distributed: it must be refused`);
      return ['failed', 'paused', 'aborted'].includes(v.run.status) ? v : null;
    },
    90_000,
    250,
  );
  // Every server has answered (the step sends to all of them at once).
  const journals = await waitFor(
    `every agent to journal the end of ${runId}`,
    async () => {
      const texts = await Promise.all(
        fleet.agents.map(async (a) =>
          JSON.stringify((await fleet.journal(a)).filter((j) => String(j.id ?? '').startsWith(runId))),
        ),
      );
      return texts.every((t) => /expands past|limit/.test(t)) ? texts : null;
    },
    60_000,
    250,
  );
  if (ended.run.status === 'paused')
    await fleet.api.upgrade.abort.mutate({ runId, reason: 'issue 13 test: refused as expected' });
  return { status: ended.run.status, failure: ended.run.failure ?? '', journals };
}

describe('issue 13: bombs and an oversize edition distributed to the pool', () => {
  it('issue 13: a decompression bomb and an oversize edition distributed under load: refused with the limit named on every server, 0 failed requests on every frontend, every server UP, agent RSS back under resting + 20 MB', async () => {
    const { fleet, lb } = shop;
    const bomb = await buildBomb(join(dir, 'bomb-20g.tgz'), 20 * 1024);
    const ratioBomb = await buildBomb(join(dir, 'bomb-200m.tgz'), 200);
    const oversize = await buildOversize(join(dir, 'oversize.tgz'), 320);
    await upload('bomb-20g', bomb);
    await upload('bomb-200m', ratioBomb);
    await upload('oversize-320m', oversize);

    const pids = fleet.agents.map((a) => a.proc!.pid!);
    const resting = await Promise.all(pids.map(residentBytes));
    const load = loadEveryFrontend(lb.frontends, { ratePerSec: 80, maxMs: 100_000 });
    const watch = watchRotation(() => lb.stats());
    await new Promise((r) => setTimeout(r, 1000));

    const results = {
      'bomb-20g': await distribute('bomb-20g'),
      'bomb-200m': await distribute('bomb-200m'),
      'oversize-320m': await distribute('oversize-320m'),
    };
    const settled = await waitFor(
      'every agent back under its resting RSS + 20 MB',
      async () => {
        const now = await Promise.all(pids.map(residentBytes));
        return now.every((rss, i) => rss < resting[i]! + 20 * MiB) ? now : null;
      },
      60_000,
      500,
    ).catch(async (err: unknown) => {
      const now = await Promise.all(pids.map(residentBytes));
      throw new Error(
        `${String(err)}; resting ${resting.map((b) => (b / MiB).toFixed(1))} MiB, now ${now.map((b) => (b / MiB).toFixed(1))} MiB`,
      );
    });
    await new Promise((r) => setTimeout(r, 1000));
    const rotation = await watch.stop();
    const report = await load.stop();
    console.log(describeLoad('bombs and an oversize edition distributed', report));
    console.log(
      `[rotation] ${rotation.rounds} show-stat rounds, ${rotation.outOfRotation.length} out of rotation; failed reads: ${JSON.stringify(rotation.errors)}`,
    );
    for (const [name, r] of Object.entries(results)) console.log(`[${name}] run ${r.status}: ${r.failure}`);
    console.log(
      `[agent RSS] resting ${resting.map((b) => (b / MiB).toFixed(1)).join(', ')} MiB; after ${settled.map((b) => (b / MiB).toFixed(1)).join(', ')} MiB`,
    );

    // The refusals name the limit, its figure and the setting to raise, on every server.
    for (const j of results['bomb-20g'].journals)
      expect(j).toMatch(/expands past 20 GiB \(limit 256 MiB\); raise limits\.maxExpandedBytes/);
    for (const j of results['bomb-200m'].journals)
      expect(j).toMatch(/times its compressed size .*\(limit 200 times\); raise limits\.maxExpansionRatio/);
    for (const j of results['oversize-320m'].journals)
      expect(j).toMatch(/expands past 320 MiB \(limit 256 MiB\); raise limits\.maxExpandedBytes/);
    for (const r of Object.values(results)) expect(r.failure).toMatch(/limit/);
    // Nothing of them was left in any edition store.
    for (const a of fleet.agents) {
      const store = await readdir(join(a.dataDir, 'editions', SERVICE));
      expect(store.filter((e) => /bomb|oversize/.test(e))).toEqual([]);
    }
    expect(rotation.rounds).toBeGreaterThan(20);
    expect(rotation.outOfRotation).toEqual([]);
    expect(await lb.stats().then((rows) => rows.map((r) => [r.name, r.status]))).toEqual(
      fleet.agents.map((a) => [a.id, 'UP']),
    );
    expect(report.failures).toEqual({});
    expect(report.failed).toBe(0);
    expect(report.sent).toBeGreaterThan(500);
  });
});
