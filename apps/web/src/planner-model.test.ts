import { describe, expect, it } from 'vitest';
import { buildUpgradeInput, EMPTY_PLANNER_FORM, errorIssues, type PlannerForm } from './planner-model';

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
});
