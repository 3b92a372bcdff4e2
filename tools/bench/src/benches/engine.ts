import { compileMinorUpgrade, MSG } from '@rollgate/domain';
import {
  createEngine,
  createMemoryStore,
  type AgentBus,
  type DispatchAction,
  type Engine,
} from '@rollgate/engine';
import { atMost, round, type BenchResult } from '../lib/figures';
import { edition, fleet } from './plan';

/**
 * Engine overhead: a 100-server plan run against the in-memory store with agents that finish every
 * action at once, so all the time measured is the engine's own (persist, dispatch, settle).
 */
export async function benchEngine(): Promise<BenchResult> {
  const n = 100;
  const servers = fleet(n);
  const plan = compileMinorUpgrade({
    cluster: 'bench',
    service: 'app',
    servers,
    toEdition: edition,
    drainMs: 0,
    signOff: false,
  });
  const store = createMemoryStore();
  for (const s of servers) {
    await store.upsertServer({
      id: s.id,
      cluster: s.cluster,
      role: s.role,
      hostname: s.id,
      agentVersion: 'bench',
      capabilities: [],
      gateUrl: '',
      status: 'connected',
      gateOpen: true,
      services: [],
      lastHeartbeatAt: 0,
      connectedAt: 0,
    });
  }
  // The bus answers through the engine, which is created after it.
  const ref: { engine?: Engine } = {};
  let actions = 0;
  const bus: AgentBus = {
    dispatch(serverId, a: DispatchAction) {
      actions++;
      setImmediate(
        () =>
          void ref.engine!.onActionUpdate({
            actionId: a.actionId,
            serverId,
            sentToSender: true,
            status: 'succeeded',
            reason: '',
            atMs: 0,
          }),
      );
      return true;
    },
    cancel() {},
    setGate: () => true,
    isConnected: () => true,
  };
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const engine = createEngine({
    store,
    bus,
    clock: { now: () => Date.now() },
    // The run's completion is observed through its own log record, so the bench does not poll the
    // store (which would clone the run on every poll and compete with the engine for the thread).
    emit: (rec) => {
      if (rec.code === MSG.runCompleted.code) done();
    },
    log: { info() {}, warn() {}, error() {} },
    newRunId: () => 'r-bench',
    tickMs: 1000,
  });
  ref.engine = engine;
  await engine.start();
  const t0 = performance.now();
  await engine.createRun(plan, 'bench');
  await finished;
  const total = performance.now() - t0;
  await engine.stop();
  const waves = plan.groups.length;
  return {
    figures: [
      {
        bench: 'engine',
        case: `${n} servers: whole run`,
        value: round(total, 0),
        unit: 'ms',
        note: `${plan.steps.length} steps, ${actions} actions, ${waves} waves (server groups)`,
      },
      atMost(
        {
          bench: 'engine',
          case: 'per wave (one server group: stop…start)',
          value: round(total / waves, 2),
          unit: 'ms',
        },
        50,
        '≤ 50 ms',
      ),
      { bench: 'engine', case: 'per step', value: round(total / plan.steps.length, 2), unit: 'ms' },
    ],
    method:
      'createEngine() with the in-memory store and a bus whose agents succeed every action on the next ' +
      'tick; a 100-server, 2-role minor upgrade without sign-off, timed from createRun to the run-completed ' +
      'record. A wave is one server group taken out of rotation, upgraded and put back (5 steps).',
  };
}
