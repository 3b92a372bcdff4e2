import { actionId, MSG, type ActionOp, type Plan } from '@rollgate/domain';
import { createMemoryStore, type AgentBus, type Engine, type EngineStore } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
// Gateway level: the coordinator's agent gateway alone. Engine level: the whole coordinator in this
// process (createCoordinator, as main.ts starts it) with measurement taps (docs/adr/0038).
import {
  createAgentGateway,
  createArtifactStore,
  createCoordinator,
  type AgentGateway,
  type AgentGatewayEvents,
} from '@rollgate/coordinator';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { atMost, median, percentile, round, type BenchResult, type Figure } from '../lib/figures';
import { onCleanup, sleep, tempDir } from '../lib/proc';
import { agentId, startSimPool } from '../lib/sim-pool';

export interface FanoutOptions {
  sizes: number[];
  rounds: number;
  /** Also time the fan-out as a run step through the engine and the embedded PostgreSQL. */
  engine: boolean;
}

const TARGET_P99_MS: Record<number, number> = { 1000: 500, 10_000: 3000 };
const ENGINE_MAX = 2000;
const PROBE: ActionOp[] = [
  {
    op: 'probe',
    service: 'app',
    path: '/health',
    expectStatus: 200,
    expectBodyContains: '',
    timeoutMs: 5000,
  },
];
/** The engine takes its run ids from here, so the bench knows every action id before dispatch. */
let nextRunId = 'r-fanout-0';

interface Harness {
  /** ms from the start of the round to each agent's ACCEPTED, by agent index. */
  acks: Float64Array;
  accepted: number;
  succeeded: number;
  t0: number;
  index: Map<string, number>;
  done: (() => void) | null;
  /** ms from the start of the round to the first and the last bus.dispatch() (engine mode). */
  firstDispatch: number;
  lastDispatch: number;
  /** bus.dispatch() calls in the round (engine mode): more than N means actions were sent again. */
  dispatches: number;
  /** Agents the gateway called lost (no message for 1.5 heartbeat intervals) during the round. */
  lost: number;
  /** The round's store.startStep() (engine mode): persisting the step and its N actions. */
  startStepMs: number;
  /** Agents the round's RunAction went to (gateway mode: bus.dispatch() refuses an agent it holds lost). */
  expected: number;
  /** Hellos whose onAgentConnected (the engine's resend of outstanding actions) has finished. */
  welcomed: number;
}

/** The harness's view of every agent event (gateway mode: the gateway's only handler). */
function observe(h: Harness, inner: AgentGatewayEvents | null): AgentGatewayEvents {
  return {
    async onActionUpdate(u) {
      const i = h.index.get(u.actionId);
      if (i !== undefined) {
        // The first ACCEPTED counts: an action sent again (its agent looked lost) is answered again.
        if (u.status === 'accepted' && Number.isNaN(h.acks[i]!)) {
          h.acks[i] = performance.now() - h.t0;
          h.accepted++;
        } else if (u.status === 'succeeded') h.succeeded++;
      }
      if (inner) await inner.onActionUpdate(u);
      else if (h.accepted === h.expected && h.succeeded === h.expected) h.done?.();
    },
    onAgentConnected: async (id) => {
      await inner?.onAgentConnected(id);
      h.welcomed++;
    },
    onAgentLost: async (id) => {
      h.lost++;
      await inner?.onAgentLost(id);
    },
  };
}

function newHarness(n: number): Harness {
  return {
    acks: new Float64Array(n),
    accepted: 0,
    succeeded: 0,
    t0: 0,
    index: new Map(),
    done: null,
    firstDispatch: NaN,
    lastDispatch: NaN,
    dispatches: 0,
    welcomed: 0,
    expected: n,
    startStepMs: NaN,
    lost: 0,
  };
}

interface Core {
  h: Harness;
  /** Which agents the gateway holds connected. */
  agents: Pick<AgentBus, 'isConnected'>;
  /** Gateway mode only: sends one action to one agent; false if the gateway holds it lost. */
  dispatch?: AgentGateway['bus']['dispatch'];
  /** Engine mode only. */
  engine?: Engine;
  address: string;
  stop(): Promise<void>;
}

