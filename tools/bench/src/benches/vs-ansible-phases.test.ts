import { describe, expect, it } from 'vitest';
import type { RunView } from '@rollgate/api';
import type { StoredLog } from '@rollgate/engine';
import { intrinsicFromSvcLog, type ServerIntrinsic } from './vs-ansible-fleet';
import { phasesFromRun } from './vs-ansible-phases';

const T = 1_000_000;

function log(at: number, code: string, message: string, extra: Partial<StoredLog> = {}): StoredLog {
  return {
    id: at,
    runId: 'r1',
    actionId: null,
    serverId: null,
    stepIndex: 1,
    at: T + at,
    level: 'info',
    code,
    message,
    source: 'engine',
    ...extra,
  };
}

/** A run of one prepare step and one group step (s1), as the API's view shapes it. */
function view(groupStart: number, groupEnd: number, runEnd: number): RunView {
  const step = (index: number, kind: string, start: number, end: number, leaves: string[]) => ({
    index,
    kind,
    startedAt: T + start,
    finishedAt: T + end,
    leavesRotation: leaves,
    rejoinsRotation: leaves,
    actions: [],
  });
  return {
    run: { startedAt: T, finishedAt: T + runEnd },
    steps: [step(0, 'prepare', 10, 500, []), step(1, 'upgrade', groupStart, groupEnd, ['s1'])],
  } as unknown as RunView;
}

const svc: ServerIntrinsic = {
  stopS: 0.002,
  startToReadyS: 1.1,
  sigtermAt: null,
  startAt: null,
  readyAt: null,
};

describe('vs-ansible phases', () => {
  it('splits a runtime group by the engine timing line: LB, drain, the service, and the rest as the engine share', () => {
    const timing = {
      v: 1,
      step: 1,
      totalMs: 1900,
      lbMs: 30,
      drainMs: 70,
      agentMs: 1500,
      readmitMs: 100,
      engineMs: 200,
    };
    const logs = [log(1900, 'RG0119I', `Roll out: lb 30 ms, … | ${JSON.stringify(timing)}`)];
    const p = phasesFromRun(view(500, 2400, 2500), logs, [svc], ['s1'], {
      cliStart: T - 300,
      cliEnd: T + 2700,
    });
    const g = p.perGroup[0]!;
    expect(p.source).toMatch(/timing lines/);
    expect(g.window).toBeCloseTo(2.0, 3); // 500 → run end 2500
    expect(g['LB reaction']).toBeCloseTo(0.03, 3);
    expect(g.drain).toBeCloseTo(0.07, 3);
    expect(g['re-admission']).toBeCloseTo(0.1, 3);
    expect(g.engine).toBeCloseTo(2.0 - 0.03 - 0.07 - 0.002 - 1.1, 3);
    expect(g.agentOverhead).toBeCloseTo(1.5 - 0.002 - 1.1, 3);
    expect(p.totals['CLI start']).toBeCloseTo(0.3, 3);
    expect(p.totals['CLI end']).toBeCloseTo(0.2, 3);
    expect(p.totals.staging).toBeCloseTo(0.49, 3);
  });

  it("counts gate-only's agent drain op as the LB's reaction when the timing line has no LB time", () => {
    const timing = {
      v: 1,
      step: 1,
      totalMs: 3000,
      lbMs: 0,
      drainMs: 0,
      agentMs: 2800,
      readmitMs: 0,
      engineMs: 200,
    };
    const readmitting = { ...timing, totalMs: 4000, engineMs: 150, readmitMs: 1050 };
    const agent = { source: 'agent' as const, serverId: 's1' };
    const logs = [
      log(600, 'RG0100I', 'op started: op 2/8: drain svc (up to 5 s)', agent),
      log(1400, 'RG0101I', 'op succeeded: op 2/8: drain svc (up to 5 s) — drained', agent),
      log(3500, 'RG0119I', `… | ${JSON.stringify(timing)}`),
    ];
    const g = phasesFromRun(view(500, 3500, 3600), logs, [svc], ['s1'], { cliStart: T, cliEnd: T + 3600 })
      .perGroup[0]!;
    expect(g['LB reaction']).toBeCloseTo(0.8, 3);
    expect(g.drain).toBe(0);
    expect(g.agentOverhead).toBeCloseTo(2.8 - 0.8 - 0.002 - 1.1, 3);
    // The wait for the LB's rise checks after the gate opened is its reaction too, not the engine's.
    const logs2 = [...logs.slice(0, 2), log(4500, 'RG0119I', `… | ${JSON.stringify(readmitting)}`)];
    const g2 = phasesFromRun(view(500, 4500, 4600), logs2, [svc], ['s1'], { cliStart: T, cliEnd: T + 4600 })
      .perGroup[0]!;
    expect(g2['LB reaction']).toBeCloseTo(0.8 + 1.05, 3);
    expect(g2.engine).toBeCloseTo(4.1 - 1.85 - 0.002 - 1.1, 3);
  });

  it('falls back to the run log timestamps when the engine writes no timing line', () => {
    const logs = [
      log(540, 'RG0110I', 's1 set to drain at the load balancer'),
      log(600, 'RG0111I', 's1 drained in 0.1 s', { serverId: 's1' }),
      log(2000, 'RG0101I', 'op succeeded: op 6/7: wait until svc is healthy', {
        source: 'agent',
        serverId: 's1',
      }),
      log(2300, 'RG0061I', 'gate opened: s1', { serverId: 's1' }),
    ];
    const p = phasesFromRun(view(500, 2350, 2400), logs, [svc], ['s1'], { cliStart: T, cliEnd: T + 2400 });
    const g = p.perGroup[0]!;
    expect(p.source).toMatch(/run log timestamps/);
    expect(g['LB reaction']).toBeCloseTo(0.04, 3);
    expect(g.drain).toBeCloseTo(0.06, 3);
    expect(g['re-admission']).toBeCloseTo(0.3, 3);
  });
});

describe('svc.js log', () => {
  it("takes the stopped process's exit − SIGTERM and the started one's ready − kernel start within the window", () => {
    const lines = [
      { ev: 'start', t: 100, pid: 1, proc_start: 90, edition: '1.0' },
      { ev: 'ready', t: 1100, pid: 1 },
      { ev: 'sigterm', t: 5000, pid: 1 },
      { ev: 'exit', t: 5003, pid: 1 },
      { ev: 'start', t: 5200, pid: 2, proc_start: 5150, edition: '2.0' },
      { ev: 'ready', t: 6300, pid: 2 },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const r = intrinsicFromSvcLog(`${lines}\nnot json\n`, 4000, 7000);
    expect(r.stopS).toBeCloseTo(0.003, 6);
    expect(r.startToReadyS).toBeCloseTo(1.15, 6);
    expect(r.startAt).toBe(5150);
  });
});
