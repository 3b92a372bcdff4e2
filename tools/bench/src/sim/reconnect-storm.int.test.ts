// Reconnect storm (issue 7), a test beside the simulated agents it drives (it lives in the bench
// package because the sim does; it asserts a generous bound, the figures are what it is for):
// 500 agents lose a SIGKILLed coordinator at the same moment and must
// all be back on the restarted one within a bounded time. The agents are the bench's simulated
// agents (real gRPC streams from worker processes, the real protocol), re-dialling with the real
// agent's jittered back-off module (apps/agent/src/coordinator/backoff.ts), so the figure is the real one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
// The agent's back-off ceilings: the delays the sim drew must lie under them (full jitter).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { backoffCeiling } from '@rollgate/agent/src/coordinator/backoff';
import { startSimPool, type SimPool } from '../lib/sim-pool';

const AGENTS = 500;
const WORKERS = 4;
/** Generous on purpose: measuring is the point; this only catches a storm that never settles. */
const ALL_BACK_WITHIN_MS = 30_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('reconnect storm after a coordinator restart', () => {
  let dir: string;
  let fleet: Fleet;
  let pool: SimPool;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-storm-'));
    // A coordinator alone (no demo agents): the simulated ones are the fleet here, in plaintext
    // (they measure reconnection, not TLS; see tools/bench/README.md).
    fleet = await startFleet({ dir, agents: [], editions: [], heartbeatMs: 1000, insecure: true });
    pool = await startSimPool(WORKERS);
  });

  afterAll(async () => {
    await pool?.close();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`gets all ${AGENTS} agents back within ${ALL_BACK_WITHIN_MS / 1000} s, with jittered back-off`, async () => {
    const first = await pool.connect({
      address: fleet.grpcAddress,
      n: AGENTS,
      cluster: 'storm',
      reconnect: true,
      concurrencyPerWorker: 32,
    });
    expect(first.failed, first.errors.join('; ')).toBe(0);
    const connected = async () =>
      (await fleet.api.servers.list.query({ cluster: 'storm' })).filter((s) => s.status === 'connected');
    await waitFor(
      `${AGENTS} agents connected`,
      async () => (await connected()).length === AGENTS,
      60_000,
      250,
    );

    const killedAt = Date.now();
    await fleet.stopCoordinator('SIGKILL');
    await fleet.startCoordinator();
    const readyAt = Date.now();

    // The coordinator's own view: every server has a connectedAt from after the restart. (Its
    // status column alone would not do: the dead coordinator never marked anyone disconnected.)
    const allBackAt = await waitFor(
      `all ${AGENTS} agents to reconnect`,
      async () => {
        const back = (await connected()).filter((s) => (s.connectedAt ?? 0) > killedAt);
        return back.length === AGENTS ? Date.now() : null;
      },
      ALL_BACK_WITHIN_MS + 30_000,
      250,
    );

    const outages = (await pool.outages()).filter((o) => o.lostAt >= killedAt - 1000);
    const byAgent = new Map(outages.map((o) => [o.id, o]));
    expect(byAgent.size).toBe(AGENTS);
    const backMs = outages.map((o) => o.backAt! - readyAt).sort((a, b) => a - b);
    const outageMs = outages.map((o) => o.backAt! - o.lostAt).sort((a, b) => a - b);
    const attempts = outages.map((o) => o.attempts).sort((a, b) => a - b);
    const figures = {
      agents: AGENTS,
      restartMs: readyAt - killedAt,
      sinceReady: {
        p50: percentile(backMs, 50),
        p99: percentile(backMs, 99),
        max: backMs.at(-1)!,
      },
      outage: { p50: percentile(outageMs, 50), p99: percentile(outageMs, 99), max: outageMs.at(-1)! },
      attempts: { p50: percentile(attempts, 50), max: attempts.at(-1)! },
      coordinatorSawAllBackMs: allBackAt - readyAt,
    };
    console.log(`reconnect storm: ${JSON.stringify(figures)}`);

    expect(outages.every((o) => o.backAt !== null)).toBe(true);
    expect(figures.sinceReady.max).toBeLessThan(ALL_BACK_WITHIN_MS);
    expect(figures.coordinatorSawAllBackMs).toBeLessThan(ALL_BACK_WITHIN_MS);

    // Jittered: every delay lies in [0, ceiling) of its attempt, and the first ones are spread
    // over that range (uniform on [0, 200) has a standard deviation of ~58 ms; lock-step has 0).
    for (const o of outages) {
      o.delays.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(backoffCeiling(i));
      });
    }
    const firsts = outages.map((o) => o.delays[0]!);
    const mean = firsts.reduce((s, d) => s + d, 0) / firsts.length;
    const sd = Math.sqrt(firsts.reduce((s, d) => s + (d - mean) ** 2, 0) / firsts.length);
    expect(sd).toBeGreaterThan(40);
    // And the Welcomes are spread out, not one burst at the same instant.
    expect(percentile(backMs, 90) - percentile(backMs, 10)).toBeGreaterThan(100);
  });
});
