import { describe, expect, it } from 'vitest';
import {
  contactsSchema,
  evaluateReadiness,
  READINESS_GATES,
  requiredGates,
  type GateRecord,
} from './readiness';

const rec = (
  gate: GateRecord['gate'],
  status: GateRecord['status'],
  extra: Partial<GateRecord> = {},
): GateRecord => ({
  gate,
  required: true,
  status,
  evidence: null,
  by: null,
  at: null,
  ...extra,
});

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

describe('evaluateReadiness', () => {
  it('is ready when every required gate is met or properly waived', () => {
    const r = evaluateReadiness([
      rec('remote-access', 'met'),
      rec('installation-files', 'waived', { by: 'ops', reason: 'staged by hand' }),
      rec('snapshots', 'unmet', { required: false }),
    ]);
    expect(r).toEqual({ ready: true, unmet: [] });
  });

  it('says what is unmet and how to meet it', () => {
    const r = evaluateReadiness(
      [
        rec('remote-access', 'failed', { reason: 'agent a2 is not connected' }),
        rec('installation-files', 'waived'),
      ],
      ['contacts', 'remote-access'],
    );
    expect(r.ready).toBe(false);
    expect(r.unmet.map((u) => u.gate)).toEqual(['contacts', 'remote-access', 'installation-files']);
    expect(r.unmet[0]!.message).toMatch(
      /^Readiness gate "contacts" is unmet: .* Meet it with: start the run with `rollgate upgrade start … --contacts contacts.json`/,
    );
    expect(r.unmet[1]!.message).toContain('failed: agent a2 is not connected');
    expect(r.unmet[2]!.message).toContain('waived without saying who waived it and why');
    expect(r.unmet[1]!.howToMeet).toBe(READINESS_GATES['remote-access'].howToMeet);
  });
});
