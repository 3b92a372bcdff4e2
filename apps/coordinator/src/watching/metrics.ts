// The coordinator's Prometheus metrics (issue 16 item 3, docs/adr/0030): one registry per process,
// created in main.ts and passed to what records into it. Labels take values from closed sets only
// (run, step and action statuses, plan phases, tRPC procedure names): never a run or server id.
import type { ActionStatus, Phase, RunStatus, StepStatus } from '@rollgate/domain';
import type { EngineStore } from '@rollgate/engine';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const RUN_STATES: readonly RunStatus[] = [
  'pending',
  'running',
  'paused',
  'waiting-approval',
  'succeeded',
  'failed',
  'aborted',
];
const ACTION_RESULTS: readonly ActionStatus[] = ['succeeded', 'failed', 'cancelled', 'skipped'];
const STEP_RESULTS: readonly StepStatus[] = ['succeeded', 'failed', 'skipped'];
/** Buckets for steps and phases: seconds to hours (a database upgrade step may take an hour). */
const LONG_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Read on every scrape; each answers from one small query or from memory. */
export interface CoordinatorGauges {
  /** Runs per status (SELECT status, count(*) … GROUP BY status). */
  runsByState(): Promise<Partial<Record<string, number>>>;
  /** Servers the engine took out of rotation and has not put back (open ledger entries). */
  serversOutOfRotation(): Promise<number>;
  /** Agent streams held by this coordinator. */
  agentsConnected(): number;
  /** The log writer: lines waiting in memory and lines persisted so far. */
  logWriter(): { buffered: number; written: number };
  /** Whether /readyz would answer 200 (database reachable and migrated); default: not exported. */
  ready?(): Promise<boolean>;
}

/** A database read slower than this leaves its gauge out of the scrape, ms. */
const GAUGE_TIMEOUT_MS = 2000;

/**
 * The value, or null when it failed or took too long: a scrape while the database is down still
 * answers, with the database's gauges left out (no stale value) and `rollgate_ready 0`.
 */
