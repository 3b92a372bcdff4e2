import { describe, expect, it } from 'vitest';
import { compileRollout, type Plan } from '@rollgate/domain';
import { createMemoryStore } from './memory-store';
import type { LbServerStatus, LoadBalancerPort } from './ports';
import { plan, setup, until } from './test-harness';

describe('engine', () => {
  it('runs a minor upgrade to the sign-off step, then completes on approval', async () => {
    const { store, fleet, engine, logs } = await setup();
    const run = await engine.createRun(plan(), 'tester');
    const waiting = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    expect(waiting!.plan.steps[waiting!.currentStep]!.kind).toBe('sign-off');
    await engine.signOff(run.id, 'approve', 'looks good', 'customer');
    const done = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'succeeded',
    );
    expect(done!.finishedAt).not.toBeNull();
    // Never more than one group (2 servers) out of rotation, and everything back at the end.
    expect(fleet.maxOut).toBe(2);
    expect([...fleet.gates.values()].every(Boolean)).toBe(true);
    expect(await store.openLedger(run.id)).toEqual([]);
    // Each action id ran exactly once.
    expect([...fleet.executed.values()].every((n) => n === 1)).toBe(true);
    const steps = await store.getSteps(run.id);
    expect(steps.every((s) => s.status === 'succeeded')).toBe(true);
    const codes = logs.map((l) => l.code);
    expect(codes).toContain('RG0010I');
    expect(codes).toContain('RG0024I');
    expect(codes.at(-1)).toBe('RG0011I');
    const audit = await store.listAudit();
    expect(audit.map((a) => a.action)).toEqual(['run.sign-off.approve', 'run.start']);
    await engine.stop();
  });

  it('pauses on a failed action with an actionable message, and retries the step on resume', async () => {
    const { store, fleet, engine } = await setup();
    const p = plan();
    const upgradeStep = p.steps.find((s) => s.key === 'g1.upgrade')!;
    fleet.failOn.add(`admin-1:${upgradeStep.index}`);
    const run = await engine.createRun(p, 'tester');
    const paused = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    expect(paused!.failure).toContain('admin-1: injected failure');
    expect(paused!.failure).toContain(`rollgate upgrade resume ${run.id}`);
    // The failed group stays recorded as out of rotation until it is put back.
    expect((await store.openLedger(run.id)).map((l) => l.serverId).sort()).toEqual(['admin-1', 'stream-1']);
    await engine.resume(run.id, 'operator');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    const attempts = (await store.getActions(run.id, upgradeStep.index)).map((a) => a.attempt);
    expect(new Set(attempts)).toEqual(new Set([1, 2]));
    await engine.stop();
  });

  it('holds a step while the rest of the role is not healthy in rotation (capacity floor)', async () => {
    const { store, engine, logs, fleet } = await setup();
    // admin-2 reports a closed gate: taking admin-1 out would leave no admin serving.
    await store.touchServers([{ id: 'admin-2', lastHeartbeatAt: 0, gateOpen: false }]);
    const run = await engine.createRun(plan(), 'tester');
    await until(
      async () => logs.filter((l) => l.code === 'RG0030W').length,
      (n) => n > 0,
    );
    expect(logs.find((l) => l.code === 'RG0030W')!.message).toContain('(admin-2: gate closed)');
    expect(fleet.sent).toHaveLength(0);
    expect((await store.getRun(run.id))!.currentStep).toBe(0);
    await store.touchServers([{ id: 'admin-2', lastHeartbeatAt: 0, gateOpen: true }]);
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    await engine.stop();
  });

  it('the capacity floor counts a server the bus holds a live stream to, whatever its stored status says', async () => {
    const { store, engine, logs, fleet } = await setup();
    // A write that raced admin-2's reconnect left it "lost" in the store, though its stream is
    // live (fleet.connected): the step taking admin-1 out must not wait on that stale row.
    await store.touchServers([{ id: 'admin-2', lastHeartbeatAt: 0, status: 'lost' }]);
    const run = await engine.createRun(plan(), 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    expect(logs.filter((l) => l.code === 'RG0030W')).toEqual([]);
    // Without a live stream the stored status decides: the floor holds, and says why.
    fleet.connected.delete('admin-2');
    const other = await engine.createRun(plan(['admin-1', 'admin-2']), 'tester');
    const held = await until(
      async () => logs.find((l) => l.code === 'RG0030W' && l.runId === other.id),
      (l) => l !== undefined,
    );
    expect(held!.message).toContain('admin-2: agent lost');
    await engine.stop();
  });

  it('resumes after a restart without running any action twice', async () => {
    const store = createMemoryStore();
    const first = await setup(store);
    // The "coordinator" loses its agents at step 4 and then dies.
    first.fleet.cutAt(4);
    const run = await first.engine.createRun(plan(), 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.currentStep === 4,
    );
    expect((await store.getActions(run.id, 4)).every((a) => a.status === 'pending')).toBe(true);
    await first.engine.stop();

    const second = await setup(store);
    // Agents' journals survive: copy what the first fleet executed.
    for (const [id, n] of first.fleet.executed) second.fleet.executed.set(id, n);
    for (const id of ['admin-1', 'admin-2', 'stream-1', 'stream-2']) await second.engine.onAgentConnected(id);
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    expect([...second.fleet.executed.values()].every((n) => n === 1)).toBe(true);
    expect(second.logs.some((l) => l.code === 'RG0016I')).toBe(true);
    await second.engine.stop();
  });

  it('refuses sign-off when the run is not waiting for it, and aborts with a report of servers left out', async () => {
    const { store, engine, logs, fleet } = await setup();
    const p = plan();
    fleet.failOn.add(`admin-1:${p.steps.find((s) => s.key === 'g1.upgrade')!.index}`);
    const run = await engine.createRun(p, 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    await expect(engine.signOff(run.id, 'approve', '', 'customer')).rejects.toThrow(
      /sign-off is possible only/,
    );
    const aborted = await engine.abort(run.id, 'operator', 'window closing');
    expect(aborted.status).toBe('aborted');
    const leftOut = logs.filter((l) => l.code === 'RG0062E').at(-1);
    expect(leftOut?.message).toContain('admin-1');
    await expect(engine.resume(run.id, 'operator')).rejects.toThrow(/not paused/);
    await engine.stop();
  });

  it('runtime LB: drains at the load balancer, dispatches the stop only at 0 sessions, re-admits once the LB reports the group UP', async () => {
    const calls: string[] = [];
    const lbState = new Map<string, LbServerStatus & { draining: boolean }>();
    for (const id of ['admin-1', 'admin-2', 'stream-1', 'stream-2'])
      lbState.set(id, { up: true, sessions: 3, totalSessions: 100, draining: false });
    const lb: LoadBalancerPort = {
      mode: async () => ({ mode: 'runtime', readmitTimeoutMs: 5000 }),
      async leave(_c, ids) {
        calls.push(`leave ${ids.join(',')}`);
        for (const id of ids) lbState.get(id)!.draining = true;
      },
      async rejoin(_c, ids) {
        calls.push(`rejoin ${ids.join(',')}`);
        for (const id of ids) lbState.get(id)!.draining = false;
      },
      async status(_c, ids) {
        const out = new Map<string, LbServerStatus>();
        for (const id of ids) {
          const st = lbState.get(id)!;
          // Sessions end one by one while draining; a ready server serves requests.
          if (st.draining) st.sessions = Math.max(0, st.sessions - 1);
          else st.totalSessions += 1;
          out.set(id, { up: st.up, sessions: st.sessions, totalSessions: st.totalSessions });
        }
        return out;
      },
    };
    const { store, engine, fleet, logs } = await setup(createMemoryStore(), lb);
    const p = plan(undefined, 10_000);
    const run = await engine.createRun(p, 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    const stop = p.steps.find((x) => x.key === 'g1.stop')!;
    const stopAction = fleet.sent.find((a) => a.stepIndex === stop.index)!;
    // The agent is not asked to drain again: the engine already waited for the LB's sessions.
    expect(stopAction.ops.map((o) => o.op)).toEqual(['gate', 'stop']);
    expect(calls[0]).toBe('leave admin-1,stream-1');
    expect(calls).toContain('rejoin admin-1,stream-1');
    expect(calls).toContain('leave admin-2,stream-2');
    const drained = logs.filter((l) => l.code === 'RG0111I' && /drained in/.test(l.message));
    expect(drained.length).toBeGreaterThanOrEqual(4);
    expect(drained.every((l) => /no sessions left/.test(l.message))).toBe(true);
    // Group 2 left only after group 1 was back at the LB.
    expect(calls.indexOf('rejoin admin-1,stream-1')).toBeLessThan(calls.indexOf('leave admin-2,stream-2'));
    await engine.stop();
  });

  describe('atomic rollout: the switch', () => {
    const IDS = ['admin-1', 'admin-2', 'stream-1', 'stream-2'];
    const atomicPlan = () =>
      compileRollout({
        cluster: 'demo',
        service: 'demo-app',
        servers: IDS.map((id) => ({ id, cluster: 'demo', role: id.split('-')[0]! })),
        toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 1 },
        fromEdition: { app: 'demo-app', name: '1.0', sha256: 'b'.repeat(64), size: 1 },
        strategy: 'atomic',
        drainageIntervalSec: 5,
        installedOn: Object.fromEntries(IDS.map((id) => [id, ['1.0', '2.0']])),
      });

    /** An LB that follows the gates for health, and records whether anyone was ever serving. */
    function fakeRuntimeLb(gateOpen: (id: string) => boolean, ids = IDS) {
      const calls: string[] = [];
      const admin = new Map(ids.map((id) => [id, 'ready' as 'ready' | 'drain']));
      const sessions = new Map(ids.map((id) => [id, 2]));
      const totals = new Map<string, number>();
      let fewestServing = IDS.length;
      const note = () => {
        const serving = ids.filter((id) => admin.get(id) === 'ready' && gateOpen(id)).length;
        fewestServing = Math.min(fewestServing, serving);
      };
      const lb: LoadBalancerPort = {
        mode: async () => ({ mode: 'runtime', readmitTimeoutMs: 2000 }),
        async leave(_c, ids) {
          calls.push(`leave ${ids.join(',')}`);
          for (const id of ids) admin.set(id, 'drain');
          note();
        },
        async rejoin(_c, ids) {
          calls.push(`rejoin ${ids.join(',')}`);
          for (const id of ids) admin.set(id, 'ready');
          note();
        },
        async status(_c, ids) {
          note();
          return new Map(
            ids.map((id) => {
              if (admin.get(id) === 'drain') sessions.set(id, Math.max(0, sessions.get(id)! - 1));
              const healthy = gateOpen(id);
              const up = healthy && admin.get(id) === 'ready';
              // A server in rotation serves a request at every look.
              const served = up ? (totals.get(id) ?? 0) + 1 : (totals.get(id) ?? 0);
              totals.set(id, served);
              return [id, { up, healthy, sessions: sessions.get(id)!, totalSessions: served }];
            }),
          );
        },
        async switchOver(_c, incoming, outgoing) {
          const unhealthy = incoming.filter((id) => !gateOpen(id));
          calls.push(
            `switch in ${incoming.join(',')} out ${outgoing.join(',')}${unhealthy.length ? ` (unhealthy: ${unhealthy.join(',')})` : ''}`,
          );
          for (const id of incoming) admin.set(id, 'ready');
          for (const id of outgoing) admin.set(id, 'drain');
          note();
        },
        async holdAgentChecks(_c, ids, hold) {
          calls.push(`${hold ? 'hold' : 'resume'} agent-checks ${ids.join(',')}`);
        },
      };
      return { lb, calls, fewest: () => fewestServing, admin };
    }

    it('brings half 1 up out of rotation, switches both halves in one exchange once half 1 is healthy, never leaves no one serving', async () => {
      // Health follows each server's gate in the fake fleet (known once the fleet exists).
      const seen: { gates?: Map<string, boolean> } = {};
      const fake = fakeRuntimeLb((id) => seen.gates?.get(id) ?? true);
      const { store, engine, fleet, logs } = await setup(createMemoryStore(), fake.lb);
      seen.gates = fleet.gates;
      const p = atomicPlan();
      const run = await engine.createRun(p, 'tester');
      await until(
        () => store.getRun(run.id),
        (r) => r?.status === 'succeeded' || r?.status === 'paused',
      );
      expect((await store.getRun(run.id))?.failure ?? null).toBeNull();
      expect(fake.calls).toEqual([
        'leave admin-1,stream-1',
        'hold agent-checks admin-1,stream-1,admin-2,stream-2',
        'switch in admin-1,stream-1 out admin-2,stream-2',
        // Only half 1 answers again: half 2's agents might still say "ready" to the LB.
        'resume agent-checks admin-1,stream-1',
        'rejoin admin-1,stream-1',
        'rejoin admin-2,stream-2',
        // Half 2's checks stay held until its re-admission resumes them.
        'resume agent-checks admin-2,stream-2',
      ]);
      // Half 1 was healthy (its gates open) when it was switched in; someone served all along.
      expect(fake.fewest()).toBeGreaterThanOrEqual(2);
      expect(fleet.maxOut).toBeLessThanOrEqual(2);
      expect(await store.openLedger(run.id)).toEqual([]);
      expect([...fake.admin.values()]).toEqual(['ready', 'ready', 'ready', 'ready']);
      const switched = logs.find((l) => l.code === 'RG0115I');
      expect(switched?.message).toMatch(
        /admin-1, stream-1 ready and admin-2, stream-2 drained in one exchange: every new request gets 2\.0/,
      );
      await engine.stop();
    });

    it('a single server, side by side: its second instance serves while it is upgraded; nothing is left out', async () => {
      const twin = 'solo-1@beside';
      const seen: { gates?: Map<string, boolean>; twinUp: boolean } = { twinUp: false };
      // The second instance is healthy once its startBeside op ran (the agent checked it).
      const fake = fakeRuntimeLb(
        (id) => (id === twin ? seen.twinUp : (seen.gates?.get(id) ?? true)),
        ['solo-1', twin],
      );
      fake.admin.set(twin, 'drain');
      const { store, engine, fleet } = await setup(createMemoryStore(), fake.lb, { ids: ['solo-1'] });
      seen.gates = fleet.gates;
      const p = compileRollout({
        cluster: 'demo',
        service: 'demo-app',
        servers: [{ id: 'solo-1', cluster: 'demo', role: 'solo' }],
        toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 1 },
        drainageIntervalSec: 5,
        installedOn: { 'solo-1': ['1.0', '2.0'] },
        beside: true,
      });
      const run = await engine.createRun(p, 'tester');
      await until(
        () => store.getRun(run.id),
        (r) => {
          seen.twinUp = fleet.sent.some((a) => a.ops.some((o) => o.op === 'startBeside'));
          return r?.status === 'succeeded' || r?.status === 'paused';
        },
      );
      expect((await store.getRun(run.id))?.failure ?? null).toBeNull();
      expect(fake.calls).toEqual([
        `hold agent-checks ${twin},solo-1`,
        `switch in ${twin} out solo-1`,
        // solo-1's checks stay held while it is upgraded out of rotation, until it is switched in.
        `resume agent-checks ${twin}`,
        `rejoin ${twin}`,
        `hold agent-checks solo-1,${twin}`,
        `switch in solo-1 out ${twin}`,
        'resume agent-checks solo-1',
        'rejoin solo-1',
      ]);
      // One of the two instances was in rotation and healthy at every moment.
      expect(fake.fewest()).toBe(1);
      expect(await store.openLedger()).toEqual([]);
      expect(fleet.sent.map((a) => a.ops.map((o) => o.op).join('+'))).toEqual([
        'startBeside',
        'gate+drain+stop+activate+configure+start+waitHealthy',
        'stopBeside',
      ]);
      await engine.stop();
    });

    it('pauses without switching when the load balancer cannot make the exchange', async () => {
      const fake = fakeRuntimeLb(() => true);
      const { switchOver: _none, ...noSwitch } = fake.lb;
      const { store, engine } = await setup(createMemoryStore(), noSwitch);
      const run = await engine.createRun(atomicPlan(), 'tester');
      const paused = await until(
        () => store.getRun(run.id),
        (r) => r?.status === 'paused',
      );
      expect(paused?.failure).toMatch(/atomic switch needs the load balancer's runtime API/);
      // Half 2 still serves the old edition: nothing was switched.
      expect(fake.admin.get('admin-2')).toBe('ready');
      expect(fake.admin.get('stream-2')).toBe('ready');
      await engine.stop();
    });
  });

  it('gate-only LB: the agent drain first waits for the LB to notice the closed gate', async () => {
    const lb: LoadBalancerPort = {
      mode: async () => ({ mode: 'gate-only', detectMs: 3000, readmitMs: 10 }),
      leave: async () => {},
      rejoin: async () => {},
      status: async () => new Map(),
    };
    const { store, engine, fleet } = await setup(createMemoryStore(), lb);
    const p = plan();
    const run = await engine.createRun(p, 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    const stop = p.steps.find((x) => x.key === 'g1.stop')!;
    const drain = fleet.sent.find((a) => a.stepIndex === stop.index)!.ops.find((o) => o.op === 'drain');
    expect(drain).toMatchObject({ op: 'drain', minWaitMs: 3000 });
    await engine.stop();
  });

  it('an abort puts healthy servers back in rotation and reports the others as left out', async () => {
    const { store, engine, fleet, logs } = await setup();
    const p = plan();
    fleet.failOn.add(`admin-1:${p.steps.find((s) => s.key === 'g1.upgrade')!.index}`);
    // stream-1's service is still healthy (say its stop had not happened); admin-1's is stopped.
    await store.touchServers([
      {
        id: 'stream-1',
        lastHeartbeatAt: 0,
        services: [{ name: 'demo-app', installedEditions: [], activeEdition: '1.0', health: 'healthy' }],
      },
      {
        id: 'admin-1',
        lastHeartbeatAt: 0,
        services: [{ name: 'demo-app', installedEditions: [], activeEdition: '1.0', health: 'stopped' }],
      },
    ]);
    const run = await engine.createRun(p, 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    await engine.abort(run.id, 'operator');
    expect(fleet.gateWishes).toEqual([{ serverId: 'stream-1', open: true }]);
    expect((await store.openLedger(run.id)).map((l) => l.serverId)).toEqual(['admin-1']);
    const report = logs.filter((l) => l.code === 'RG0062E').at(-1)!;
    expect(report.message).toMatch(/admin-1 \(demo-app not healthy\)/);
    await engine.stop();
  });

  it('an operator can skip the drain of a server stuck with sessions; it is audited and the run goes on', async () => {
    const lb: LoadBalancerPort = {
      mode: async () => ({ mode: 'runtime', readmitTimeoutMs: 0 }),
      leave: async () => {},
      rejoin: async () => {},
      // admin-1 never finishes its sessions; the others have none.
      status: async (_c, ids) =>
        new Map(ids.map((id) => [id, { up: true, sessions: id === 'admin-1' ? 7 : 0, totalSessions: 1 }])),
    };
    const { store, engine, fleet, logs } = await setup(createMemoryStore(), lb);
    const p = plan(undefined, 60_000);
    const run = await engine.createRun(p, 'tester');
    await until(
      async () => logs.filter((l) => l.code === 'RG0110I').length,
      (n) => n > 0,
    );
    await new Promise((r) => setTimeout(r, 100));
    // Still draining: nothing was stopped.
    expect(fleet.sent).toHaveLength(0);
    await expect(engine.skipDrain(run.id, 'admin-2', 'operator')).rejects.toThrow(/not draining/);
    await engine.skipDrain(run.id, 'admin-1', 'operator');
    await until(
      async () => fleet.sent.length,
      (n) => n >= 2,
    );
    const drained = logs.find(
      (l) => l.code === 'RG0111I' && l.serverId === 'admin-1' && /drained in/.test(l.message),
    );
    expect(drained?.message).toMatch(/drain skipped by an operator with 7 sessions/);
    expect(
      (await store.listAudit()).some(
        (a) => a.action === 'run.skip-drain' && a.details.serverId === 'admin-1',
      ),
    ).toBe(true);
    await engine.abort(run.id, 'tester');
    await engine.stop();
  });
});

describe('engine: guided failure, readiness evidence, scheduling', () => {
  it('skip: a failed server is skipped for its step only; it still takes part in later steps', async () => {
    const { store, fleet, engine, logs } = await setup();
    const p = plan();
    const upgrade = p.steps.find((s) => s.key === 'g1.upgrade')!;
    const configure = p.steps.find((s) => s.key === 'g1.configure')!;
    fleet.failOn.add(`admin-1:${upgrade.index}`);
    const run = await engine.createRun(p, 'tester');
    const paused = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    for (const choice of ['resume', 'skip', 'exclude', 'rollback', 'abort']) {
      expect(paused!.failure).toContain(`rollgate upgrade ${choice} ${run.id}`);
    }
    await expect(engine.skipServer(run.id, 'stream-1', 'operator')).rejects.toThrow(/no failed action/);
    await engine.skipServer(run.id, 'admin-1', 'operator');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    const upgradeActions = await store.getActions(run.id, upgrade.index);
    expect(upgradeActions.find((a) => a.serverId === 'admin-1')?.status).toBe('skipped');
    // Skipped for that step only: admin-1 was configured in the next one.
    expect((await store.getActions(run.id, configure.index)).map((a) => a.serverId)).toContain('admin-1');
    expect(logs.some((l) => l.code === 'RG0026W' && l.serverId === 'admin-1')).toBe(true);
    expect((await store.listAudit()).some((a) => a.action === 'run.skip-server')).toBe(true);
    await engine.stop();
  });

  it('exclude: the server gets no more actions, stays out of rotation, and the run finishes without it', async () => {
    const ids = ['admin-1', 'admin-2', 'admin-3', 'stream-1', 'stream-2', 'stream-3'];
    const { store, fleet, engine, logs } = await setup(createMemoryStore(), undefined, { ids });
    const p = plan(ids);
    const upgrade = p.steps.find((s) => s.key === 'g1.upgrade')!;
    fleet.failOn.add(`stream-1:${upgrade.index}`);
    const run = await engine.createRun(p, 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    await expect(engine.exclude(run.id, 'nope-9', 'operator')).rejects.toThrow(/not one of/);
    const excluded = await engine.exclude(run.id, 'stream-1', 'operator');
    expect(excluded.excluded).toEqual(['stream-1']);
    expect(logs.find((l) => l.code === 'RG0027W')?.message).toMatch(/stays out of rotation/);
    await engine.resume(run.id, 'operator');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    const later = (await store.getActions(run.id)).filter((a) => a.stepIndex > upgrade.index);
    expect(later.some((a) => a.serverId === 'stream-1')).toBe(false);
    expect((await store.openLedger()).map((l) => l.serverId)).toEqual(['stream-1']);
    await engine.stop();
  });

  it('records the evidence of preparation and test steps and meets their readiness gates', async () => {
    const { store, engine, logs } = await setup();
    const base = plan();
    const stage = {
      ...base.steps.find((s) => s.key === 'g1.upgrade')!,
      key: 'prep.stage',
      kind: 'prepare' as const,
      phase: 'preparation' as const,
      gate: 'installation-files' as const,
      servers: ['admin-1', 'admin-2', 'stream-1', 'stream-2'],
    };
    const p: Plan = {
      ...base,
      steps: [stage, ...base.steps].map((s, index) => ({ ...s, index })),
    };
    const run = await engine.createRun(p, 'tester', {
      readiness: [
        { gate: 'installation-files', required: true, status: 'unmet', evidence: null, by: null, at: null },
      ],
    });
    const waiting = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    const gate = waiting!.readiness.find((g) => g.gate === 'installation-files')!;
    expect(gate).toMatchObject({ status: 'met', by: 'rollgate', required: true });
    expect((gate.evidence as { actions: unknown[] }).actions).toHaveLength(4);
    const codes = logs.map((l) => l.code);
    expect(codes).toContain('RG0070I');
    // Phase banners in order: preparation, then the service-at-risk window.
    expect(logs.filter((l) => l.code === 'RG0017I').map((l) => l.message)).toEqual([
      'phase begins: Pre-upgrade requirements',
      'phase begins: Service at risk / limited capability',
    ]);
    await engine.stop();
  });

  it('a failed preparation step fails its gate; waiving it (audited) skips the step and the run goes on', async () => {
    const { store, fleet, engine } = await setup();
    const base = plan();
    const snap = {
      ...base.steps.find((s) => s.key === 'g1.upgrade')!,
      key: 'prep.snapshots',
      kind: 'prepare' as const,
      phase: 'preparation' as const,
      gate: 'snapshots' as const,
      servers: ['admin-1'],
    };
    const p: Plan = { ...base, steps: [snap, ...base.steps].map((s, index) => ({ ...s, index })) };
    fleet.failOn.add('admin-1:0');
    const run = await engine.createRun(p, 'tester');
    const paused = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    expect(paused!.readiness.find((g) => g.gate === 'snapshots')?.status).toBe('failed');
    expect(paused!.failure).toContain(`rollgate upgrade waive ${run.id} snapshots`);
    // Nothing was touched yet: no server left rotation.
    expect(await store.openLedger()).toEqual([]);
    await engine.recordGate(
      run.id,
      {
        gate: 'snapshots',
        required: true,
        status: 'waived',
        evidence: null,
        by: 'admin',
        at: Date.now(),
        reason: 'physical host',
      },
      'admin',
    );
    const waiting = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    expect((await store.getSteps(run.id))[0]?.status).toBe('skipped');
    expect(waiting!.readiness.find((g) => g.gate === 'snapshots')).toMatchObject({
      status: 'waived',
      reason: 'physical host',
    });
    expect((await store.listAudit()).some((a) => a.action === 'run.gate.waived' && a.actor === 'admin')).toBe(
      true,
    );
    await engine.stop();
  });

  it('a scheduled run waits as pending and starts when due; a precheck (freeze) refuses it', async () => {
    let refuse: string | null = null;
    const { store, engine, logs } = await setup(createMemoryStore(), undefined, {
      precheck: async () => refuse,
    });
    const at = Date.now() + 300;
    const run = await engine.createRun(plan(), 'tester', { scheduledAt: at });
    expect(run.status).toBe('pending');
    expect(logs.some((l) => l.code === 'RG0002I')).toBe(true);
    const started = await until(
      () => store.getRun(run.id),
      (r) => r?.status !== 'pending',
    );
    expect(started!.status).not.toBe('aborted');
    expect(started!.startedAt).toBeGreaterThanOrEqual(at);
    await engine.abort(run.id, 'tester');

    refuse = 'a freeze window (year-end) covers the window';
    const frozen = await engine.createRun(plan(), 'tester', { scheduledAt: Date.now() + 100 });
    const ended = await until(
      () => store.getRun(frozen.id),
      (r) => r?.status === 'aborted',
    );
    expect(ended!.failure).toBe('scheduled start refused: a freeze window (year-end) covers the window');
    expect(logs.some((l) => l.code === 'RG0003E' && l.runId === frozen.id)).toBe(true);
    expect(await store.getActions(frozen.id)).toEqual([]);
    await engine.stop();
  });

  it('allowsDowntime lets a step empty a role (announced downtime); without it the floor holds', async () => {
    const { store, engine, logs, fleet } = await setup();
    const base = plan();
    const stopAll = {
      ...base.steps.find((s) => s.key === 'g1.stop')!,
      key: 'stop-all',
      servers: ['admin-1', 'admin-2', 'stream-1', 'stream-2'],
      leavesRotation: ['admin-1', 'admin-2', 'stream-1', 'stream-2'],
    };
    const p: Plan = { ...base, maxOutOfRotation: 4, steps: [{ ...stopAll, index: 0 }] };
    const held = await engine.createRun(p, 'tester');
    const holds = await until(
      async () => logs.filter((l) => l.code === 'RG0030W' && l.runId === held.id),
      (l) => l.length > 0,
    );
    // The floor held: the step names the emptied role, and no server was sent the stop.
    expect(holds[0]!.message).toMatch(/no other healthy "(admin|stream)" server is in rotation/);
    expect((await store.getRun(held.id))!.status).toBe('running');
    expect(fleet.sent.filter((a) => a.runId === held.id)).toEqual([]);
    expect([...fleet.gates.values()].every((open) => open)).toBe(true);
    await engine.abort(held.id, 'tester');
    const down = await engine.createRun(
      { ...p, steps: [{ ...stopAll, index: 0, allowsDowntime: true }] },
      'tester',
    );
    await until(
      () => store.getRun(down.id),
      (r) => r?.status === 'succeeded',
    );
    // The announced downtime emptied both roles: all four servers were stopped, out of rotation together.
    const stopped = fleet.sent.filter((a) => a.runId === down.id).map((a) => a.actionId);
    expect(stopped).toHaveLength(4);
    expect((await store.getActions(down.id)).map((a) => a.serverId).sort()).toEqual([
      'admin-1',
      'admin-2',
      'stream-1',
      'stream-2',
    ]);
    expect(fleet.maxOut).toBe(4);
    expect(logs.some((l) => l.code === 'RG0030W' && l.runId === down.id)).toBe(false);
    await engine.stop();
  });
});

describe('engine: re-admission at the speed of evidence (issue 18)', () => {
  const IDS = ['admin-1', 'admin-2', 'stream-1', 'stream-2'];
  const groupedPlan = () =>
    compileRollout({
      cluster: 'demo',
      service: 'demo-app',
      servers: IDS.map((id) => ({ id, cluster: 'demo', role: id.split('-')[0]! })),
      toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 1 },
      strategy: 'grouped',
      groupSize: 2,
      drainageIntervalSec: 5,
      installedOn: Object.fromEntries(IDS.map((id) => [id, ['1.0', '2.0']])),
    });

  /**
   * A runtime LB with HAProxy's admin states. `traffic`: a server in rotation serves a request at
   * every read; `comesUp`: a re-admitted server is reported UP (else it stays DOWN).
   */
  function fakeLb(o: { readmitTimeoutMs: number; readmitWait?: 'up' | 'served' }) {
    const calls: string[] = [];
    const admin = new Map(IDS.map((id) => [id, 'ready' as 'ready' | 'drain' | 'maint']));
    const totals = new Map(IDS.map((id) => [id, 10]));
    const sessions = new Map(IDS.map((id) => [id, 1]));
    const ctl = { traffic: false, comesUp: true, sentBeforePark: [] as string[] };
    const seen: { sent?: { actionId: string; ops: { op: string }[] }[] } = {};
    const lb: LoadBalancerPort = {
      mode: async () => ({
        mode: 'runtime',
        readmitTimeoutMs: o.readmitTimeoutMs,
        readmitWait: o.readmitWait,
      }),
      async leave(_c, ids) {
        calls.push(`leave ${ids.join(',')}`);
        for (const id of ids) admin.set(id, 'drain');
      },
      async park(_c, ids) {
        calls.push(`park ${ids.join(',')}`);
        // The stop must not have gone out yet: park comes between the drain and the stop.
        for (const a of seen.sent ?? [])
          for (const id of ids)
            // Action ids are `<run>.s<step>.<server>.a<attempt>`.
            if (a.actionId.includes(`.${id}.`) && a.ops.some((op) => op.op === 'stop'))
              ctl.sentBeforePark.push(id);
        for (const id of ids) admin.set(id, 'maint');
      },
      async rejoin(_c, ids) {
        calls.push(`rejoin ${ids.join(',')}`);
        for (const id of ids) admin.set(id, 'ready');
      },
      async holdAgentChecks(_c, ids, hold) {
        calls.push(`${hold ? 'hold' : 'resume'} agent-checks ${ids.join(',')}`);
      },
      async status(_c, ids) {
        return new Map(
          ids.map((id) => {
            if (admin.get(id) !== 'ready') sessions.set(id, 0);
            const up = admin.get(id) === 'ready' && ctl.comesUp;
            if (up && ctl.traffic) totals.set(id, totals.get(id)! + 1);
            return [id, { up, sessions: sessions.get(id)!, totalSessions: totals.get(id)! }];
          }),
        );
      },
    };
    return { lb, calls, admin, ctl, seen };
  }

  it('item 1: parks each drained group in maint (agent-checks held) before its stop goes out, re-admits in one call and moves on without waiting for traffic', async () => {
    // Never any traffic, and a re-admission timeout far beyond the test's own: a wait for a
    // served request would time the test out.
    const fake = fakeLb({ readmitTimeoutMs: 60_000 });
    const { store, engine, fleet, logs } = await setup(createMemoryStore(), fake.lb);
    fake.seen.sent = fleet.sent;
    const run = await engine.createRun(groupedPlan(), 'tester');
    const done = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'succeeded' || r?.status === 'paused',
    );
    expect(done?.failure ?? null).toBeNull();
    expect(done?.status).toBe('succeeded');
    // Agent-checks are held while parked: an agent's "drain" would take the server out of maint.
    expect(fake.calls).toEqual([
      'leave admin-1,stream-1',
      'hold agent-checks admin-1,stream-1',
      'park admin-1,stream-1',
      'rejoin admin-1,stream-1',
      'resume agent-checks admin-1,stream-1',
      'leave admin-2,stream-2',
      'hold agent-checks admin-2,stream-2',
      'park admin-2,stream-2',
      'rejoin admin-2,stream-2',
      'resume agent-checks admin-2,stream-2',
    ]);
    expect(fake.ctl.sentBeforePark).toEqual([]);
    expect([...fake.admin.values()]).toEqual(['ready', 'ready', 'ready', 'ready']);
    expect(logs.filter((l) => l.code === 'RG0063I')).toHaveLength(2);
    const back = logs.filter((l) => l.code === 'RG0061I' && /UP at the load balancer/.test(l.message));
    expect(back.map((l) => l.message)).toEqual([
      expect.stringMatching(
        /admin-1, stream-1 UP at the load balancer .* after health up and ready in one exchange/,
      ),
      expect.stringMatching(/admin-2, stream-2 UP at the load balancer/),
    ]);
    // No traffic came: the last group's first request is reported as not seen, not waited for.
    expect(logs.some((l) => /no request served yet since re-admission/.test(l.message))).toBe(true);
    await engine.stop();
  });

  it('item 1: the first served request is reported when the LB shows it, never waited for', async () => {
    const fake = fakeLb({ readmitTimeoutMs: 60_000 });
    fake.ctl.traffic = true;
    const { store, engine, logs } = await setup(createMemoryStore(), fake.lb);
    const run = await engine.createRun(groupedPlan(), 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'succeeded',
    );
    const served = logs
      .filter((l) => /served its first request within/.test(l.message))
      .map((l) => l.serverId);
    expect(served.sort()).toEqual(['admin-1', 'admin-2', 'stream-1', 'stream-2']);
    await engine.stop();
  });

  it('item 1: readmitWait "served" waits for a first request, and goes on once one is served', async () => {
    const fake = fakeLb({ readmitTimeoutMs: 60_000, readmitWait: 'served' });
    const { store, engine, logs } = await setup(createMemoryStore(), fake.lb);
    const run = await engine.createRun(groupedPlan(), 'tester');
    await until(
      async () => fake.calls,
      (c) => c.includes('rejoin admin-1,stream-1'),
    );
    // UP but no request yet: the run holds on the first group (well past a few LB polls).
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.calls).not.toContain('leave admin-2,stream-2');
    expect((await store.getRun(run.id))?.status).toBe('running');
    fake.ctl.traffic = true;
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'succeeded',
    );
    expect(
      logs.some((l) => /admin-1, stream-1 UP at the load balancer and served a request/.test(l.message)),
    ).toBe(true);
    await engine.stop();
  });

  it('item 1: a server the LB does not report UP within readmitTimeoutMs pauses the run with a clear message', async () => {
    const fake = fakeLb({ readmitTimeoutMs: 300 });
    fake.ctl.comesUp = false;
    const { store, engine } = await setup(createMemoryStore(), fake.lb);
    const run = await engine.createRun(groupedPlan(), 'tester');
    const paused = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    expect(paused?.failure).toMatch(
      /the load balancer does not report admin-1, stream-1 UP .* after re-admission \(health up and ready were sent/,
    );
    // The next group never left: the capacity floor's evidence was not in.
    expect(fake.calls).not.toContain('leave admin-2,stream-2');
    await engine.stop();
  });

  it('item 5: every group step ends with a timing line, in words and as JSON whose parts add up', async () => {
    const fake = fakeLb({ readmitTimeoutMs: 60_000 });
    const { store, engine, logs } = await setup(createMemoryStore(), fake.lb);
    const p = groupedPlan();
    const run = await engine.createRun(p, 'tester');
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'succeeded',
    );
    const lines = logs.filter((l) => l.code === 'RG0119I');
    const groups = lines.filter((l) => /\| \{.*"group":\d/.test(l.message));
    expect(groups).toHaveLength(2);
    for (const l of groups) {
      expect(l.message).toMatch(
        /^timing: .*: lb \d+ ms, drain \d+ ms, agent [\d.]+ m?s, readmit \d+ ms, engine \d+ ms, total [\d.]+ m?s \| \{/,
      );
      const json = JSON.parse(/ \| (\{.*\})$/.exec(l.message)![1]!) as Record<string, unknown>;
      expect(json).toMatchObject({ v: 1, partial: false, key: expect.stringMatching(/^g\d\.rollout$/) });
      const n = (k: string) => json[k] as number;
      // Whole milliseconds (the figures are clamped at 0, so a sign check could not fail), and the
      // engine's share is what the others leave of the total.
      for (const k of ['totalMs', 'lbMs', 'drainMs', 'agentMs', 'readmitMs', 'engineMs'])
        expect(Number.isInteger(n(k)), `${k} = ${n(k)}`).toBe(true);
      expect(n('engineMs')).toBe(
        Math.max(0, n('totalMs') - n('lbMs') - n('drainMs') - n('agentMs') - n('readmitMs')),
      );
      expect(n('lbMs') + n('drainMs') + n('agentMs') + n('readmitMs') + n('engineMs')).toBeGreaterThanOrEqual(
        n('totalMs'),
      );
      expect(l.stepIndex).toBe(json.step);
    }
    await engine.stop();
  });
});
