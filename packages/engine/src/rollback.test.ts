import { describe, expect, it } from 'vitest';
import { compileMinorUpgrade, type Plan } from '@rollgate/domain';
import { createMemoryStore } from './memory-store';
import { setup, until } from './test-harness';

const IDS = ['admin-1', 'admin-2', 'stream-1', 'stream-2'];

/** A minor upgrade 1.0 → 2.0 that knows what it upgrades from, so it can be rolled back. */
function upgradePlan(): Plan {
  return compileMinorUpgrade({
    cluster: 'demo',
    service: 'demo-app',
    servers: IDS.map((id) => ({ id, cluster: 'demo', role: id.split('-')[0]! })),
    fromEdition: { app: 'demo-app', name: '1.0', sha256: 'b'.repeat(64), size: 1 },
    toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 1 },
    drainMs: 0,
    preparation: { stage: false },
  });
}

const MIN = 60_000;

describe('engine: rollback proposals, authorisation and the roll-back-on-failure policy', () => {
  it('with under an hour of the window left, a failed run proposes the recommended rollback; authorising it rolls back', async () => {
    let now = Date.now();
    const { store, fleet, engine, logs } = await setup(createMemoryStore(), undefined, { now: () => now });
    const p = upgradePlan();
    const g2 = p.steps.find((s) => s.key === 'g2.upgrade')!;
    fleet.failOn.add(`admin-2:${g2.index}`);
    const run = await engine.createRun(p, 'operator', { options: { windowEndsAt: now + 40 * MIN } });
    const paused = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused' && r.proposal !== null,
    );
    expect(paused!.proposal).toMatchObject({ method: 'reinstall', status: 'awaiting', rollbackRunId: null });
    expect(paused!.proposal!.reason).toMatch(/^(39|40) min of the upgrade window left/);
    expect(logs.map((l) => l.code)).toEqual(expect.arrayContaining(['RG0076W', 'RG0018W']));

    now += MIN;
    const decided = await engine.decideRollback(run.id, 'authorise', 'go ahead', 'customer:ann');
    expect(decided.status).toBe('aborted');
    expect(decided.proposal).toMatchObject({
      status: 'authorised',
      decidedBy: 'customer:ann',
      comment: 'go ahead',
    });
    expect(decided.proposal!.rollbackRunId).not.toBeNull();
    const rb = await until(
      () => store.getRun(decided.proposal!.rollbackRunId!),
      (r) => r?.status === 'succeeded',
    );
    expect(rb!.kind).toBe('rollback');
    expect(rb!.parentRunId).toBe(run.id);
    expect(rb!.plan.toEdition.name).toBe('1.0');
    // Every server is back in rotation and no ledger entry is left open, by either run.
    expect([...fleet.gates.values()].every(Boolean)).toBe(true);
    expect(await store.openLedger()).toEqual([]);
    const actions = (await store.listAudit()).map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(['run.rollback.authorise', 'run.rollback', 'run.rollback.start']),
    );
    await expect(engine.rollback(run.id, 'operator')).rejects.toThrow(/already being rolled back/);
    await engine.stop();
  });

  it('a declined proposal leaves the run paused; with hours left nothing is proposed until the window runs short', async () => {
    let now = Date.now();
    const { store, fleet, engine } = await setup(createMemoryStore(), undefined, { now: () => now });
    const p = upgradePlan();
    fleet.failOn.add(`admin-1:${p.steps.find((s) => s.key === 'g1.upgrade')!.index}`);
    const run = await engine.createRun(p, 'operator', { options: { windowEndsAt: now + 3 * 60 * MIN } });
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    await new Promise((r) => setTimeout(r, 100));
    expect((await store.getRun(run.id))!.proposal).toBeNull();
    await expect(engine.decideRollback(run.id, 'authorise', '', 'x')).rejects.toThrow(/no rollback waiting/);

    // Time passes while the run stays paused: the tick proposes once less than an hour is left.
    now += 2 * 60 * MIN + 10 * MIN;
    const proposed = await until(
      () => store.getRun(run.id),
      (r) => r?.proposal !== null,
    );
    expect(proposed!.proposal!.status).toBe('awaiting');
    const declined = await engine.decideRollback(run.id, 'decline', 'we will fix forward', 'customer:ann');
    expect(declined.status).toBe('paused');
    expect(declined.proposal).toMatchObject({ status: 'declined', decidedBy: 'customer:ann' });
    expect((await store.listRuns()).filter((r) => r.kind === 'rollback')).toEqual([]);
    await engine.stop();
  });

  it('the roll-back-on-failure policy starts the recommended rollback by itself', async () => {
    const { store, fleet, engine, logs } = await setup();
    const p = upgradePlan();
    fleet.failOn.add(`stream-2:${p.steps.find((s) => s.key === 'g2.upgrade')!.index}`);
    const run = await engine.createRun(p, 'operator', { options: { onFailure: 'rollback' } });
    const ended = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'aborted',
    );
    expect(ended!.failure).toMatch(/rolled back by rollgate \(policy: roll back on failure\) \(reinstall\)/);
    const rb = await until(
      async () => (await store.listRuns()).find((r) => r.parentRunId === run.id),
      (r) => r?.status === 'succeeded',
    );
    expect(rb!.plan.rollback).toEqual({ ofRun: run.id, method: 'reinstall' });
    expect(logs.some((l) => l.code === 'RG0019W' && l.runId === run.id)).toBe(true);
    expect(await store.openLedger()).toEqual([]);
    await engine.stop();
  });

  it('refuses a method that does not apply, and a run that does not know its previous edition', async () => {
    const { store, fleet, engine } = await setup();
    const p = upgradePlan();
    fleet.failOn.add(`admin-1:${p.steps.find((s) => s.key === 'g1.upgrade')!.index}`);
    const run = await engine.createRun(p, 'operator');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    const options = await engine.rollbackOptions(run.id);
    expect(options.find((o) => o.recommended)?.method).toBe('reinstall');
    await expect(engine.rollback(run.id, 'operator', 'restore-database')).rejects.toThrow(/does not apply/);
    await engine.abort(run.id, 'operator');

    const { fromEdition: _drop, ...unknownFrom } = upgradePlan();
    const blind = await engine.createRun(unknownFrom, 'operator');
    await expect(engine.rollback(blind.id, 'operator')).rejects.toThrow(/does not record the edition/);
    await engine.stop();
  });
});

