// Benchmarks (not tests): they print figures as JSON and as a table and assert nothing.
//   npm run bench                 all
//   npm run bench -- plan engine  some
import { compileMinorUpgrade, type ServerRef } from '@rollgate/domain';
import {
  createEngine,
  createMemoryStore,
  type AgentBus,
  type DispatchAction,
  type Engine,
} from '@rollgate/engine';

interface Figure {
  bench: string;
  case: string;
  value: number;
  unit: string;
  note?: string;
}

function fleet(n: number, roles = 2): ServerRef[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `s${String(i).padStart(5, '0')}`,
    cluster: 'bench',
    role: `role${i % roles}`,
  }));
}

const edition = { app: 'app', name: '2.0', sha256: 'a'.repeat(64), size: 1 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Plan compilation (validation, grouping, capacity-floor simulation) for fleets of growing size. */
function benchPlan(): Figure[] {
  const out: Figure[] = [];
  for (const n of [100, 1000, 10_000]) {
    const servers = fleet(n);
    const times: number[] = [];
    const reps = n >= 10_000 ? 1 : 5;
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      compileMinorUpgrade({ cluster: 'bench', service: 'app', servers, toEdition: edition, drainMs: 0 });
      times.push(performance.now() - t0);
    }
    out.push({
      bench: 'plan compilation',
      case: `${n} servers`,
      value: +median(times).toFixed(2),
      unit: 'ms',
      note: `median of ${reps}`,
    });
  }
  return out;
}

/**
 * Engine overhead: a 100-server plan run against the in-memory store with agents that finish every
 * action at once, so all the time measured is the engine's own (persist, dispatch, settle).
 */
async function benchEngine(): Promise<Figure[]> {
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
  const bus: AgentBus = {
    dispatch(_serverId, a: DispatchAction) {
      setImmediate(
        () =>
          void ref.engine!.onActionUpdate({ actionId: a.actionId, status: 'succeeded', reason: '', atMs: 0 }),
      );
      return true;
    },
    cancel() {},
    isConnected: () => true,
  };
  const engine = createEngine({
    store,
    bus,
    clock: { now: () => Date.now() },
    emit: () => {},
    log: { info() {}, warn() {}, error() {} },
    newRunId: () => 'r-bench',
    tickMs: 1000,
  });
  ref.engine = engine;
  await engine.start();
  const t0 = performance.now();
  const run = await engine.createRun(plan, 'bench');
  for (;;) {
    const r = await store.getRun(run.id);
    if (r?.status === 'succeeded') break;
    await new Promise((res) => setImmediate(res));
  }
  const total = performance.now() - t0;
  await engine.stop();
  return [
    {
      bench: 'engine overhead',
      case: `${n} servers, ${plan.steps.length} steps`,
      value: +total.toFixed(1),
      unit: 'ms',
      note: 'whole run, zero-time actions, memory store',
    },
    {
      bench: 'engine overhead',
      case: 'per step (wave)',
      value: +(total / plan.steps.length).toFixed(2),
      unit: 'ms',
    },
  ];
}

const wanted = new Set(process.argv.slice(2));
const all = wanted.size === 0;
const figures: Figure[] = [];
if (all || wanted.has('plan')) figures.push(...benchPlan());
if (all || wanted.has('engine')) figures.push(...(await benchEngine()));

console.log(JSON.stringify({ at: new Date().toISOString(), node: process.version, figures }, null, 2));
console.log();
console.table(
  figures.map((f) => ({ bench: f.bench, case: f.case, value: `${f.value} ${f.unit}`, note: f.note ?? '' })),
);
