// Load-balancer gating, measured through a real HAProxy in front of the demo fleet:
// 1. how long after a server leaves rotation HAProxy still sends it new requests, with the runtime
//    API (the engine sets `drain`) and gate-only (HAProxy's own checks on /gate and agent-check);
// 2. a whole rolling upgrade's wall time against the time its actions took (the engine's overhead).
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
import { createHaproxyRuntime, type HaproxyRuntime } from '@rollgate/lb';
import { createLoadGenerator, freePort, startHaproxyOnFreePort } from '@rollgate/lb/testing';
import { median, round, type BenchResult, type Figure } from '../lib/figures';
import { onCleanup } from '../lib/proc';

export interface LbBenchOptions {
  /** Background load through HAProxy while measuring, req/s; default 400. */
  rate: number;
}

/** Polls `stot` of every server and remembers when each last grew. */
function watchSessions(runtime: HaproxyRuntime, backend: string) {
  const lastGrowth = new Map<string, number[]>();
  const prev = new Map<string, number>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const now = Date.now();
      for (const row of await runtime.serverStats(backend)) {
        const before = prev.get(row.name);
        if (before !== undefined && row.stot > before) {
          const list = lastGrowth.get(row.name) ?? [];
          list.push(now);
          lastGrowth.set(row.name, list);
        }
        prev.set(row.name, row.stot);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    /** Time of the last new session of `server` in [from, to], or null. */
    lastNewSession(server: string, from: number, to: number): number | null {
      const hits = (lastGrowth.get(server) ?? []).filter((t) => t >= from && t <= to);
      return hits.length > 0 ? hits[hits.length - 1]! : null;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

async function rollout(fleet: Fleet, edition: string) {
  const started = await fleet.api.upgrade.start.mutate({
    cluster: 'demo',
    app: 'demo-app',
    edition,
    drainageIntervalSec: 10,
    signOff: false,
  });
  const runId = started.run.id;
  const view = await waitFor(
    `run ${runId}`,
    async () => {
      const s = await fleet.api.upgrade.status.query({ runId });
      if (s.run.status === 'paused') throw new Error(`run paused: ${s.run.failure}`);
      return s.run.status === 'succeeded' ? s : null;
    },
    300_000,
    100,
  );
  const wall = (view.run.finishedAt ?? 0) - (view.run.startedAt ?? 0);
  // The work itself: per step, the slowest server's action (they run in parallel).
  let work = 0;
  for (const step of view.steps) {
    const durations = step.actions
      .filter((a) => a.status === 'succeeded' && a.dispatchedAt !== null && a.finishedAt !== null)
      .map((a) => a.finishedAt! - a.dispatchedAt!);
    if (durations.length > 0) work += Math.max(...durations);
  }
  return { runId, wall, work, steps: view.steps.length };
}

export async function benchLb(opts: LbBenchOptions): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-bench-lb-'));
  await chmod(dir, 0o755);
  const fleet = await startFleet({ dir, heartbeatMs: 1000, editions: ['1.0', '2.0', '2.1'] });
  onCleanup('lb fleet', () => fleet.stop());
  const socketPath = join(dir, 'haproxy.sock');
  const checkIntervalMs = 1000;
  const agentInterMs = 500;
  const { haproxy, port } = await startHaproxyOnFreePort(
    (p) =>
      fleet.api.lb.haproxyConfig.query({
        cluster: 'demo',
        backend: 'demo',
        bind: `127.0.0.1:${p}`,
        socketPath,
        checkIntervalMs,
      }),
    freePort,
  );
  const front = `127.0.0.1:${port}`;
  onCleanup('haproxy', () => haproxy.stop());
  const runtime = createHaproxyRuntime({ socketPath });
  await waitFor(
    'HAProxy to see the fleet up',
    async () => (await runtime.serverStats('demo')).every((r) => r.status === 'UP'),
    30_000,
    200,
  );
  const load = createLoadGenerator({ url: `http://${front}/`, ratePerSec: opts.rate, keepAlive: true });
  load.start();
  const sessions = watchSessions(runtime, 'demo');
  const figures: Figure[] = [];

  // 1b + 2. Rollouts: gate-only first, then through the runtime API.
  const base = { backend: 'demo', checkIntervalMs, fall: 2, rise: 2, agentInterMs };
  for (const [mode, edition] of [
    ['gate-only', '2.0'],
    ['haproxy-runtime', '2.1'],
  ] as const) {
    await fleet.api.lb.configure.mutate({
      cluster: 'demo',
      config: { mode, ...base, ...(mode === 'haproxy-runtime' ? { runtime: { socketPath } } : {}) },
    });
    const r = await rollout(fleet, edition);
    // Leaving rotation: when the engine set drain (runtime) or the agent closed its gate (gate-only),
    // then HAProxy's last new session for that server before the agent started stopping it.
    const logs = await fleet.api.upgrade.logs.query({ runId: r.runId, limit: 5000 });
    const lags: number[] = [];
    for (const agent of fleet.agents) {
      const starts = logs.filter((l) =>
        mode === 'gate-only'
          ? l.code === 'RG0110I' && l.source === 'agent' && l.serverId === agent.id
          : l.code === 'RG0110I' && l.source === 'engine' && l.message.includes(agent.id),
      );
      for (const start of starts) {
        const stopping = logs.find(
          (l) => l.code === 'RG0112I' && l.serverId === agent.id && l.at >= start.at,
        );
        if (!stopping) continue;
        const last = sessions.lastNewSession(agent.id, start.at, stopping.at);
        lags.push(last === null ? 0 : last - start.at);
      }
    }
    figures.push({
      bench: 'lb gating',
      case: `${mode}: leaving rotation → last new request (median)`,
      value: round(median(lags), 0),
      unit: 'ms',
      note: `max ${lags.length ? Math.max(...lags) : NaN} ms over ${lags.length} exits; ${mode === 'gate-only' ? `agent-inter ${agentInterMs} ms, check inter ${checkIntervalMs} ms, fall 2` : 'runtime API drain'}; 0 = none after it`,
    });
    figures.push(
      {
        bench: 'lb gating',
        case: `${mode} rollout of 4 servers: wall time`,
        value: round(r.wall / 1000, 2),
        unit: 's',
        note: `${r.steps} steps, drainage interval 10 s, under ${opts.rate} req/s`,
      },
      {
        bench: 'lb gating',
        case: `${mode} rollout: sum of its actions (drain/stop/install/start/health)`,
        value: round(r.work / 1000, 2),
        unit: 's',
        note: 'per step, the slowest server (servers of a step run in parallel)',
      },
      {
        bench: 'lb gating',
        case: `${mode} rollout: engine and load-balancer overhead`,
        value: round((r.wall - r.work) / 1000, 2),
        unit: 's',
        note: 'wall time minus the actions: dispatch, LB drain/re-admission waits, persistence',
      },
    );
  }
  await sessions.stop();
  const report = await load.stop();
  figures.push({
    bench: 'lb gating',
    case: 'requests failed during all of the above',
    value: report.errors + report.non2xx,
    unit: 'requests',
    note: `of ${report.sent} sent`,
  });
  return {
    figures,
    method:
      'demo fleet (real coordinator, 4 agents, demo-apps) behind a real HAProxy started from `rollgate lb haproxy-config`; HAProxy stot polled every 10 ms; runtime drains via the runtime API directly; gate-only lag from each agent\'s "quiescing" log time; overhead = run wall time − Σ per-step slowest action.',
  };
}
