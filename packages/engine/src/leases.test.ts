// Several engines sharing one store, as coordinators share one PostgreSQL: run leases decide who
// evaluates a run, and the store's fencing refuses a stale leader's writes.
import { describe, expect, it } from 'vitest';
import { compileMinorUpgrade, parseActionId, type Plan } from '@rollgate/domain';
import { createEngine, type Engine } from './engine';
import { createMemoryStore } from './memory-store';
import type { AgentBus, DispatchAction, EngineStore, RunLeases } from './ports';
import { registerServers, silent } from './test-harness';
import { waiter } from '@rollgate/test-kit';

const IDS = ['admin-1', 'admin-2', 'stream-1', 'stream-2'];

function plan(): Plan {
  return compileMinorUpgrade({
    cluster: 'demo',
    service: 'demo-app',
    servers: IDS.map((id) => ({ id, cluster: 'demo', role: id.split('-')[0]! })),
    toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 1 },
    drainMs: 0,
    signOff: false,
    preparation: { stage: false },
  });
}

/** A store whose every call fails once `crash()` was called: a coordinator that died. */
function crashable(store: EngineStore & RunLeases) {
  let dead = false;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) =>
        dead
          ? Promise.reject(new Error('coordinator is dead'))
          : (v as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return { store: proxy, crash: () => (dead = true) };
}

/**
 * One fleet for every engine: each action id runs at most once (the agents' journals). Reports for
 * steps from `holdFrom` on wait for `release()`, so the leader can be killed mid-run however fast
 * (or slowly) the machine runs the steps before it.
 */
function fleet(store: EngineStore, holdFrom = Infinity) {
  const executed = new Map<string, number>();
  const engines: Engine[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const report = async (a: DispatchAction) => {
    if (a.stepIndex >= holdFrom) await released;
    executed.set(a.actionId, (executed.get(a.actionId) ?? 0) + 1);
    if ((executed.get(a.actionId) ?? 0) > 1) return;
    for (const op of a.ops) {
      if (op.op === 'gate') {
        const serverId = IDS.find((id) => a.actionId.includes(`.${id}.`))!;
        await store.touchServers([{ id: serverId, lastHeartbeatAt: 0, gateOpen: op.state === 'open' }]);
      }
    }
    // The agent reports to a live coordinator, not necessarily the leader.
    for (const e of engines) {
      try {
        await e.onActionUpdate({
          actionId: a.actionId,
          serverId: parseActionId(a.actionId)!.serverId,
          sentToSender: true,
          status: 'succeeded',
          reason: '',
          atMs: 0,
        });
        return;
      } catch {
        /* that coordinator is dead: the agent fails over to the next */
      }
    }
  };
  const bus: AgentBus = {
    dispatch(_serverId, action) {
      if (executed.has(action.actionId)) return true;
      setImmediate(() => void report(action));
      return true;
    },
    cancel() {},
    setGate: () => true,
    isConnected: () => true,
  };
  return { bus, executed, engines, release };
}

const { until } = waiter({ timeoutMs: 5000, everyMs: 10 });

function engineOn(
  store: EngineStore & RunLeases,
  bus: AgentBus,
  holder: string,
  all: Engine[],
  n: { i: number },
) {
  return createEngine({
    store,
    bus,
    clock: { now: () => Date.now() },
    emit: () => undefined,
    log: silent,
    newRunId: () => `r-${holder}-${++n.i}`,
    tickMs: 20,
    leases: store,
    holder,
    leaseTtlMs: 300,
    leaseRenewMs: 50,
    notifyLeader: (runId) => {
      for (const e of all) if (e.leads(runId)) void e.kick(runId);
    },
  });
}

describe('run leases between engines sharing a store', () => {
  it('only the leader evaluates; when it dies another takes over and no action runs twice', async () => {
    const shared = createMemoryStore();
    await registerServers(shared, IDS);
    const f = fleet(shared, 5);
    const a = crashable(shared);
    const n = { i: 0 };
    const engineA = engineOn(a.store, f.bus, 'coord-a', f.engines, n);
    const engineB = engineOn(shared, f.bus, 'coord-b', f.engines, n);
    f.engines.push(engineA, engineB);
    await engineA.start();
    await engineB.start();

    const run = await engineA.createRun(plan(), 'op');
    expect(engineA.leads(run.id)).toBe(true);
    expect(engineB.leads(run.id)).toBe(false);
    await until('the run to reach step 5', async () => (await shared.getRun(run.id))?.currentStep === 5);
    a.crash();
    f.engines.splice(0, 1);
    const crashedAt = Date.now();
    f.release();
    // The bound: another coordinator resumes the run within 5 s.
    await until('coord-b to lead the run', () => engineB.leads(run.id), 5000);
    expect(Date.now() - crashedAt).toBeLessThan(5000);
    expect(await shared.getLease(run.id)).toMatchObject({ holder: 'coord-b', token: 2 });
    await until('the run to succeed', async () => (await shared.getRun(run.id))?.status === 'succeeded');
    expect([...f.executed.values()].every((count) => count === 1)).toBe(true);
    expect(await shared.openLedger()).toEqual([]);
    await engineB.stop();
    await engineA.stop().catch(() => undefined);
  }, 30_000);

  it("refuses a stale leader's writes in the store and it stops evaluating the run at once", async () => {
    const shared = createMemoryStore();
    await registerServers(shared, IDS);
    // Agents that accept actions and report nothing until told to.
    const held: DispatchAction[] = [];
    const bus: AgentBus = {
      dispatch: (_s, action) => (held.push(action), true),
      cancel() {},
      setGate: () => true,
      isConnected: () => true,
    };
    const engineA = engineOn(shared, bus, 'coord-a', [], { i: 0 });
    await engineA.start();
    const run = await engineA.createRun(plan(), 'op');
    await until('the first step to be dispatched', () => held.length > 0);
    // Another coordinator takes the run over behind A's back (as an operator's command does).
    const taken = await shared.acquireLease(run.id, 'coord-b', 60_000, true);
    const before = await shared.getRun(run.id);
    // The agents report: A stores the facts, then its evaluation's writes are refused.
    for (const a of held)
      await engineA.onActionUpdate({
        actionId: a.actionId,
        serverId: parseActionId(a.actionId)!.serverId,
        status: 'succeeded',
        reason: '',
        atMs: 0,
      });
    await engineA.kick(run.id);
    expect(engineA.leads(run.id)).toBe(false);
    expect((await shared.getActions(run.id, 0)).every((a) => a.status === 'succeeded')).toBe(true);
    expect((await shared.getSteps(run.id))[0]?.status).toBe('running');
    await new Promise((r) => setTimeout(r, 200));
    expect(await shared.getRun(run.id)).toEqual(before);
    expect(await shared.getLease(run.id)).toMatchObject({ holder: 'coord-b', token: taken!.token });
    await engineA.stop();
  });
});
