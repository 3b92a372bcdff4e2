// Issue 14, "the seed's topology": two roles each in its own pool, the admin servers running a second
// service in a third pool, behind TWO HAProxy processes configured with what `rollgate lb
// haproxy-config` prints for each, both serving load, runtime mode. A minor upgrade and an edition
// rollout lose no request on any frontend of either balancer, never take both servers of a pool out
// on either, and end every drain at 0 sessions on both; a balancer stopped mid-run pauses the run
// with its name, and the run resumes by itself once it is back.
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
  rollgateCli,
  SEED_CLUSTER,
  startSeedFleet,
  type BalancerName,
  type SeedFleet,
} from './seed-fleet';

let dir: string;
let seed: SeedFleet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-seed-topology-'));
  seed = await startSeedFleet({ dir, editions: ['1.0', '1.1', '2.0', '2.1'] });
}, 240_000);

afterAll(async () => {
  await seed?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Samples both balancers' `show stat` until stopped: every moment a pool had no server in rotation
 * on a balancer, every server seen out of rotation per balancer, and every sample where a server was
 * taken out completely (MAINT, or DOWN once its service stopped) with sessions still on it.
 */
function sampleBalancers(s: SeedFleet, only: readonly BalancerName[] = BALANCERS) {
  const poolEmpty: string[] = [];
  const outSeen = new Map<BalancerName, Set<string>>(only.map((b) => [b, new Set()]));
  const cutWithSessions: string[] = [];
  const samples = new Map<BalancerName, number>(only.map((b) => [b, 0]));
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        only.map(async (b) => {
          const rows = await s.balancers[b].stats().catch(() => null);
          if (!rows) return; // stopped on purpose (the pause test), or busy: the next sample counts
          samples.set(b, samples.get(b)! + 1);
          const at = new Date().toISOString();
          for (const p of POOLS) {
            const mine = rows.filter((r) => r.backend === p.backend);
            if (!mine.some((r) => r.status === 'UP'))
              poolEmpty.push(
                `${at} ${b} ${p.backend}: ${mine.map((r) => `${r.name} ${r.statusText}`).join(', ')}`,
              );
          }
          for (const r of rows) {
            if (r.status !== 'UP' || r.adminState !== 'ready') outSeen.get(b)!.add(r.name);
            if ((r.status === 'MAINT' || r.status === 'DOWN') && r.scur > 0)
              cutWithSessions.push(
                `${at} ${b} ${r.backend}/${r.name} ${r.statusText} with ${r.scur} sessions`,
              );
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { poolEmpty, outSeen, cutWithSessions, samples };
    },
  };
}

/** The run's drain results: one "<id> drained in … (<how>)" line per server that left rotation. */
async function drains(s: SeedFleet, runId: string): Promise<string[]> {
  const logs = await s.fleet.api.upgrade.logs.query({ runId, code: 'RG0111I', limit: 5000 });
  return logs.map((l) => l.message).filter((m) => / drained in /.test(m));
}

async function activeEditions(s: SeedFleet): Promise<(string | undefined)[]> {
  const servers = await s.fleet.api.servers.list.query({ cluster: SEED_CLUSTER });
  return servers
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((x) => x.services.find((svc) => svc.name === APP)?.activeEdition);
}

const SERVERS = ['admin-1', 'admin-2', 'stream-1', 'stream-2'];

/** The real CLI against the fleet. */
const rollgate = (...args: string[]) => rollgateCli(seed.fleet, args);

/**
 * Waits for a run to succeed, signing it off when it asks (the seed's minor upgrade ends with the
 * customer's verification); throws at once when it pauses, fails or is aborted.
 */
async function finished(runId: string, timeoutMs = 100_000): Promise<void> {
  await waitFor(
    `run ${runId} to succeed`,
    async () => {
      const view = await seed.fleet.api.upgrade.status.query({ runId });
      if (['paused', 'failed', 'aborted'].includes(view.run.status))
        throw new FatalWait(`run ${runId} ${view.run.status}: ${view.run.failure}`);
      if (view.run.status === 'waiting-approval')
        await seed.fleet.api.upgrade.signOff.mutate({
          runId,
          decision: 'approve',
          comment: 'verified by the test',
        });
      return view.run.status === 'succeeded';
    },
    timeoutMs,
    250,
  );
}

/** Load on every frontend of both balancers, sampling both, around one run; the verdicts. */
async function underLoad(label: string, start: () => Promise<string>, timeoutMs = 100_000) {
  // A run refused because an agent's heartbeat was late on a busy machine would prove nothing.
  await seed.fleet.waitConnected();
  const load = loadEveryFrontend(seed.frontends(), { ratePerSec: 10, maxMs: timeoutMs + 10_000 });
  const sampler = sampleBalancers(seed);
  await new Promise((r) => setTimeout(r, 1000));
  const runId = await start();
  try {
    await finished(runId, timeoutMs);
  } finally {
    await new Promise((r) => setTimeout(r, 1000));
  }
  const report = await load.stop();
  const seen = await sampler.stop();
  console.log(describeLoad(label, report));
  console.log(`[${label}] samples ${JSON.stringify(Object.fromEntries(seen.samples))}`);
  const timing = await seed.fleet.api.upgrade.logs.query({ runId, code: 'RG0119I', limit: 100 });
  for (const l of timing) console.log(`[${label}] ${l.message}`);
  return { runId, report, seen };
}

describe('issue 14: the seed topology — pools per role, a server with two services, a pair of HAProxies', () => {
  it('issue 14: each balancer runs the file lb haproxy-config prints for it, a frontend and a backend per pool', async () => {
    for (const b of BALANCERS) {
      const cfg = seed.balancers[b].config;
      expect(cfg).toMatch(
        new RegExp(`^# HAProxy configuration for Rollgate cluster "seed", load balancer "${b}"\\.`),
      );
      for (const p of POOLS) {
        expect(cfg).toContain(`frontend fe_${p.name}\n`);
        expect(cfg).toContain(`    default_backend ${p.backend}\n`);
        expect(cfg).toContain(`backend ${p.backend}\n`);
      }
      // admin-1 runs two services, each a server line in its own pool's backend.
      expect(cfg.match(/^ {4}server admin-1 /gm)).toHaveLength(2);
      expect(cfg).toContain(`stats socket ${seed.balancers[b].socketPath} mode 600 level admin`);
    }
    // The CLI prints the same file (lb2's, named for it) the coordinator's API gave each balancer.
    const cli = await rollgate(
      'lb',
      'haproxy-config',
      '--cluster',
      SEED_CLUSTER,
      '--balancer',
      'lb2',
      '--socket',
      seed.balancers.lb2.socketPath,
      ...POOLS.flatMap((p) => ['--bind', `${p.name}=${new URL(seed.balancers.lb2.frontends[p.name]).host}`]),
    );
    expect(cli.trimEnd()).toBe(seed.balancers.lb2.config.trimEnd());
    console.log(`[lb haproxy-config --balancer lb1]\n${seed.balancers.lb1.config}`);
    const body = (t: string) =>
      t.split('\n').filter((l) => !l.startsWith('#') && !/stats socket|^ {4}bind /.test(l));
    expect(body(seed.balancers.lb1.config)).toEqual(body(seed.balancers.lb2.config));
  });

  it('issue 14: a minor upgrade under load on every frontend of both balancers: 0 failed requests, never both servers of a pool out, drains end at 0 sessions on both', async () => {
    const { runId, report, seen } = await underLoad(
      'seed minor upgrade',
      async () => {
        const view = await seed.fleet.api.upgrade.start.mutate({
          cluster: SEED_CLUSTER,
          app: APP,
          edition: '1.1',
          procedure: 'minor',
          drainageIntervalSec: LB_TIMINGS.drainageIntervalSec,
        });
        return view.run.id;
      },
      170_000,
    );
    expect(report.failures).toEqual({});
    expect(report.failed).toBe(0);
    expect(Object.keys(report.byFrontend).sort()).toEqual(
      BALANCERS.flatMap((b) => POOLS.map((p) => `${b}/${p.name}`)).sort(),
    );
    for (const r of Object.values(report.byFrontend)) expect(r.sent).toBeGreaterThan(30);
    // The app's pools answered with the new edition on both balancers.
    for (const b of BALANCERS)
      for (const pool of ['admin', 'stream'])
        expect(report.byFrontend[`${b}/${pool}`]!.byBody['1.1'] ?? 0).toBeGreaterThan(0);
    expect(seen.poolEmpty).toEqual([]);
    for (const b of BALANCERS) expect([...seen.outSeen.get(b)!].sort()).toEqual(SERVERS);
    expect(seen.cutWithSessions).toEqual([]);
    const drained = await drains(seed, runId);
    expect(drained.length).toBeGreaterThanOrEqual(SERVERS.length);
    for (const line of drained) expect(line).toMatch(/\(no sessions left\)/);
    expect(await activeEditions(seed)).toEqual(['1.1', '1.1', '1.1', '1.1']);
    await seed.allUp('every server of every pool UP on both balancers after the minor upgrade');
  }, 240_000);

  it('issue 14: an edition rollout under load on every frontend of both balancers: 0 failed requests, never both servers of a pool out, drains end at 0 sessions on both', async () => {
    const { runId, report, seen } = await underLoad('seed edition rollout', async () => {
      const view = await seed.fleet.api.editions.rollout.mutate({
        app: APP,
        cluster: SEED_CLUSTER,
        edition: '2.0',
        groupSize: 1,
        drainageIntervalSec: LB_TIMINGS.drainageIntervalSec,
      });
      return view.run.id;
    });
    expect(report.failures).toEqual({});
    expect(report.failed).toBe(0);
    for (const b of BALANCERS)
      for (const pool of ['admin', 'stream'])
        expect(report.byFrontend[`${b}/${pool}`]!.byBody['2.0'] ?? 0).toBeGreaterThan(0);
    // The license service was never upgraded: its pool kept answering with its own edition.
    for (const b of BALANCERS) expect(report.byFrontend[`${b}/license`]!.ok2xx).toBeGreaterThan(30);
    expect(seen.poolEmpty).toEqual([]);
    for (const b of BALANCERS) expect([...seen.outSeen.get(b)!].sort()).toEqual(SERVERS);
    expect(seen.cutWithSessions).toEqual([]);
    const drained = await drains(seed, runId);
    expect(drained.length).toBeGreaterThanOrEqual(SERVERS.length);
    for (const line of drained) expect(line).toMatch(/\(no sessions left\)/);
    expect(await activeEditions(seed)).toEqual(['2.0', '2.0', '2.0', '2.0']);
    await seed.allUp('every server of every pool UP on both balancers after the rollout');
  });

  it('issue 14: one balancer stopped mid-run pauses the run with its name; restarted, the run resumes by itself and succeeds', async () => {
    await seed.fleet.waitConnected();
    // keepalived would move lb2's address to lb1: the users' load goes to lb1 alone meanwhile.
    const load = loadEveryFrontend(seed.frontends(['lb1']), { ratePerSec: 15, maxMs: 150_000 });
    const sampler = sampleBalancers(seed, ['lb1']);
    const view = await seed.fleet.api.editions.rollout.mutate({
      app: APP,
      cluster: SEED_CLUSTER,
      edition: '2.1',
      groupSize: 1,
      drainageIntervalSec: LB_TIMINGS.drainageIntervalSec,
    });
    const runId = view.run.id;
    // Mid-run: once the first server is out of rotation on lb1.
    await waitFor(
      'the rollout to take a first server out of rotation',
      async () => {
        const s = await seed.fleet.api.upgrade.status.query({ runId });
        if (s.run.status !== 'running') throw new FatalWait(`run ${runId} ${s.run.status}: ${s.run.failure}`);
        const rows = await seed.balancers.lb1.stats();
        return rows.some((r) => r.adminState !== 'ready');
      },
      60_000,
      100,
    );
    await seed.balancers.lb2.stop();
    const paused = await waitFor(
      'the run to pause on lb2',
      async () => {
        const s = await seed.fleet.api.upgrade.status.query({ runId });
        if (['succeeded', 'failed', 'aborted'].includes(s.run.status))
          throw new FatalWait(`run ${runId} ${s.run.status} while lb2 was down: ${s.run.failure}`);
        return s.run.status === 'paused' ? s : null;
      },
      60_000,
      200,
    );
    expect(paused.run.failure).toMatch(/load balancer lb2 \(unix:[^)]+admin\.sock\)/);
    expect(paused.run.failure).toMatch(/the run resumes by itself once it answers/);
    // It stays paused while lb2 is down: nothing moves on behind its back.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await seed.fleet.api.upgrade.status.query({ runId })).run.status).toBe('paused');

    await seed.balancers.lb2.start();
    await waitFor(
      'the run to resume by itself',
      async () => (await seed.fleet.api.upgrade.status.query({ runId })).run.status !== 'paused',
      60_000,
      200,
    );
    await finished(runId);
    await new Promise((r) => setTimeout(r, 1000));
    const report = await load.stop();
    const seen = await sampler.stop();
    console.log(describeLoad('seed balancer stopped mid-run (load on lb1)', report));
    expect(report.failures).toEqual({});
    expect(report.failed).toBe(0);
    expect(seen.poolEmpty).toEqual([]);
    expect(await activeEditions(seed)).toEqual(['2.1', '2.1', '2.1', '2.1']);
    await seed.allUp('every server of every pool UP on both balancers once lb2 is back');
  });
});
