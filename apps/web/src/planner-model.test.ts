import { describe, expect, it } from 'vitest';
import {
  buildRolloutInput,
  buildUpgradeInput,
  EMPTY_PLANNER_FORM,
  errorIssues,
  type PlannerForm,
} from './planner-model';

const base: PlannerForm = { ...EMPTY_PLANNER_FORM, cluster: 'demo', app: 'demo-app', edition: '2.0' };

describe('buildUpgradeInput', () => {
  it('sends what was chosen and leaves defaults to the coordinator', () => {
    expect(buildUpgradeInput(base)).toEqual({
      input: { cluster: 'demo', app: 'demo-app', edition: '2.0', procedure: 'minor', onFailure: 'pause' },
      errors: [],
    });
  });

  it('adds the options, the schedule, the contacts and the waivers', () => {
    const { input, errors } = buildUpgradeInput(
      {
        ...base,
        procedure: 'major',
        drainageIntervalSec: '2',
        windowMinutes: '90',
        onFailure: 'rollback',
        at: '2026-11-23T22:00',
        contacts: {
          lead: { name: 'Ann', reach: 'ann@example.com' },
          appAdmin: { name: 'Bo', reach: '+44 20 7946 0000' },
          lbAdmin: { name: 'Cy', reach: 'cy@example.com' },
        },
        waivers: {
          'file-backup': { on: true, reason: 'backed up by the customer' },
          snapshots: { on: false, reason: '' },
        },
      },
      (v) => `${v}:00Z`,
    );
    expect(errors).toEqual([]);
    expect(input).toEqual({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      procedure: 'major',
      onFailure: 'rollback',
      drainageIntervalSec: 2,
      windowMinutes: 90,
      at: '2026-11-23T22:00:00Z',
      contacts: {
        lead: { name: 'Ann', email: 'ann@example.com' },
        appAdmin: { name: 'Bo', phone: '+44 20 7946 0000' },
        lbAdmin: { name: 'Cy', email: 'cy@example.com' },
      },
      waive: [{ gate: 'file-backup', reason: 'backed up by the customer' }],
    });
  });

  it('says what is missing or wrong instead of sending', () => {
    const r = buildUpgradeInput({
      ...EMPTY_PLANNER_FORM,
      drainageIntervalSec: '1.5',
      contacts: { ...EMPTY_PLANNER_FORM.contacts, lead: { name: 'Ann', reach: '' } },
      waivers: { repository: { on: true, reason: '' } },
    });
    expect(r.input).toBeNull();
    expect(r.errors).toEqual([
      'Choose a cluster.',
      'Choose an application.',
      'Choose the edition to upgrade to.',
      'The drainage interval must be a whole number from 0 to 3600.',
      'Lead customer contact: give a name and a phone number or an email address.',
      'Application administrator: give a name and a phone number or an email address.',
      'Load-balancer administrator: give a name and a phone number or an email address.',
      'Waiving "repository" needs a reason (3 characters or more).',
    ]);
  });
});

describe('buildRolloutInput', () => {
  const form: PlannerForm = { ...EMPTY_PLANNER_FORM, cluster: 'demo', app: 'demo-app', edition: '2.0' };

  it('is the grouped rollout with the group size, reset and drainage typed; nothing of the upgrade form', () => {
    expect(
      buildRolloutInput({
        ...form,
        procedure: 'rollout',
        groupSize: '2',
        reset: 'hard',
        drainageIntervalSec: '5',
        at: '2026-11-23T22:00',
        windowMinutes: '90',
      }),
    ).toEqual({
      input: {
        cluster: 'demo',
        app: 'demo-app',
        edition: '2.0',
        strategy: 'grouped',
        reset: 'hard',
        groupSize: 2,
        drainageIntervalSec: 5,
      },
      errors: [],
    });
  });

  it('says what is missing or wrong', () => {
    expect(buildRolloutInput({ ...EMPTY_PLANNER_FORM, procedure: 'rollout', groupSize: '0' }).errors).toEqual(
      [
        'Choose a cluster.',
        'Choose an application.',
        'Choose the edition to roll out.',
        'The group size must be a whole number from 1 to 100000.',
      ],
    );
  });

  it('sends the atomic strategy chosen, without a group size even when one is left typed in', () => {
    const atomic = { ...form, procedure: 'rollout' as const, strategy: 'atomic' as const };
    expect(buildRolloutInput({ ...atomic, groupSize: '2', drainageIntervalSec: '1' })).toEqual({
      input: {
        cluster: 'demo',
        app: 'demo-app',
        edition: '2.0',
        strategy: 'atomic',
        reset: 'soft',
        drainageIntervalSec: 1,
      },
      errors: [],
    });
    // Atomic has no groups: a leftover that is not a number is no error of its input.
    expect(buildRolloutInput({ ...atomic, groupSize: 'x' }).errors).toEqual([]);
    // Back to grouped, the group size is checked and sent again.
    expect(buildRolloutInput({ ...atomic, strategy: 'grouped', groupSize: 'x' }).errors).toEqual([
      'The group size must be a whole number from 1 to 100000.',
    ]);
    expect(buildRolloutInput({ ...form, procedure: 'rollout' }).input).toMatchObject({ strategy: 'grouped' });
  });

  it('is never sent as an upgrade', () => {
    expect(buildUpgradeInput({ ...form, procedure: 'rollout' }).input).toBeNull();
  });
});

describe('errorIssues', () => {
  it("reads a refusal's issues, or makes one of the message", () => {
    const issue = { code: 'GATE_UNMET', message: 'contacts is unmet', hint: 'give --contacts' };
    expect(
      errorIssues({ message: 'refused', data: { code: 'PRECONDITION_FAILED', issues: [issue] } }),
    ).toEqual([issue]);
    expect(errorIssues({ message: 'boom', data: { code: 'CONFLICT', issues: [] } })).toEqual([
      { code: 'CONFLICT', message: 'boom', hint: '' },
    ]);
    expect(errorIssues(new Error('x'))).toEqual([{ code: 'ERROR', message: 'x', hint: '' }]);
  });

  it("turns a refused input's validator issues (JSON) into one line per field", () => {
    const message = JSON.stringify([
      { code: 'too_small', path: ['password'], message: 'a password has at least 12 characters' },
      { code: 'invalid_format', path: [], message: 'not an object' },
    ]);
    expect(errorIssues({ message, data: { code: 'BAD_REQUEST' } })).toEqual([
      { code: 'INPUT', message: 'password: a password has at least 12 characters', hint: '' },
      { code: 'INPUT', message: 'not an object', hint: '' },
    ]);
    // A message that only looks like JSON stays as it is.
    expect(errorIssues({ message: '[not json', data: { code: 'BAD_REQUEST' } })).toEqual([
      { code: 'BAD_REQUEST', message: '[not json', hint: '' },
    ]);
  });
});
