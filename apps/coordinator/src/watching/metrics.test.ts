// Unit tests of the coordinator's metrics (issue 16 item 3): what the store wrapper records as the
// engine writes and readiness's reasons (the gRPC health messages' codec is tested in packages/protocol).
import type { Plan } from '@rollgate/domain';
import { createMemoryStore, type RunRecord, type StepRecord } from '@rollgate/engine';
import { describe, expect, it } from 'vitest';
import { createCoordinatorMetrics, storeWithMetrics } from './metrics';
import { createReadiness } from './readiness';

const gauges = {
  runsByState: async () => ({ paused: 2 }),
  serversOutOfRotation: async () => 3,
  agentsConnected: () => 4,
  logWriter: () => ({ buffered: 5, written: 6 }),
};

function run(id: string, phases: string[]): { run: RunRecord; steps: StepRecord[] } {
  const plan = { steps: phases.map((phase, index) => ({ index, phase })) } as unknown as Plan;
  return {
    run: {
      id,
      kind: 'upgrade',
      status: 'running',
      plan,
      currentStep: 0,
      failure: null,
      createdBy: 'test',
      createdAt: 0,
      startedAt: 0,
      finishedAt: null,
      version: 1,
      scheduledAt: null,
      options: {},
      readiness: [],
      excluded: [],
      proposal: null,
      parentRunId: null,
    } as unknown as RunRecord,
    steps: phases.map((_, index) => ({
      runId: id,
      index,
      status: 'pending',
      attempt: 0,
      startedAt: null,
      finishedAt: null,
      error: null,
    })),
  };
}

const value = async (m: ReturnType<typeof createCoordinatorMetrics>, name: string) =>
  (await m.registry.getSingleMetric(name)!.get()).values;

