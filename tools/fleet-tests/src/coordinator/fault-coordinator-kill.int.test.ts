// Issue 7, coordinator crashes: the coordinator is SIGKILLed at 10 or more points of a rolling
// upgrade chosen by a seeded PRNG, and restarted each time. The run must complete; every action
// must have run exactly once (from the agents' journals); no server may be left out of rotation,
// and the capacity floor must hold at every recorded ledger event.
//
// Replay a failure with the seed it prints: ROLLGATE_FAULT_SEED=<seed> npx vitest run -c
// vitest.int.config.ts tools/fleet-tests/src/coordinator/fault-coordinator-kill.int.test.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
import {
  checkCapacityFloor,
  checkExactlyOnce,
  faultRandom,
  ledgerEvents,
  readLedger,
} from '@rollgate/demo-fleet/faults';

const KILLS = 10;
const HEARTBEAT_MS = 500;

async function editionServed(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return ((await res.json()) as { edition: string }).edition;
}

describe('coordinator SIGKILLed at seeded random points of a rollout', () => {
  let dir: string;
  let fleet: Fleet;
  const rng = faultRandom(process.env.ROLLGATE_FAULT_SEED);

  beforeAll(async () => {
    console.log(`fault seed: ${rng.seed} (replay with ROLLGATE_FAULT_SEED=${rng.seed})`);
    dir = await mkdtemp(join(tmpdir(), 'rollgate-fault-coord-'));
    fleet = await startFleet({ dir, heartbeatMs: HEARTBEAT_MS });
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`completes through ${KILLS} kills, each action once, nothing left out of rotation`, async () => {
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      drainageIntervalSec: 1,
      signOff: false,
    });
    const runId = start.run.id;
    const status = () => fleet.api.upgrade.status.query({ runId });
    /** Where the run is: the step, and how many of its actions have a result. */
    const position = async () => {
      const s = await status();
      const done = s.steps.flatMap((x) => x.actions).filter((a) => a.finishedAt !== null).length;
      return { status: s.run.status, step: s.run.currentStep, done, key: `${s.run.currentStep}/${done}` };
    };

    const kills: { n: number; afterMs: number; step: number; actionsDone: number }[] = [];
    let last = '';
    while (kills.length < KILLS) {
      // Each kill lands at a new point: wait until the run moved on since the previous one (the
      // restarted coordinator recovered it and the agents are back), then a random delay.
      await waitFor(
        'the run to make progress after the restart',
        async () => {
          const p = await position();
          if (p.status !== 'running') throw new Error(`run ${p.status} after ${kills.length} kills`);
          return p.key !== last ? p : null;
        },
        60_000,
        50,
      );
      const afterMs = rng.int(0, 500);
      await new Promise((r) => setTimeout(r, afterMs));
      const at = await position();
      if (at.status !== 'running') break; // finished early: reported by the assertion below
      await fleet.stopCoordinator('SIGKILL');
      kills.push({ n: kills.length + 1, afterMs, step: at.step, actionsDone: at.done });
      last = at.key;
      await fleet.startCoordinator();
    }
    console.log(
      `kill points (seed ${rng.seed}): ${kills.map((k) => `#${k.n} step ${k.step + 1} (${k.actionsDone} results, +${k.afterMs} ms)`).join('; ')}`,
    );
    expect(kills.length, `the run ended before ${KILLS} kills (seed ${rng.seed})`).toBe(KILLS);
    // The kills hit more than one place in the run, not one step over and over.
    expect(new Set(kills.map((k) => k.step)).size).toBeGreaterThan(3);

    const done = await waitFor(
      'the run to succeed',
      async () => {
        const s = await status();
        if (s.run.status === 'paused') throw new Error(`run paused: ${s.run.failure}`);
        return s.run.status === 'succeeded' ? s : null;
      },
      120_000,
      250,
    );

    // The upgrade really happened, and every server is back in rotation.
    for (const a of fleet.agents) expect(await editionServed(a.servicePort)).toBe('2.0');
    for (const a of fleet.agents) {
      expect((await fetch(`http://127.0.0.1:${a.gatePort}/gate`)).status, `${a.id} gate`).toBe(200);
    }
    expect(done.outOfRotation).toEqual([]);

    // Every action ran exactly once, from the agents' own journals.
    const actions = done.steps.flatMap((s) => s.actions);
    expect(actions.length).toBeGreaterThan(20);
    expect(actions.every((a) => a.status === 'succeeded')).toBe(true);
    const journals = Object.fromEntries(
      await Promise.all(fleet.agents.map(async (a) => [a.id, await fleet.journal(a)] as const)),
    );
    expect(checkExactlyOnce(journals, actions, { runIds: [runId] })).toEqual([]);

    // The capacity floor at every ledger event (the ledger is committed before a gate closes,
    // so unlike batched log lines it survives every SIGKILL).
    const ledger = await readLedger(join(dir, 'coordinator'));
    const roles = Object.fromEntries(fleet.agents.map((a) => [a.id, a.role]));
    const floor = checkCapacityFloor(ledgerEvents(ledger), { maxOut: done.run.plan.maxOutOfRotation, roles });
    console.log(`capacity floor: ${floor.events} ledger events, at most ${floor.maxOut} out at once`);
    expect(floor.violations).toEqual([]);
    expect(floor.stillOut).toEqual([]);
    expect(floor.maxOut).toBe(2);
    expect(floor.events).toBeGreaterThanOrEqual(8);
  });
});
