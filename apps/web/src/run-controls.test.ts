import { describe, expect, it } from 'vitest';
import type { RunView } from './api-types';
import { runControls } from './run-controls';
import { pausedRun } from './testing/fixtures';

function withStatus(status: RunView['run']['status'], patch: (v: RunView) => void = () => {}): RunView {
  const v = pausedRun();
  v.run.status = status;
  patch(v);
  return v;
}

describe('runControls', () => {
  it('a run paused on a failure: retry, skip or exclude the failed servers, roll back, abort', () => {
    const v = pausedRun();
    v.steps[3]!.actions = [
      {
        id: 'a1',
        serverId: 'stream-2',
        status: 'failed',
        error: 'timeout',
        attempt: 2,
        dispatchedAt: 1,
        finishedAt: 2,
        results: [],
      },
      {
        id: 'a2',
        serverId: 'admin-2',
        status: 'succeeded',
        error: null,
        attempt: 2,
        dispatchedAt: 1,
        finishedAt: 2,
        results: [],
      },
    ] as RunView['steps'][number]['actions'];
    const c = runControls(v);
    expect(c).toMatchObject({
      pause: false,
      resume: true,
      abort: true,
      rollback: true,
      signOff: false,
      proposal: false,
    });
    expect(c.failedStep?.index).toBe(3);
    expect(c.failedServers).toEqual(['stream-2']);
  });

  it('falls back to the step servers when no action failed on record', () => {
    expect(runControls(pausedRun()).failedServers).toEqual(['admin-2', 'stream-2']);
  });

  it('a running stop step: pause, abort, and end the drain of the servers it took out', () => {
    const c = runControls(
      withStatus('running', (v) => {
        v.steps[3]!.status = 'running';
        v.steps[3]!.leavesRotation = ['admin-2', 'stream-2'];
        v.run.failure = null;
      }),
    );
    expect(c).toMatchObject({ pause: true, resume: false, abort: true, rollback: false, failedStep: null });
    expect(c.drainingServers).toEqual(['admin-2', 'stream-2']);
  });

  it('waiting for sign-off; a proposal awaiting; finished runs offer nothing', () => {
    expect(runControls(withStatus('waiting-approval')).signOff).toBe(true);
    const proposed = withStatus('paused', (v) => {
      v.run.proposal = {
        method: 'reinstall',
        estimateMinutes: 20,
        reason: 'less than an hour left',
        proposedAt: 1,
        status: 'awaiting',
        decidedBy: null,
        decidedAt: null,
        comment: '',
        rollbackRunId: null,
      };
    });
    expect(runControls(proposed).proposal).toBe(true);
    expect(runControls(withStatus('succeeded'))).toMatchObject({
      pause: false,
      resume: false,
      abort: false,
      rollback: false,
      signOff: false,
      failedStep: null,
    });
  });
});
