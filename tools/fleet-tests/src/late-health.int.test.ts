// Issue 13: one late health probe never takes a server out. The service answers every 5th probe of
// /health after 1.5 s, and the agents probe with a 1 s timeout, so each late answer is a failed
// probe for the agent; with its hysteresis (services[].health.fall, default 3) the gate stays open,
// and a rolling upgrade under load on every frontend completes with no failed request.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSucceeded, type FleetAgent } from '@rollgate/demo-fleet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER, SERVICE, startShopFleet, type ShopFleet } from './fleet';
import { describeLoad, loadEveryFrontend } from './load';

let dir: string;
let shop: ShopFleet;

/** The agent's probe timeout here: below the service's late answers, so each is a failed probe. */
const PROBE_TIMEOUT_MS = 1000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-late-health-'));
  shop = await startShopFleet({
    dir,
    serviceEnv: { SLOW_HEALTH_EVERY: '5', SLOW_HEALTH_MS: '1500' },
    agentConfig: (_a, config) => {
      const services = config.services as Record<string, unknown>[];
      // `fall` and `rise` stay at their defaults (3 and 2): what an operator gets without asking.
      return {
        ...config,
        services: services.map((s) => ({ ...s, health: { timeoutMs: PROBE_TIMEOUT_MS } })),
      };
    },
  });
});

afterAll(async () => {
  await shop?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface AgentStatus {
  gateWish: 'open' | 'closed';
  gate: { open: boolean; reason: string };
  services: { name: string; state: string; detail: string }[];
}

/** Samples every agent's GET /status until stopped. */
function watchGates(agents: FleetAgent[]) {
  /** The gate closed while the coordinator wanted the server in, because the service was judged unhealthy. */
  const closedByHealth: string[] = [];
  /** Probes the agent counted as failed while it still reported the service healthy. */
  const missesRidden = new Set<string>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        agents.map(async (a) => {
          const res = await fetch(`http://127.0.0.1:${a.gatePort}/status`).catch(() => null);
          if (!res?.ok) return;
          const s = (await res.json()) as AgentStatus;
          samples++;
          const svc = s.services.find((x) => x.name === SERVICE);
          if (svc?.state === 'healthy' && /failed probes before unhealthy/.test(svc.detail))
            missesRidden.add(`${a.id}: ${svc.detail}`);
          if (s.gateWish === 'open' && !s.gate.open && svc?.state === 'unhealthy')
            closedByHealth.push(`${new Date().toISOString()} ${a.id}: ${s.gate.reason}`);
        }),
      );
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, closedByHealth, missesRidden: [...missesRidden] };
    },
  };
}

async function lateProbes(shop: ShopFleet): Promise<number> {
  let late = 0;
  for (const a of shop.fleet.agents) {
    const stats = (await (await fetch(`http://127.0.0.1:${a.servicePort}/stats`)).json()) as { late: number };
    late += stats.late;
  }
  return late;
}

describe('issue 13: a service that answers a health probe late now and then', () => {
  it('issue 13: every 5th probe answered after 1.5 s, a rolling upgrade under load: 0 failed requests on every frontend, the gate never closes for a late probe', async () => {
    const { fleet, lb } = shop;
    const gates = watchGates(fleet.agents);
    const load = loadEveryFrontend(lb.frontends, { ratePerSec: 80, maxMs: 100_000 });
    // In rotation for a while first: several late probes per server with nothing else going on.
    await new Promise((r) => setTimeout(r, 6000));
    const lateBefore = await lateProbes(shop);

    const view = await fleet.api.editions.rollout.mutate({
      app: SERVICE,
      cluster: CLUSTER,
      edition: '2.0',
      groupSize: 1,
      drainageIntervalSec: 2,
    });
    await runSucceeded(fleet, view.run.id, 100_000);
    await new Promise((r) => setTimeout(r, 3000));
    const report = await load.stop();
    const seen = await gates.stop();
    console.log(describeLoad('late health probes, rolling upgrade', report));
    console.log(
      `[gates] ${seen.samples} status samples; late probes before the rollout ${lateBefore}; misses ridden out: ${seen.missesRidden.length}`,
    );

    expect(lateBefore).toBeGreaterThanOrEqual(fleet.agents.length);
    // The late answers were failed probes for the agents, and they rode them out.
    expect(seen.missesRidden.length).toBeGreaterThan(0);
    expect(seen.closedByHealth).toEqual([]);
    expect(report.failures).toEqual({});
    expect(report.failed).toBe(0);
    expect(report.sent).toBeGreaterThan(1000);
    for (const r of Object.values(report.byFrontend)) expect(r.byBody['2.0'] ?? 0).toBeGreaterThan(0);
    const servers = await fleet.api.servers.list.query({ cluster: CLUSTER });
    expect(servers.map((s) => s.services.find((x) => x.name === SERVICE)?.activeEdition)).toEqual([
      '2.0',
      '2.0',
      '2.0',
      '2.0',
    ]);
    await shop.allUp('every server UP after the rollout');
  });
});
