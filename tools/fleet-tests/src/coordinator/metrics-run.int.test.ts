// Metrics during a real rollout (issue 16 item 3): a fleet of two web servers behind a real HAProxy
// rolls an edition out; afterwards the coordinator's /metrics counts the actions that succeeded,
// the steps and phases it timed and the load-balancer exchanges, and each agent's /metrics the
// bytes it staged and the ops it timed. Both pass `promtool check metrics`.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  behindHaproxy,
  freePort,
  waitFor,
  runSucceeded,
  startFleet,
  type Fleet,
  type FleetHaproxy,
} from '@rollgate/demo-fleet';

const AGENTS = ['web-1', 'web-2'] as const;

function promtoolCheck(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      '/usr/bin/promtool',
      ['check', 'metrics'],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(text);
  });
}

/** Sum of every sample of `name` (all label sets) in a text exposition. */
function total(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('metrics during a rollout (issue 16 item 3)', () => {
  let dir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  const metricsPorts = new Map<string, number>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-metrics-run-'));
    for (const id of AGENTS) metricsPorts.set(id, await freePort());
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      agents: AGENTS.map((id) => ({ id, role: 'web' })),
      agentConfig: (a, config) => ({ ...config, metrics: { port: metricsPorts.get(a.id)! } }),
    });
    lb = await behindHaproxy(fleet);
  });

  afterAll(async () => {
    await lb?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('after a rollout the coordinator counts succeeded actions, step and phase durations and LB operations; the agents count bytes staged and op durations; promtool accepts both', async () => {
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    await runSucceeded(fleet, view.run.id);

    // Step and phase durations are sampled just after the step's write, off the engine's path.
    const coordinator = await waitFor(
      'every step of the run timed in /metrics',
      async () => {
        const text = await (await fetch(`${fleet.url}/metrics`)).text();
        return total(text, 'rollgate_step_duration_seconds_count') >= view.steps.length ? text : null;
      },
      30_000,
    );
    expect(total(coordinator, 'rollgate_actions_total')).toBeGreaterThan(0);
    expect(coordinator).toMatch(/^rollgate_actions_total\{result="succeeded"\} [1-9]/m);
    expect(total(coordinator, 'rollgate_step_duration_seconds_count')).toBeGreaterThanOrEqual(
      view.steps.length,
    );
    expect(total(coordinator, 'rollgate_phase_duration_seconds_count')).toBeGreaterThan(0);
    expect(coordinator).toMatch(/^rollgate_lb_operations_total\{result="ok"\} [1-9]/m);
    expect(coordinator).toMatch(/^rollgate_runs\{state="succeeded"\} [1-9]/m);
    expect(coordinator).toMatch(/^rollgate_log_lines_ingested_total\{source="agent"\} [1-9]/m);
    expect(coordinator).toContain('rollgate_agents_connected 2');
    expect(coordinator).toContain('rollgate_servers_out_of_rotation 0');
    expect(coordinator).toMatch(
      /^rollgate_api_request_duration_seconds_count\{procedure="editions.rollout",status="2xx"\} 1$/m,
    );
    expect(coordinator).not.toContain(view.run.id);
    expect(coordinator).not.toContain('web-1');
    const checked = await promtoolCheck(coordinator);
    expect(checked.out).toBe('');
    expect(checked.code).toBe(0);

    for (const id of AGENTS) {
      const agent = await (await fetch(`http://127.0.0.1:${metricsPorts.get(id)}/metrics`)).text();
      expect(total(agent, 'rollgate_agent_bytes_staged_total')).toBeGreaterThan(0);
      expect(total(agent, 'rollgate_agent_op_duration_seconds_count')).toBeGreaterThan(0);
      expect(agent).toContain('rollgate_agent_gate_open 1');
      expect(agent).toContain('rollgate_agent_service_health{service="demo-app",state="healthy"} 1');
      const agentChecked = await promtoolCheck(agent);
      expect(agentChecked.out).toBe('');
      expect(agentChecked.code).toBe(0);
    }
  });
});
