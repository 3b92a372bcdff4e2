import { describe, expect, it } from 'vitest';
import { READINESS_GATES } from './readiness';
import { READINESS_GATE_NAMES, isReadinessGate, readinessGateSchema } from './readiness-gates';

describe('readiness gate names (issue 15 item 3: one list)', () => {
  it('are the gates the readiness table describes, in the same order', () => {
    expect(Object.keys(READINESS_GATES)).toEqual([...READINESS_GATE_NAMES]);
  });

  it('the schema accepts a gate and refuses another word with the list of gates', () => {
    expect(readinessGateSchema.parse('snapshots')).toBe('snapshots');
    const r = readinessGateSchema.safeParse('snapshot');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe(
      'a readiness gate is one of contacts, remote-access, test-machine, installation-files, file-backup, snapshots, database-backup, repository',
    );
  });

  it('isReadinessGate tells a gate from another word', () => {
    expect(isReadinessGate('database-backup')).toBe(true);
    expect(isReadinessGate('backup')).toBe(false);
  });
});