describe('coordinator metrics (issue 16 item 3)', () => {
  it('reads the gauges at scrape time: runs by every state (0 when absent), out of rotation, agents, writer lag', async () => {
    const m = createCoordinatorMetrics({ gauges, processMetrics: false });
    const text = await m.registry.metrics();
    expect(text).toContain('rollgate_runs{state="paused"} 2');
    expect(text).toContain('rollgate_runs{state="waiting-approval"} 0');
    expect(text).toContain('rollgate_servers_out_of_rotation 3');
    expect(text).toContain('rollgate_agents_connected 4');
    expect(text).toContain('rollgate_log_writer_lag_lines 5');
    expect(text).toContain('rollgate_log_lines_stored_total 6');
  });

  it('records action results and step and phase durations as the store is written, with phase and result labels only', async () => {
    const m = createCoordinatorMetrics({ gauges, processMetrics: false });
    const store = storeWithMetrics(createMemoryStore(), m);
    const { run: r, steps } = run('r-20261206000000-abcdef', [
      'preparation',
      'upgrade',
      'upgrade',
      'verification',
    ]);
    await store.createRun(r, steps);
    await store.updateStep(r.id, 0, { status: 'running', startedAt: 1_000 });
    await store.updateStep(r.id, 0, { status: 'succeeded', finishedAt: 4_000 });
    await store.updateStep(r.id, 1, { status: 'running', startedAt: 5_000 });
    await store.updateStep(r.id, 1, { status: 'succeeded', finishedAt: 15_000 });
    await store.updateStep(r.id, 2, { status: 'running', startedAt: 15_000 });
    await store.updateStep(r.id, 2, { status: 'failed', finishedAt: 75_000 });
    // The samples are taken off the write path: wait until they are in.
    for (let i = 0; i < 100; i++) {
      const counts = (await value(m, 'rollgate_step_duration_seconds')).filter((v) =>
        (v as { metricName?: string }).metricName?.endsWith('_count'),
      );
      if (counts.reduce((a, v) => a + v.value, 0) === 3) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    const text = await m.registry.metrics();
    expect(text).toContain('rollgate_step_duration_seconds_sum{phase="preparation",result="succeeded"} 3');
    expect(text).toContain('rollgate_step_duration_seconds_sum{phase="upgrade",result="succeeded"} 10');
    expect(text).toContain('rollgate_step_duration_seconds_sum{phase="upgrade",result="failed"} 60');
    // Preparation ended with its only step; upgrade did not end (its last step failed).
    expect(text).toContain('rollgate_phase_duration_seconds_sum{phase="preparation"} 3');
    expect(text).not.toContain('rollgate_phase_duration_seconds_sum{phase="upgrade"}');
    expect(text).not.toContain(r.id);

    m.actionEnded('succeeded');
    m.actionEnded('running');
    m.lbOperation('unreachable');
    m.apiCall('runs.list', 200, 0.02);
    m.agentLost();
    const after = await m.registry.metrics();
    expect(after).toContain('rollgate_actions_total{result="succeeded"} 1');
    expect(after).not.toContain('result="running"');
    expect(after).toContain('rollgate_lb_operations_total{result="unreachable"} 1');
    expect(after).toContain(
      'rollgate_api_request_duration_seconds_count{procedure="runs.list",status="2xx"} 1',
    );
    expect(after).toContain('rollgate_agents_lost_total 1');
  });
});

describe("storeWithMetrics and the engine's one-commit step end (docs/adr/0050)", () => {
  it('issue 18: a step ended by completeStep is timed as one ended by updateStep, and an agent report keeps its lazy commit', async () => {
    const m = createCoordinatorMetrics({ gauges, processMetrics: false });
    const base = createMemoryStore();
    const lazy: unknown[] = [];
    const updateAction = base.updateAction.bind(base);
    const store = storeWithMetrics(
      {
        ...base,
        updateAction: (id, from, patch, fence, opts) => (
          lazy.push(opts),
          updateAction(id, from, patch, fence, opts)
        ),
      },
      m,
    );
    const { run: r, steps } = run('r-20261207000000-abcdef', ['preparation', 'upgrade']);
    await store.createRun(r, steps);
    await store.updateStep(r.id, 0, { status: 'running', startedAt: 1_000 });
    const next = await store.completeStep!({
      runId: r.id,
      index: 0,
      finishedAt: 3_500,
      reopen: [],
      expectedVersion: r.version,
      runPatch: { currentStep: 1 },
    });
    expect(next).toMatchObject({ currentStep: 1 });
    let text = '';
    for (let i = 0; i < 100 && !text.includes('result="succeeded"} 2.5'); i++) {
      await new Promise((res) => setTimeout(res, 10));
      text = await m.registry.metrics();
    }
    expect(text).toContain('rollgate_step_duration_seconds_sum{phase="preparation",result="succeeded"} 2.5');
    await store.updateAction('none', ['running'], { status: 'succeeded' }, undefined, { lazyCommit: true });
    expect(lazy).toEqual([{ lazyCommit: true }]);
  });
});

describe('readiness (issue 16 item 3)', () => {
  const folder = new URL('../../../../packages/db/migrations', import.meta.url).pathname;

  it('names a failed database check without the connection string, and a missing migrations folder', async () => {
    const down = createReadiness({
      migrationsFolder: folder,
      pool: () => ({
        query: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
      }),
    });
    expect(await down.check()).toEqual({
      ready: false,
      reason: 'database unreachable: connect ECONNREFUSED 127.0.0.1:5432',
    });
    const slow = createReadiness({
      migrationsFolder: folder,
      timeoutMs: 20,
      pool: () => ({ query: () => new Promise(() => undefined) }),
    });
    expect(await slow.check()).toEqual({
      ready: false,
      reason: 'database unreachable: the database did not answer within 20 ms',
    });
    const nowhere = createReadiness({
      migrationsFolder: '/nonexistent',
      pool: () => ({ query: async () => ({ rows: [{ last: null }] }) }),
    });
    const r = await nowhere.check();
    expect(r.ready).toBe(false);
    expect(!r.ready && r.reason).toMatch(/^cannot read this build's migrations: /);
  });

  it('is not ready on a database with no migration table, ready when it holds the newest', async () => {
    const fresh = createReadiness({
      migrationsFolder: folder,
      pool: () => ({ query: async () => ({ rows: [{ last: null }] }) }),
    });
    const r = await fresh.check();
    expect(!r.ready && r.reason).toMatch(/^database migrations pending: this build's newest is \d{4}_/);
    const migrated = createReadiness({
      migrationsFolder: folder,
      pool: () => ({ query: async () => ({ rows: [{ last: String(Number.MAX_SAFE_INTEGER) }] }) }),
    });
    expect(await migrated.check()).toEqual({ ready: true });
  });
});
