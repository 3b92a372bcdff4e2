import { describe, expect, it } from 'vitest';
import { contactsSchema, READINESS_GATES, requiredGates } from './readiness';

describe('requiredGates', () => {
  it('has the seed defaults per procedure', () => {
    expect(requiredGates('minor')).toEqual(['remote-access', 'installation-files']);
    expect(requiredGates('major')).toEqual([
      'contacts',
      'remote-access',
      'installation-files',
      'file-backup',
      'database-backup',
    ]);
  });

  it('requires the test machine when tests are configured, and lets a policy add and remove gates', () => {
    expect(requiredGates('minor', {}, { testsConfigured: true })).toEqual([
      'remote-access',
      'test-machine',
      'installation-files',
    ]);
    expect(requiredGates('major', { require: ['snapshots', 'repository'], optional: ['contacts'] })).toEqual([
      'remote-access',
      'installation-files',
      'file-backup',
      'snapshots',
      'database-backup',
      'repository',
    ]);
  });
});

describe('READINESS_GATES', () => {
  it('tells an operator how to meet every gate, naming the CLI', () => {
    for (const [gate, info] of Object.entries(READINESS_GATES)) {
      expect(info.title.length, gate).toBeGreaterThan(3);
      expect(info.howToMeet, gate).toMatch(/rollgate|prep\./);
    }
    expect(READINESS_GATES.contacts.howToMeet).toContain('--contacts contacts.json');
    expect(READINESS_GATES.contacts.confirmedBy).toBe('person');
    expect(READINESS_GATES['remote-access'].howToMeet).toContain('rollgate servers');
    expect(READINESS_GATES['test-machine'].howToMeet).toContain('rollgate cluster configure');
    expect(READINESS_GATES['database-backup'].confirmedBy).toBe('automatic');
  });
});

describe('contactsSchema', () => {
  const person = { name: 'Ada', email: 'ada@example.edu' };
  it('needs the lead, application and load balancer administrators, each reachable', () => {
    expect(
      contactsSchema.safeParse({ lead: person, appAdmin: person, lbAdmin: { name: 'Bo', phone: '+44 1' } })
        .success,
    ).toBe(true);
    const missing = contactsSchema.safeParse({ lead: person, appAdmin: person });
    expect(missing.success).toBe(false);
    const unreachable = contactsSchema.safeParse({
      lead: { name: 'Ada' },
      appAdmin: person,
      lbAdmin: person,
    });
    expect(unreachable.error?.issues[0]?.message).toContain('reachable during the window');
  });
  it('takes an optional on-call list by role', () => {
    const parsed = contactsSchema.parse({
      lead: person,
      appAdmin: person,
      lbAdmin: person,
      onCall: [{ role: 'database', name: 'Cy', contact: 'cy@example.edu' }],
    });
    expect(parsed.onCall).toHaveLength(1);
    expect(
      contactsSchema.safeParse({
        lead: person,
        appAdmin: person,
        lbAdmin: person,
        onCall: [{ role: 'dba', name: 'x', contact: 'yyy' }],
      }).success,
    ).toBe(false);
  });
});
