import type { PlanStep } from '@rollgate/domain';
import type { RunRecord } from '@rollgate/engine';
import { describe, expect, it } from 'vitest';
import { PORTAL_FAILURE_TEXT, portalFailure } from './portal-view';

const step = (index: number, kind: PlanStep['kind'], title: string) => ({ index, kind, title }) as PlanStep;
const plan = {
  steps: [
    step(0, 'prepare', 'Check the installation files'),
    step(1, 'stop', 'Stop services on server group 1'),
    step(2, 'start', 'Start services on server group 1'),
  ],
} as unknown as RunRecord['plan'];
const roles: Record<string, string> = { 'web-1': 'web', 'web-2': 'web', 'db-1': 'database' };
const roleOf = (id: string) => roles[id];

describe('issue 17 item 10: the portal failure summary', () => {
  it('issue 17 item 10: a failed step gives its number, title, the failed servers’ role and a reason class, never the raw text', () => {
    const f = portalFailure(
      { status: 'paused', currentStep: 1, plan },
      [
        { index: 0, status: 'succeeded' },
        { index: 1, status: 'failed' },
      ],
      [
        { stepIndex: 1, serverId: 'web-1', status: 'failed' },
        { stepIndex: 1, serverId: 'web-2', status: 'succeeded' },
        { stepIndex: 0, serverId: 'db-1', status: 'failed' },
      ],
      roleOf,
    );
    expect(f).toEqual({
      step: { number: 2, title: 'Stop services on server group 1' },
      roles: ['web'],
      reason: 'service-did-not-stop',
      summary: `${PORTAL_FAILURE_TEXT['service-did-not-stop']} (at step 2 (Stop services on server group 1) on a web server)`,
    });
    // portalFailure never reads run.failure: no server id, path or agent word can be in it.
    expect(JSON.stringify(f)).not.toContain('web-1');
  });

  it('issue 17 item 10: an operator pause is "paused", several roles are listed, a running run has none', () => {
    expect(
      portalFailure(
        { status: 'paused', currentStep: 2, plan },
        [{ index: 2, status: 'running' }],
        [],
        roleOf,
      ),
    ).toMatchObject({ reason: 'paused', roles: [], step: { number: 3 } });
    expect(
      portalFailure(
        { status: 'failed', currentStep: 2, plan },
        [{ index: 2, status: 'failed' }],
        [
          { stepIndex: 2, serverId: 'db-1', status: 'failed' },
          { stepIndex: 2, serverId: 'web-2', status: 'failed' },
          { stepIndex: 2, serverId: 'gone-1', status: 'failed' },
        ],
        roleOf,
      ),
    ).toMatchObject({ reason: 'service-did-not-start', roles: ['database', 'unknown', 'web'] });
    expect(portalFailure({ status: 'running', currentStep: 1, plan }, [], [], roleOf)).toBeNull();
  });
});
