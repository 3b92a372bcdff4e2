// Issue 13: a dead agent never takes a healthy server out of rotation. Every agent of the fleet is
// SIGKILLed at once under load on every frontend, then restarted (as systemd's Restart=always
// would): HAProxy checks the services themselves, so no server leaves rotation and no request fails.
// Two HAProxies watch the same servers: the hand-written one (a backend per role) and a second one
// running what `rollgate lb haproxy-config` prints for the cluster (one backend, service health).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { behindHaproxy, waitFor, type FleetHaproxy } from '@rollgate/demo-fleet';
import { createHaproxyRuntime } from '@rollgate/lb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER, startShopFleet, type ShopFleet } from './fleet';
import { describeLoad, loadEveryFrontend } from './load';
import { watchRotation } from './watch';

let dir: string;
let shop: ShopFleet;
let rendered: FleetHaproxy;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-agents-killed-'));
  shop = await startShopFleet({ dir });
  // The configuration Rollgate renders (default: service health), not configured as the cluster's
  // load balancer: the coordinator keeps driving the hand-written one.
  rendered = await behindHaproxy(shop.fleet, { cluster: CLUSTER, lb: false });
});

afterAll(async () => {
  await rendered?.stop();
  await shop?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('issue 13: every agent killed at once', () => {
  it('issue 13: every agent SIGKILLed at once under load, then restarted: 0 failed requests on every frontend, every server UP throughout', async () => {
    const { fleet, lb } = shop;
    const pids = await Promise.all(fleet.agents.map((a) => shop.servicePid(a)));
    const renderedRuntime = createHaproxyRuntime({ socketPath: rendered.socketPath, timeoutMs: 15_000 });
    const everyServer = async () => [...(await lb.stats()), ...(await renderedRuntime.serverStats(CLUSTER))];
    const load = loadEveryFrontend(
      { ...lb.frontends, rendered: rendered.front },
      { ratePerSec: 60, maxMs: 90_000 },
    );
    const watch = watchRotation(everyServer);
    await new Promise((r) => setTimeout(r, 1500));

    await Promise.all(fleet.agents.map((a) => fleet.stopAgent(a, 'SIGKILL')));
    const servers = await fleet.api.servers.list.query({ cluster: 'shop' });
    // Dead for several agent-check intervals (500 ms): HAProxy finds nobody on the agent port.
    await waitFor(
      'the coordinator to see every agent gone',
      async () =>
        (await fleet.api.servers.list.query({ cluster: 'shop' })).every((s) => s.status !== 'connected'),
      30_000,
      200,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const whileDead = await everyServer();

    await Promise.all(fleet.agents.map((a) => fleet.startAgent(a)));
    await fleet.waitConnected();
    // A few agent-check rounds after they came back: what they say now counts too.
    await new Promise((r) => setTimeout(r, 3000));
    const rotation = await watch.stop();
    const report = await load.stop();
    console.log(describeLoad('every agent SIGKILLed', report));
    console.log(
      `[rotation] ${rotation.rounds} show-stat rounds, ${rotation.outOfRotation.length} out of rotation; failed reads: ${JSON.stringify(rotation.errors)}`,
    );

    expect(servers.map((s) => s.id).sort()).toEqual(['api-1', 'api-2', 'web-1', 'web-2']);
    const up = fleet.agents.map((a) => [a.id, 'UP']);
    expect(whileDead.map((s) => [s.name, s.status])).toEqual([...up, ...up]);
    expect(rotation.rounds).toBeGreaterThan(20);
    expect(rotation.outOfRotation).toEqual([]);
    expect(report.failures).toEqual({});
    expect(report.failed).toBe(0);
    expect(report.sent).toBeGreaterThan(500);
    // The services were never restarted: the agents re-adopted them.
    expect(await Promise.all(fleet.agents.map((a) => shop.servicePid(a)))).toEqual(pids);
  });
});