/** Gateway mode: the coordinator's agent gateway alone, on the engine's memory store. */
async function startGatewayCore(n: number): Promise<Core> {
  const dir = tempDir('fanout-gateway');
  const h = newHarness(n);
  const gateway = createAgentGateway(
    {
      port: 0,
      store: createMemoryStore(),
      artifacts: createArtifactStore({ dir: dir.path }),
      logs: { write: () => true, flush: async () => {} },
      log: createLogger({ name: 'bench-gateway', level: 'warn' }),
      clock: { now: () => Date.now() },
      version: 'bench',
      heartbeatIntervalMs: 5000,
    },
    observe(h, null),
  );
  const port = await gateway.start();
  const stopGateway = onCleanup('fanout gateway', () => gateway.stop());
  return {
    h,
    agents: gateway.bus,
    dispatch: (...args) => gateway.bus.dispatch(...args),
    address: `127.0.0.1:${port}`,
    async stop() {
      await stopGateway();
      await dir.remove();
    },
  };
}

/**
 * Engine mode: the whole coordinator (embedded PostgreSQL, engine, gateway) in this process, its
 * store's startStep and its engine's dispatches timed through createCoordinator's taps.
 */
async function startEngineCore(n: number): Promise<Core> {
  const dir = tempDir('fanout-engine');
  const h = newHarness(n);
  const coordinator = createCoordinator({
    dataDir: dir.path,
    httpPort: 0,
    grpcPort: 0,
    insecureAgents: true,
    heartbeatMs: 5000,
    log: createLogger({ name: 'bench-coordinator', level: 'warn' }),
    taps: {
      // Timed: how long the step's persistence (durable before effect) holds the fan-out back.
      store: <S extends EngineStore>(store: S): S => ({
        ...store,
        async startStep(...args: Parameters<EngineStore['startStep']>) {
          const t = performance.now();
          await store.startStep(...args);
          h.startStepMs = performance.now() - t;
        },
      }),
      // Timed: when the fan-out left the coordinator.
      bus: (bus) => ({
        ...bus,
        dispatch(...args: Parameters<AgentBus['dispatch']>) {
          const t = performance.now() - h.t0;
          if (Number.isNaN(h.firstDispatch)) h.firstDispatch = t;
          h.lastDispatch = t;
          h.dispatches++;
          return bus.dispatch(...args);
        },
      }),
      agentEvents: (events) => observe(h, events),
      onRecord: (rec) => {
        if (rec.code === MSG.runCompleted.code) h.done?.();
      },
      newRunId: () => nextRunId,
    },
  });
  const stopCoordinator = onCleanup('fanout coordinator', () => coordinator.stop());
  const { grpcPort } = await coordinator.start();
  return {
    h,
    agents: coordinator.agents,
    engine: coordinator.engine,
    address: `127.0.0.1:${grpcPort}`,
    async stop() {
      await stopCoordinator();
      await dir.remove();
    },
  };
}

/**
 * BENCH_PROFILE_DIR=<dir>: a CPU profile of each round of this process (the gateway, and the engine
 * and its store in engine mode), from its start to its end, written as <dir>/<name>.cpuprofile. The
 * round starts right after the profiler, so the profile holds the round and nothing else.
 */
async function startRoundProfile(): Promise<((name: string) => Promise<void>) | null> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (!dir) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return async (name) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/** A one-step plan: the fan-out probe on every server at once (what a final functionality test is). */
function probePlan(n: number): Plan {
  const ids = Array.from({ length: n }, (_, i) => agentId(i));
  return {
    procedure: 'minor',
    cluster: 'bench',
    service: 'app',
    toEdition: { app: 'app', name: '2.0', sha256: 'a'.repeat(64), size: 1 },
    groups: [{ index: 1, servers: ids.map((id, i) => ({ id, cluster: 'bench', role: `role${i % 2}` })) }],
    steps: [
      {
        index: 0,
        key: 'fanout',
        kind: 'test',
        title: 'Fan-out probe on every server',
        seedStep: null,
        group: null,
        phase: 'service-at-risk',
        performedBy: ['engineer'],
        servers: ids,
        ops: PROBE,
        leavesRotation: [],
        rejoinsRotation: [],
      },
    ],
    maxOutOfRotation: 0,
    window: { atRiskMinutes: 0, downtimeMinutes: 0, basis: 'bench' },
  };
}

