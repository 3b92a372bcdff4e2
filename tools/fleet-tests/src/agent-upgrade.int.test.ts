// Issue 13 item 4: upgrading the agent is invisible to users. Every agent runs the packaged bundle
// (tools/agent-bundle) as its systemd unit runs it; the bundle is replaced by a newer build and each
// agent restarted (what `systemctl restart rollgate-agent` does: SIGTERM to the agent alone,
// KillMode=process, then a new start) while load runs on every frontend. The services keep
// running (same pid), stay in rotation, and the agents come back with the new version.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@rollgate/demo-fleet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentPackage, installAgentPackage } from './agent-package';
import { CLUSTER, startShopFleet, type ShopFleet } from './fleet';
import { describeLoad, loadEveryFrontend } from './load';
import { watchRotation } from './watch';

const OLD = '0.1.0';
const NEW = '0.1.1';

let dir: string;
let shop: ShopFleet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-agent-upgrade-'));
  // Every agent runs the package installed under <dir>/opt/rollgate-agent, as its unit runs it.
  shop = await startShopFleet({ dir, agentVersion: OLD });
});

afterAll(async () => {
  await shop?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const versions = async (shop: ShopFleet) =>
  (await shop.fleet.api.servers.list.query({ cluster: CLUSTER })).map((s) => [
    s.id,
    s.status,
    s.agentVersion,
  ]);

describe('issue 13 item 4: agent upgrade in place', () => {
  it('issue 13 item 4: the packaged agent replaced by a newer build and restarted under load: 0 failed requests on every frontend, services keep their pid and stay UP, agents reconnect as the new version', async () => {
    const { fleet, lb } = shop;
    expect(await versions(shop)).toEqual(fleet.agents.map((a) => [a.id, 'connected', OLD]));
    const pids = await Promise.all(fleet.agents.map((a) => shop.servicePid(a)));
    const newer = await buildAgentPackage(join(dir, 'build', NEW), NEW);

    const load = loadEveryFrontend(lb.frontends, { ratePerSec: 80, maxMs: 90_000 });
    const watch = watchRotation(() => lb.stats());
    await new Promise((r) => setTimeout(r, 1500));
    // The package manager's step: each new file beside the old one, then renamed over it.
    const replaced = await installAgentPackage(newer.dir, shop.agentPackage.dir);
    expect(replaced).toContain('rollgate-agent.cjs');
    // systemctl restart, on every server at once.
    await Promise.all(
      fleet.agents.map(async (a) => {
        await fleet.stopAgent(a, 'SIGTERM');
        await fleet.startAgent(a);
      }),
    );
    const upgraded = await waitFor(
      `every agent to reconnect as ${NEW}`,
      async () => {
        const v = await versions(shop);
        return v.every(([, status, version]) => status === 'connected' && version === NEW) ? v : null;
      },
      60_000,
      250,
    );
    await fleet.waitConnected();
    // A few agent-check rounds with the new agents answering.
    await new Promise((r) => setTimeout(r, 3000));
    const rotation = await watch.stop();
    const report = await load.stop();
    console.log(describeLoad('agent upgrade in place', report));
    console.log(
      `[rotation] ${rotation.rounds} show-stat rounds, ${rotation.outOfRotation.length} out of rotation; failed reads: ${JSON.stringify(rotation.errors)}`,
    );

    expect(upgraded).toEqual(fleet.agents.map((a) => [a.id, 'connected', NEW]));
    for (const a of fleet.agents) {
      const status = (await (await fetch(`http://127.0.0.1:${a.gatePort}/status`)).json()) as {
        agentVersion: string;
      };
      expect(status.agentVersion).toBe(NEW);
    }
    expect(await Promise.all(fleet.agents.map((a) => shop.servicePid(a)))).toEqual(pids);
    expect(rotation.rounds).toBeGreaterThan(20);
    expect(rotation.outOfRotation).toEqual([]);
    expect(report.failures).toEqual({});
    expect(report.failed).toBe(0);
    expect(report.sent).toBeGreaterThan(500);
  });
});
