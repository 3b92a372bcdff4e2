// The coordinator's PostgreSQL goes away in the middle of a rolling upgrade (a restart, a
// failover) and comes back. The coordinator must outlive it, the report an agent sent while the
// database was away must not be lost (the agent's journal holds it, and a reconnect replays it),
// and the run must finish as if nothing happened: every server on the new edition, each action
// run once, nothing left out of rotation, the capacity floor kept.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from '@rollgate/db';
import { runSucceeded, startFleet, waitFor, type Fleet, type FleetAgent } from '@rollgate/demo-fleet';
import { runAftermath, waitForOp } from '@rollgate/demo-fleet/faults';
import { seedFromTemplate } from '@rollgate/test-kit';

/** The op the database goes away in: waiting for the new edition to answer healthy. */
const UPGRADE_OP = /^wait until/;

describe("the coordinator's database restarted mid-rollout", () => {
  let dir: string;
  let db: RollgateDb;
  let fleet: Fleet;
  let victim: FleetAgent;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-fault-db-'));
    // An external database as far as the coordinator knows: the test stops and starts it.
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, join(dir, 'db'));
    db = createDb({ dataDir: join(dir, 'db') });
    await db.start();
    fleet = await startFleet({ dir, heartbeatMs: 500, coordinatorEnv: { DATABASE_URL: db.url } });
    victim = fleet.agents.find((a) => a.id === 'admin-1')!;
  });

  afterAll(async () => {
    await fleet?.stop();
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('outlives it, loses no report, and the run finishes: each action once, nothing out of rotation', async () => {
    const coordinator = fleet.coordinator!;
    const coordinatorPid = coordinator.pid;
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      drainageIntervalSec: 1,
      signOff: false,
    });
    const runId = start.run.id;
    const running = await waitForOp(victim, start, UPGRADE_OP, 90_000);

    const downAt = Date.now();
    await db.stop();
    // The action ends on the agent while the database is away: its report finds nothing to write to.
    await waitFor(
      `${running.actionId} to finish on the agent`,
      async () => (await fleet.journal(victim)).some((l) => l.id === running.actionId && l.t === 'finished'),
      60_000,
    );
    // A few heartbeats and reconnect attempts against a coordinator without its database.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(coordinator.exitCode, 'the coordinator ended with its database').toBeNull();
    await db.start();
    const backAt = Date.now();

    const done = await runSucceeded(fleet, runId, 120_000);
    console.log(
      `database restart: away ${backAt - downAt} ms; the run finished ${Date.now() - backAt} ms after it was back`,
    );
    expect(fleet.coordinator!.pid).toBe(coordinatorPid);
    expect(coordinator.exitCode).toBeNull();
    const reported = done.steps.flatMap((s) => s.actions).find((a) => a.id === running.actionId);
    expect(reported?.status).toBe('succeeded');
    for (const a of fleet.agents) {
      const res = await fetch(`http://127.0.0.1:${a.servicePort}/`);
      expect(((await res.json()) as { edition: string }).edition, `${a.id} edition`).toBe('2.0');
      expect((await fetch(`http://127.0.0.1:${a.gatePort}/gate`)).status, `${a.id} gate`).toBe(200);
    }
    expect(done.outOfRotation).toEqual([]);
    const after = await runAftermath(fleet, done, join(dir, 'db'));
    expect(after.exactlyOnce).toEqual([]);
    for (const floor of [after.ledgerFloor, after.logFloor]) {
      expect(floor.violations).toEqual([]);
      expect(floor.stillOut).toEqual([]);
    }
  });
});