async function fanout(n: number, rounds: number, mode: 'gateway' | 'engine'): Promise<Figure[]> {
  const core = mode === 'engine' ? await startEngineCore(n) : await startGatewayCore(n);
  const workers = Math.min(4, Math.max(2, Math.ceil(n / 2500)));
  const pool = await startSimPool(workers);
  const { h } = core;
  try {
    const c = await pool.connect({ address: core.address, n });
    if (c.failed > 0) throw new Error(`${c.failed} of ${n} agents could not connect: ${c.errors.join('; ')}`);
    const connectMs = c.ms;
    // A round starts from a settled fleet: every Hello handled (in engine mode the engine looks up
    // each agent's outstanding actions), then 2 s of steady heartbeats.
    const tSettle = performance.now();
    while (h.welcomed < n && performance.now() - tSettle < 120_000) await sleep(50);
    const settleMs = performance.now() - tSettle;
    await sleep(2000);
    const all: number[] = [];
    const lastAck: number[] = [];
    const roundMs: number[] = [];
    const dispatched: [number, number, number, number, number][] = [];
    /** Per round: agents the gateway held lost when the round began (after waiting for them). */
    const awayAtStart: number[] = [];
    /** Per gateway round: agents bus.dispatch() refused (held lost: no message for 1.5 heartbeats). */
    const notSent: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      // A round starts from a fleet the gateway holds connected: an agent whose heartbeats came late
      // (the load generator shares the cores) is held lost, is not sent the command, and is resent
      // it only when it is back. Wait (at most 30 s) for every agent to be back; count the rest.
      const tWait = performance.now();
      let away = n;
      while (performance.now() - tWait < 30_000) {
        away = 0;
        for (let i = 0; i < n; i++) if (!core.agents.isConnected(agentId(i))) away++;
        if (away === 0) break;
        await sleep(100);
      }
      awayAtStart.push(away);
      h.index.clear();
      h.accepted = 0;
      h.succeeded = 0;
      h.acks.fill(NaN);
      h.firstDispatch = NaN;
      h.lastDispatch = NaN;
      h.dispatches = 0;
      h.startStepMs = NaN;
      h.lost = 0;
      const done = new Promise<void>((res) => (h.done = res));
      const timeoutMs = mode === 'engine' ? 600_000 : 60_000;
      const timeout = sleep(timeoutMs).then(() => 'timeout' as const);
      const profiling = await startRoundProfile();
      if (mode === 'gateway') {
        for (let i = 0; i < n; i++) h.index.set(actionId('r-bench', r, agentId(i), 1), i);
        h.t0 = performance.now();
        let sent = 0;
        for (let i = 0; i < n; i++) {
          const ok = core.dispatch!(agentId(i), {
            actionId: actionId('r-bench', r, agentId(i), 1),
            runId: 'r-bench',
            stepIndex: r,
            attempt: 1,
            ops: PROBE,
          });
          if (ok) sent++;
        }
        h.expected = sent;
        notSent.push(n - sent);
      } else {
        const plan = probePlan(n);
        h.t0 = performance.now();
        const runId = `r-fanout-${r}`;
        nextRunId = runId;
        for (let i = 0; i < n; i++) h.index.set(actionId(runId, 0, agentId(i), 1), i);
        await core.engine!.createRun(plan, 'bench');
      }
      if ((await Promise.race([done, timeout])) === 'timeout') {
        throw new Error(
          `${mode} round ${r}: ${h.accepted} of ${n} acknowledged within ${timeoutMs / 1000} s`,
        );
      }
      roundMs.push(performance.now() - h.t0);
      await profiling?.(`fanout-${mode}-${n}-round${r}`);
      const lat = Array.from(h.acks).filter((x) => !Number.isNaN(x));
      all.push(...lat);
      lastAck.push(Math.max(...lat));
      dispatched.push([h.firstDispatch, h.lastDispatch, h.dispatches, h.startStepMs, h.lost]);
      await sleep(500);
    }
    const k = `${n} agents${mode === 'engine' ? ', via engine + PostgreSQL' : ''}`;
    const target = TARGET_P99_MS[n];
    const p99: Omit<Figure, 'target' | 'meets'> = {
      bench: 'fanout',
      case: `${k}: ack latency p99`,
      value: round(percentile(all, 99), 1),
      unit: 'ms',
      note:
        `over ${rounds} rounds × ${n} agents` +
        (awayAtStart.some((x) => x > 0)
          ? `; agents held lost at the start of a round: ${awayAtStart.join(', ')}`
          : '') +
        (notSent.some((x) => x > 0)
          ? `; NOT sent (held lost when the round began, so left out): ${notSent.join(', ')} agents per round`
          : ''),
    };
    return [
      { bench: 'fanout', case: `${k}: ack latency p50`, value: round(percentile(all, 50), 1), unit: 'ms' },
      target ? atMost(p99, target, `≤ ${target / 1000} s`) : p99,
      {
        bench: 'fanout',
        case: `${k}: until every agent acknowledged`,
        value: round(median(lastAck), 1),
        unit: 'ms',
        note:
          `median of ${rounds} rounds (max ${round(Math.max(...lastAck), 1)} ms); whole round incl. SUCCEEDED ` +
          `${round(median(roundMs), 0)} ms; the ${n} agents connected in ${round(connectMs / 1000, 1)} s` +
          ` (Hellos handled ${round(settleMs / 1000, 1)} s later)` +
          (mode === 'engine'
            ? `; per round: first dispatch … last dispatch … last ACCEPTED (dispatch calls; startStep; agents called lost) ` +
              dispatched
                .map(
                  ([a, b, c, d, e], i) =>
                    `${round(a, 0)}…${round(b, 0)}…${round(lastAck[i]!, 0)} ms (${c}; ${round(d, 0)} ms; ${e})`,
                )
                .join(', ')
            : ''),
      },
    ];
  } finally {
    await pool.close();
    await core.stop();
  }
}

