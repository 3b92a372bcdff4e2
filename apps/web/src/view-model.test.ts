import { describe, expect, it } from 'vitest';
import type { Evidence } from './api-types';
import { NOW, pausedRun } from './testing/fixtures';
import {
  activeEditions,
  agentTone,
  currentStep,
  groupByPhase,
  progressPercent,
  runTone,
  stepEvidence,
  stepFacts,
  stepTone,
} from './view-model';

describe('groupByPhase', () => {
  it('puts consecutive steps of a phase under one banner, in order', () => {
    const groups = groupByPhase(pausedRun().steps);
    expect(groups.map((g) => [g.label, g.steps.map((s) => s.index)])).toEqual([
      ['Service at risk / limited capability', [0, 1, 2, 3]],
      ['Limited service restored', [4]],
      ['Full service restored', [5]],
    ]);
  });
  it('opens a new banner when a phase comes back', () => {
    const steps = pausedRun().steps;
    steps[1]!.phase = 'downtime';
    expect(groupByPhase(steps).map((g) => g.phase)).toEqual([
      'service-at-risk',
      'downtime',
      'service-at-risk',
      'limited-service-restored',
      'full-service-restored',
    ]);
  });
  it('is empty for no steps', () => {
    expect(groupByPhase([])).toEqual([]);
  });
});

describe('tones', () => {
  it('maps every status onto a colour family', () => {
    expect(runTone('succeeded')).toBe('ok');
    expect(runTone('running')).toBe('active');
    expect(runTone('waiting-approval')).toBe('warn');
    expect(runTone('aborted')).toBe('bad');
    expect(runTone('pending')).toBe('idle');
    expect(stepTone('failed')).toBe('bad');
    expect(stepTone('skipped')).toBe('idle');
    expect(agentTone('connected')).toBe('ok');
    expect(agentTone('lost')).toBe('warn');
    expect(agentTone('disconnected')).toBe('bad');
  });
});

describe('run helpers', () => {
  it('finds the current step and the percentage done', () => {
    const view = pausedRun();
    expect(currentStep(view)?.index).toBe(3);
    expect(progressPercent(view)).toBe(50);
    expect(progressPercent({ progress: { done: 0, total: 0 } })).toBe(0);
    expect(progressPercent({ progress: { done: 2, total: 3 } })).toBe(66);
  });
  it('describes a step: group, performers, servers, duration, attempt', () => {
    const [first, , , failed, , signOff] = pausedRun().steps;
    expect(stepFacts(first!, NOW)).toEqual(['group 1', 'engineer', 'admin-1, stream-1', '10s']);
    expect(stepFacts(failed!, NOW)).toEqual(['group 2', 'engineer', 'admin-2, stream-2', '10s', 'attempt 2']);
    expect(stepFacts(signOff!, NOW)).toEqual([
      'customer / administrator',
      "waits for the customer's decision",
    ]);
  });
  it('lists active editions per service', () => {
    expect(activeEditions({ services: [] })).toBe('—');
    expect(
      activeEditions({
        services: [{ name: 'demo-app', installedEditions: [], activeEdition: '2.0', health: 'healthy' }],
      }),
    ).toBe('demo-app 2.0');
  });
});

describe('history and audit helpers', () => {
  it('formats times, run durations and audit details', async () => {
    const { formatTime, runDuration, auditDetails, auditFrom } = await import('./view-model');
    expect(formatTime(Date.UTC(2025, 0, 15, 12, 0, 5))).toBe('2025-01-15 12:00:05Z');
    expect(formatTime(null)).toBe('—');
    expect(runDuration({ createdAt: 0, startedAt: null, finishedAt: null }, 10)).toBe('—');
    expect(runDuration({ createdAt: 0, startedAt: 1000, finishedAt: 66_000 }, 0)).toBe('1m 05s');
    expect(runDuration({ createdAt: 0, startedAt: 1000, finishedAt: null }, 6000)).toBe('5s');
    expect(auditDetails({ comment: 'ok', step: 3, empty: '', obj: { a: 1 } })).toBe(
      'comment=ok · step=3 · obj={"a":1}',
    );
    // Where a change came from has its own column, and is not repeated among the details.
    expect(auditFrom({ from: '10.0.0.5', comment: 'ok' })).toBe('10.0.0.5');
    expect(auditFrom({})).toBe('—');
    expect(auditDetails({ from: '10.0.0.5', comment: 'ok' })).toBe('comment=ok');
  });
});

describe('the evidence view (issue 15 item 4)', () => {
  it('issue 15 item 4: lists every result of a multi-op action in op order and counts each action once', () => {
    const row = (
      actionId: string,
      status: string,
      result: Evidence['steps'][number]['results'][number]['result'],
    ) => ({
      actionId,
      serverId: actionId.split('.')[2]!,
      status,
      finishedAt: 1,
      result,
    });
    const snapshot = { kind: 'command' as const, command: 'snapshot', exitCode: 0, outputTail: '', ms: 30 };
    const migrate = { kind: 'command' as const, command: 'db-upgrade', exitCode: 1, outputTail: 'x', ms: 90 };
    const ev = stepEvidence({
      index: 3,
      key: 'db-upgrade',
      title: 'Upgrade the database',
      results: [
        row('r.s3.db-1.a1', 'failed', snapshot),
        row('r.s3.db-1.a1', 'failed', migrate),
        row('r.s3.app-1.a1', 'succeeded', { ...snapshot, ms: 20 }),
      ],
    });
    expect(ev.rows.map((r) => `${r.serverId}: ${r.text}`)).toEqual([
      'db-1: snapshot exited 0 in 30 ms',
      'db-1: db-upgrade exited 1 in 90 ms',
      'app-1: snapshot exited 0 in 20 ms',
    ]);
    expect(ev.rows.map((r) => r.kind)).toEqual(['command', 'command', 'command']);
    expect({ ok: ev.ok, actions: ev.actions }).toEqual({ ok: 1, actions: 2 });
  });
});