async function orNull<T>(read: () => Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), GAUGE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([read().catch(() => null), late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CoordinatorMetricsOptions {
  gauges: CoordinatorGauges;
  /** Also export Node's process metrics (CPU, memory, event-loop lag) as `rollgate_coordinator_process_*`; default true. */
  processMetrics?: boolean;
}

export type CoordinatorMetrics = ReturnType<typeof createCoordinatorMetrics>;

/** Builds the registry with every coordinator metric; `gauges` are read at scrape time. */
export function createCoordinatorMetrics(opts: CoordinatorMetricsOptions) {
  const registry = new Registry();
  if (opts.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'rollgate_coordinator_' });
    // prom-client names three gauges `*_total` (active handles, requests, resources), which
    // `promtool check metrics` flags: a gauge must not look like a counter. Left out.
    for (const m of registry.getMetricsAsArray())
      if (m.name.endsWith('_total') && !(m instanceof Counter)) registry.removeSingleMetric(m.name);
  }
  const g = opts.gauges;

  new Gauge({
    name: 'rollgate_runs',
    help: 'Runs by state (all runs the database holds).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await orNull(() => g.runsByState());
      this.reset();
      if (counts) for (const state of RUN_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  new Gauge({
    name: 'rollgate_servers_out_of_rotation',
    help: 'Servers a run took out of rotation and has not put back yet.',
    registers: [registry],
    async collect() {
      const n = await orNull(() => g.serversOutOfRotation());
      this.reset();
      if (n !== null) this.set(n);
    },
  });
  const ready = g.ready;
  if (ready) {
    new Gauge({
      name: 'rollgate_ready',
      help: 'Whether the coordinator is ready (1: database reachable and migrated, as /readyz) or not (0).',
      registers: [registry],
      async collect() {
        this.set((await orNull(ready)) ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: 'rollgate_agents_connected',
    help: 'Agents whose stream this coordinator holds.',
    registers: [registry],
    collect() {
      this.set(g.agentsConnected());
    },
  });
  new Gauge({
    name: 'rollgate_log_writer_lag_lines',
    help: 'Log lines accepted but not yet stored in the database (the writer lag).',
    registers: [registry],
    collect() {
      this.set(g.logWriter().buffered);
    },
  });
  new Counter({
    name: 'rollgate_log_lines_stored_total',
    help: 'Log lines the writer stored in the database.',
    registers: [registry],
    collect() {
      // A counter that mirrors the writer's own monotonic count.
      this.reset();
      this.inc(g.logWriter().written);
    },
  });

  const agentsLost = new Counter({
    name: 'rollgate_agents_lost_total',
    help: 'Agents declared lost (stream closed or heartbeat missed).',
    registers: [registry],
  });
  const logLines = new Counter({
    name: 'rollgate_log_lines_ingested_total',
    help: 'Log lines received from agents and the engine, before storage.',
    labelNames: ['source'],
    registers: [registry],
  });
  const actions = new Counter({
    name: 'rollgate_actions_total',
    help: 'Actions that reached an end state, by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'rollgate_step_duration_seconds',
    help: 'How long a plan step took, from start to its end state, by phase and result.',
    labelNames: ['phase', 'result'],
    buckets: LONG_BUCKETS,
    registers: [registry],
  });
  const phases = new Histogram({
    name: 'rollgate_phase_duration_seconds',
    help: "How long a run's phase took, from its first step's start to its last step's end.",
    labelNames: ['phase'],
    buckets: LONG_BUCKETS,
    registers: [registry],
  });
  const lbOps = new Counter({
    name: 'rollgate_lb_operations_total',
    help: 'Runtime-API exchanges with a load balancer, by result (ok, unreachable, error).',
    labelNames: ['result'],
    registers: [registry],
  });
  const api = new Histogram({
    name: 'rollgate_api_request_duration_seconds',
    help: 'tRPC API calls, by procedure (or "batch", "other") and HTTP status class.',
    labelNames: ['procedure', 'status'],
    buckets: API_BUCKETS,
    registers: [registry],
  });
  for (const result of ACTION_RESULTS) actions.inc({ result }, 0);
  for (const result of ['ok', 'unreachable', 'error']) lbOps.inc({ result }, 0);

  return {
    registry,
    agentLost: () => agentsLost.inc(),
    logLines: (source: 'agent' | 'coordinator', n: number) => logLines.inc({ source }, n),
    actionEnded(status: ActionStatus) {
      if (ACTION_RESULTS.includes(status)) actions.inc({ result: status });
    },
    stepEnded(phase: Phase, status: StepStatus, seconds: number) {
      if (STEP_RESULTS.includes(status) && seconds >= 0) steps.observe({ phase, result: status }, seconds);
    },
    phaseEnded: (phase: Phase, seconds: number) => seconds >= 0 && phases.observe({ phase }, seconds),
    lbOperation: (result: 'ok' | 'unreachable' | 'error') => lbOps.inc({ result }),
    apiCall: (procedure: string, status: number, seconds: number) =>
      api.observe({ procedure, status: `${Math.floor(status / 100)}xx` }, seconds),
  };
}

/**
 * The store as the engine uses it, recording action results and step and phase durations as they
 * are written. The durations are read back from the store after the write (the step's start, the
 * plan's phases), off the engine's path: a failed read loses one sample, never a write.
 */
export function storeWithMetrics<S extends EngineStore>(store: S, metrics: CoordinatorMetrics): S {
  async function stepFinished(runId: string, index: number, status: StepStatus, finishedAt: number) {
    const [run, steps] = await Promise.all([store.getRun(runId), store.getSteps(runId)]);
    const planned = run?.plan.steps;
    const step = planned?.[index];
    const record = steps.find((s) => s.index === index);
    if (!planned || !step || record?.startedAt == null) return;
    metrics.stepEnded(step.phase, status, (finishedAt - record.startedAt) / 1000);
    // The phase ended when its last step did (the plan keeps a phase's steps together).
    if (status !== 'succeeded' && status !== 'skipped') return;
    if (planned[index + 1]?.phase === step.phase) return;
    const starts = planned
      .filter((p) => p.phase === step.phase)
      .map((p) => steps.find((s) => s.index === p.index)?.startedAt)
      .filter((t): t is number => typeof t === 'number');
    if (starts.length > 0) metrics.phaseEnded(step.phase, (finishedAt - Math.min(...starts)) / 1000);
  }

  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'updateAction') {
        const updateAction: EngineStore['updateAction'] = async (id, from, patch, fence, opts) => {
          const updated = await target.updateAction(id, from, patch, fence, opts);
          if (updated && patch.status) metrics.actionEnded(patch.status);
          return updated;
        };
        return updateAction;
      }
      if (prop === 'updateStep') {
        const updateStep: EngineStore['updateStep'] = async (runId, index, patch, fence) => {
          await target.updateStep(runId, index, patch, fence);
          if (patch.status && typeof patch.finishedAt === 'number') {
            stepFinished(runId, index, patch.status, patch.finishedAt).catch(() => undefined);
          }
        };
        return updateStep;
      }
      if (prop === 'completeStep' && target.completeStep) {
        const complete = target.completeStep.bind(target);
        const completeStep: NonNullable<EngineStore['completeStep']> = async (c, fence) => {
          const updated = await complete(c, fence);
          if (updated) stepFinished(c.runId, c.index, 'succeeded', c.finishedAt).catch(() => undefined);
          return updated;
        };
        return completeStep;
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