/**
 * Command fan-out: the coordinator's agent gateway in this process and N simulated agents in worker
 * processes; a round sends one RunAction to every agent and records when each ACCEPTED arrives.
 */
export async function benchFanout(opts: FanoutOptions): Promise<BenchResult> {
  const figures: Figure[] = [];
  for (const n of opts.sizes) {
    figures.push(...(await fanout(n, opts.rounds, 'gateway')));
    // Through the engine, every update re-reads all of the step's actions (see the method): past a
    // couple of thousand agents a round takes minutes, so larger sizes are not run that way.
    if (opts.engine && n <= ENGINE_MAX)
      figures.push(...(await fanout(n, Math.min(opts.rounds, 2), 'engine')));
  }
  return {
    figures,
    method:
      "Gateway level: the coordinator's createAgentGateway() (real gRPC server; engine memory store for " +
      'the fleet) in the bench process, N simulated agents in worker processes, each on its own channel. A ' +
      'round calls gateway.bus.dispatch() for every agent (one RunAction with a probe op) and records, per ' +
      'agent, the time from the start of the round to its ACCEPTED reaching onActionUpdate (agents answer ' +
      'ACCEPTED then SUCCEEDED at once). ' +
      (opts.engine
        ? 'Via engine: the whole coordinator in the bench process, createCoordinator() as main.ts starts it ' +
          '(embedded PostgreSQL, run leases, plaintext agent streams), its store and bus timed through its ' +
          'taps; a round is engine.createRun() of a one-step plan probing every server, timed ' +
          'from createRun to each ACCEPTED (the engine persists the step and its actions, then dispatches ' +
          'them one by one, each with its own UPDATE; every update it receives re-evaluates the run and reads ' +
          `all of the step's actions, so a round is quadratic in the fleet: run up to ${ENGINE_MAX} agents).`
        : 'Add --engine to time the same fan-out through the engine and PostgreSQL.'),
  };
}
