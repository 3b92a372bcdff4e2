// Issue 7, agent crashes: an agent is SIGKILLed in the middle of an action. The coordinator must
// notice within two heartbeat intervals and hold the run (it must not go on without the server);
// once the agent restarts, its journal settles the interrupted action (FAILED, not re-run) and
// the run's failure policy applies: "pause" (then a retry as a new attempt) and "rollback".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, waitFor, type Fleet, type FleetAgent } from '@rollgate/demo-fleet';
import {
  checkCapacityFloor,
  checkExactlyOnce,
  ledgerEvents,
  readLedger,
  runAftermath,
  waitForOp,
} from '@rollgate/demo-fleet/faults';

const HEARTBEAT_MS = 500;
/**
 * The op the agent is killed in: waiting for the new edition to be healthy, which takes a few
 * hundred ms. The other upgrade ops (install of a staged edition, activate, configure, start) take
 * a few ms, and a kill that landed just after the last of them left an action the journal rightly
 * settles as succeeded: no failure to pause on or roll back.
 */
const UPGRADE_OP = /^wait until/;

async function editionServed(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return ((await res.json()) as { edition: string }).edition;
}

describe('agent SIGKILLed mid-action', () => {
  let dir: string;
  let fleet: Fleet;
  let victim: FleetAgent;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-fault-agent-'));
    fleet = await startFleet({ dir, heartbeatMs: HEARTBEAT_MS, editions: ['1.0', '2.0', '3.0'] });
    victim = fleet.agents.find((a) => a.id === 'admin-1')!;
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Waits for the victim to run an op of the upgrade step inside the window (out of rotation;
   * not the preparation phase, where editions are pre-installed and nothing needs undoing), then
   * SIGKILLs it there.
   */
  async function killMidAction(runId: string) {
    const running = await waitForOp(victim, await fleet.api.upgrade.status.query({ runId }), UPGRADE_OP);
    const killedAt = Date.now();
    await fleet.stopAgent(victim, 'SIGKILL');
    return { ...running, killedAt };
  }

  /** How long the coordinator took to see the agent gone (its servers list, and the run's log). */
  async function detection(runId: string, killedAt: number) {
    const seenAt = await waitFor(
      'the coordinator to mark the agent not connected',
      async () => {
        const s = (await fleet.api.servers.list.query({})).find((x) => x.id === victim.id)!;
        return s.status !== 'connected' ? Date.now() : null;
      },
      10_000,
      20,
    );
    const line = await waitFor('the run to log the agent lost', async () => {
      const logs = await fleet.api.upgrade.logs.query({ runId, code: 'RG0051W' });
      return logs.find((l) => l.serverId === victim.id && l.at >= killedAt);
    });
    return { listMs: seenAt - killedAt, logMs: line.at - killedAt, line };
  }

  async function journals() {
    return Object.fromEntries(
      await Promise.all(fleet.agents.map(async (a) => [a.id, await fleet.journal(a)] as const)),
    );
  }

  it('pause policy: notices at once, holds the run, settles from the journal, then retries', async () => {
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      drainageIntervalSec: 1,
      signOff: false,
      onFailure: 'pause',
    });
    const runId = start.run.id;
    const killed = await killMidAction(runId);
    const step = Number(/\.s(\d+)\./.exec(killed.actionId)![1]);
    const seen = await detection(runId, killed.killedAt);
    console.log(
      `agent kill (pause): killed during "${killed.op}" of ${killed.actionId}; detected after ${seen.listMs} ms (servers list), ${seen.logMs} ms (run log)`,
    );
    expect(seen.listMs).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
    expect(seen.logMs).toBeLessThanOrEqual(2 * HEARTBEAT_MS);

    // The run does not go on without the server: the step and the action stay where they were.
    await new Promise((r) => setTimeout(r, 4 * HEARTBEAT_MS));
    const held = await fleet.api.upgrade.status.query({ runId });
    expect(held.run.status).toBe('running');
    expect(held.run.currentStep).toBe(step);
    const action = held.steps[step]!.actions.find((a) => a.id === killed.actionId)!;
    expect(['dispatched', 'accepted', 'running']).toContain(action.status);

    // The agent restarts: its journal says what happened (interrupted, not re-run) and the
    // coordinator applies the policy: pause, naming the interrupted op.
    await fleet.startAgent(victim);
    const paused = await waitFor(
      'the run to pause on the interrupted action',
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId });
        return s.run.status === 'paused' ? s : null;
      },
      30_000,
      100,
    );
    expect(paused.run.failure).toMatch(/agent restarted while this action was running/);
    expect(paused.run.failure).toContain(killed.op.split(' ')[0]!);
    const settled = (await fleet.journal(victim)).filter((l) => l.id === killed.actionId);
    expect(settled.map((l) => l.t)).toEqual(['started', ...settled.slice(1, -1).map(() => 'op'), 'finished']);
    expect(settled.at(-1)!.status).toBe('FAILED');

    // Retry: the step runs again as attempt 2 and the run completes.
    await fleet.api.upgrade.resume.mutate({ runId });
    const done = await waitFor(
      'the retried run to succeed',
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId });
        if (s.run.status === 'paused') throw new Error(`run paused again: ${s.run.failure}`);
        return s.run.status === 'succeeded' ? s : null;
      },
      90_000,
      250,
    );
    const retried = done.steps[step]!.actions.filter((a) => a.serverId === victim.id);
    expect(retried.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
    for (const a of fleet.agents) expect(await editionServed(a.servicePort)).toBe('2.0');
    expect(done.outOfRotation).toEqual([]);
    // Exactly once, and the capacity floor at every event from both records: the ledger and the log.
    const after = await runAftermath(fleet, done, join(dir, 'coordinator'));
    expect(after.exactlyOnce).toEqual([]);
    for (const floor of [after.ledgerFloor, after.logFloor]) {
      expect(floor.violations).toEqual([]);
      expect(floor.stillOut).toEqual([]);
      expect(floor.events).toBeGreaterThanOrEqual(8);
    }
  });

  it('rollback policy: the settled failure starts the rollback, which restores the fleet', async () => {
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '3.0',
      drainageIntervalSec: 1,
      signOff: false,
      onFailure: 'rollback',
    });
    const runId = start.run.id;
    const killed = await killMidAction(runId);
    const seen = await detection(runId, killed.killedAt);
    console.log(
      `agent kill (rollback): killed during "${killed.op}" of ${killed.actionId}; detected after ${seen.listMs} ms (servers list), ${seen.logMs} ms (run log)`,
    );
    expect(seen.listMs).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
    await fleet.startAgent(victim);

    const rollback = await waitFor(
      'the automatic rollback run to succeed',
      async () => {
        const runs = await fleet.api.upgrade.list.query();
        const rb = runs.find((r) => r.parentRunId === runId);
        if (rb?.status === 'paused' || rb?.status === 'failed')
          throw new Error(`rollback ${rb.status}: ${rb.failure}`);
        return rb?.status === 'succeeded' ? rb : null;
      },
      90_000,
      250,
    );
    const original = await fleet.api.upgrade.status.query({ runId });
    expect(original.run.status).toBe('aborted');
    expect(original.run.failure).toMatch(/agent restarted while this action was running/);
    // Back on the edition the fleet ran before, every server in rotation.
    for (const a of fleet.agents) expect(await editionServed(a.servicePort)).toBe('2.0');
    for (const a of fleet.agents) {
      expect((await fetch(`http://127.0.0.1:${a.gatePort}/gate`)).status, `${a.id} gate`).toBe(200);
    }
    const rbView = await fleet.api.upgrade.status.query({ runId: rollback.id });
    expect(rbView.outOfRotation).toEqual([]);
    const actions = [...original.steps, ...rbView.steps].flatMap((s) => s.actions);
    expect(checkExactlyOnce(await journals(), actions, { runIds: [runId, rollback.id] })).toEqual([]);
    const ledger = (await readLedger(join(dir, 'coordinator'))).filter(
      (r) => r.runId === runId || r.runId === rollback.id,
    );
    const roles = Object.fromEntries(fleet.agents.map((a) => [a.id, a.role]));
    const floor = checkCapacityFloor(ledgerEvents(ledger), {
      maxOut: original.run.plan.maxOutOfRotation,
      roles,
    });
    expect(floor.violations).toEqual([]);
    expect(floor.stillOut).toEqual([]);
  });
});