describe('engine: an agent lost with an action in hand', () => {
  it('fails the action once the agent has been lost for agentLostTimeoutMs, so the policy applies', async () => {
    const { store, fleet, engine, logs } = await setup(createMemoryStore(), undefined, {
      agentLostTimeoutMs: 300,
    });
    const p = upgradePlan();
    const upgrade = p.steps.find((s) => s.key === 'g1.upgrade')!;
    fleet.dieOn.add(`admin-1:${upgrade.index}`);
    const run = await engine.createRun(p, 'operator', { options: { onFailure: 'pause' } });
    await until(
      async () => fleet.sent.some((a) => a.actionId.includes('.admin-1.') && a.stepIndex === upgrade.index),
      (v) => v,
    );
    // What the gateway records when the heartbeats stop.
    await store.touchServers([{ id: 'admin-1', lastHeartbeatAt: Date.now(), status: 'lost' }]);
    const paused = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    expect(paused!.failure).toMatch(
      /admin-1: agent admin-1 has been lost for \d+ s while running this action/,
    );
    const action = (await store.getActions(run.id, upgrade.index)).find((a) => a.serverId === 'admin-1');
    expect(action?.status).toBe('failed');
    expect(logs.some((l) => l.code === 'RG0043E' && l.serverId === 'admin-1')).toBe(true);
    await engine.stop();
  });
});
