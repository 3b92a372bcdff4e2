// The engine's test harness: a fake fleet behind the AgentBus port (it runs each action id at most
// once, like the agents' journals), an in-memory store with four servers, and a polling helper.
// Shared by the engine's unit tests.
import { compileMinorUpgrade, type Plan } from '@rollgate/domain';
import { createEngine, type Engine, type EngineOptions } from './engine';
import { createMemoryStore } from './memory-store';
import type { AgentBus, DispatchAction, EngineStore, LoadBalancerPort, LogRecord } from './ports';
import { untilValue } from '@rollgate/test-kit';

export const silent = { info() {}, warn() {}, error() {} };

/** Registers connected, in-rotation servers; the role is the id's prefix (`admin-1` → admin). */
export async function registerServers(store: EngineStore, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    await store.upsertServer({
      id,
      cluster: 'demo',
      role: id.split('-')[0]!,
      hostname: id,
      agentVersion: '0.1.0',
      capabilities: [],
      gateUrl: '',
      status: 'connected',
      gateOpen: true,
      services: [],
      lastHeartbeatAt: 0,
      connectedAt: 0,
    });
  }
}

export function plan(servers = ['admin-1', 'admin-2', 'stream-1', 'stream-2'], drainMs = 0): Plan {
  return compileMinorUpgrade({
    cluster: 'demo',
    service: 'demo-app',
    servers: servers.map((id) => ({ id, cluster: 'demo', role: id.split('-')[0]! })),
    toEdition: { app: 'demo-app', name: '2.0', sha256: 'a'.repeat(64), size: 1 },
    drainMs,
    // The seed's table alone: these tests are about its steps, not about staging.
    preparation: { stage: false },
  });
}

/**
 * A fake fleet behind the AgentBus port: it runs each action id at most once (like the agents'
 * journals), keeps a gate per server, mirrors gate changes into the store as health reports do, and
 * records the most servers that were ever out of rotation together.
 */
export function fakeFleet(store: EngineStore, ids: string[]) {
  const executed = new Map<string, number>();
  const results = new Map<string, 'succeeded' | 'failed'>();
  const gates = new Map(ids.map((id) => [id, true]));
  const connected = new Set(ids);
  let maxOut = 0;
  let engine: Engine | undefined;
  const failOn = new Set<string>(); // `${serverId}:${stepIndex}` fails on the first attempt
  const dieOn = new Set<string>(); // `${serverId}:${stepIndex}`: the agent dies holding the action
  const sent: DispatchAction[] = [];
  const gateWishes: { serverId: string; open: boolean }[] = [];
  let cutAtStep = Infinity; // from this step on the fleet is unreachable (a partition or a crash)

  const bus: AgentBus = {
    dispatch(serverId, action) {
      if (action.stepIndex >= cutAtStep) connected.clear();
      if (!connected.has(serverId)) return false;
      if (dieOn.has(`${serverId}:${action.stepIndex}`)) {
        // The agent takes the action and dies with it: no answer, no more heartbeats.
        sent.push(action);
        connected.delete(serverId);
        return true;
      }
      sent.push(action);
      setImmediate(() => void run(serverId, action));
      return true;
    },
    cancel() {},
    setGate(serverId, open) {
      gateWishes.push({ serverId, open });
      // A connected agent applies the wish to its gate at once, as the real one does.
      if (connected.has(serverId)) gates.set(serverId, open);
      return connected.has(serverId);
    },
    isConnected: (id) => connected.has(id),
  };

  async function run(serverId: string, action: DispatchAction) {
    if (!engine) return;
    const done = results.get(action.actionId);
    if (done) {
      await engine.onActionUpdate({
        actionId: action.actionId,
        serverId,
        sentToSender: true,
        status: done,
        reason: '',
        atMs: 0,
      });
      return;
    }
    executed.set(action.actionId, (executed.get(action.actionId) ?? 0) + 1);
    let status: 'succeeded' | 'failed' = 'succeeded';
    if (failOn.has(`${serverId}:${action.stepIndex}`) && action.attempt === 1) status = 'failed';
    else {
      for (const op of action.ops) {
        if (op.op === 'gate') gates.set(serverId, op.state === 'open');
      }
      maxOut = Math.max(maxOut, [...gates.values()].filter((g) => !g).length);
      await store.touchServers([{ id: serverId, lastHeartbeatAt: 0, gateOpen: gates.get(serverId)! }]);
    }
    results.set(action.actionId, status);
    await engine.onActionUpdate({
      actionId: action.actionId,
      serverId,
      sentToSender: true,
      status,
      reason: status === 'failed' ? 'injected failure' : '',
      atMs: 0,
    });
  }

  return {
    bus,
    executed,
    gates,
    connected,
    failOn,
    dieOn,
    sent,
    gateWishes,
    get maxOut() {
      return maxOut;
    },
    cutAt(step: number) {
      cutAtStep = step;
    },
    attach(e: Engine) {
      engine = e;
    },
  };
}

export async function setup(
  store: EngineStore = createMemoryStore(),
  lb?: LoadBalancerPort,
  extra: Pick<EngineOptions, 'precheck' | 'agentLostTimeoutMs'> & { now?: () => number; ids?: string[] } = {},
) {
  const ids = extra.ids ?? ['admin-1', 'admin-2', 'stream-1', 'stream-2'];
  await registerServers(store, ids);
  const fleet = fakeFleet(store, ids);
  const logs: LogRecord[] = [];
  let n = 0;
  const engine = createEngine({
    store,
    bus: fleet.bus,
    clock: { now: extra.now ?? (() => Date.now()) },
    emit: (r) => logs.push(r),
    log: silent,
    newRunId: () => `r-test-${++n}`,
    tickMs: 20,
    ...(lb ? { lb } : {}),
    ...(extra.precheck ? { precheck: extra.precheck } : {}),
    ...(extra.agentLostTimeoutMs !== undefined ? { agentLostTimeoutMs: extra.agentLostTimeoutMs } : {}),
  });
  fleet.attach(engine);
  await engine.start();
  return { store, fleet, logs, engine };
}

/**
 * Reads until `ok` holds for the value and returns it (the engine tests' form of the test kit's
 * untilValue: 5 s, every 10 ms; the timeout names the last value).
 */
export function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  return untilValue('a value that holds', fn, ok, { timeoutMs: ms, everyMs: 10 });
}
