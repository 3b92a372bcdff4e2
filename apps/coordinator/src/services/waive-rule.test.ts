import { describe, expect, it } from 'vitest';
import { ApiError } from '@rollgate/api';
import { assertMayWaive } from './waive-rule';

describe('only an administrator may waive a readiness gate (issue 15 item 2)', () => {
  it('lets an administrator waive, and anyone start without waiving', () => {
    expect(() =>
      assertMayWaive({ username: 'ada', role: 'admin' }, [{ gate: 'database-backup' }]),
    ).not.toThrow();
    expect(() => assertMayWaive({ username: 'op', role: 'operator' }, [])).not.toThrow();
    expect(() => assertMayWaive({ username: 'vi', role: 'viewer' }, [])).not.toThrow();
  });

  it('refuses an operator and a viewer with FORBIDDEN, naming the gates and the role', () => {
    for (const role of ['operator', 'viewer'] as const) {
      let err: unknown;
      try {
        assertMayWaive({ username: 'sam', role }, [{ gate: 'database-backup' }, { gate: 'repository' }]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('FORBIDDEN');
      expect((err as ApiError).message).toBe(
        `Only an administrator may waive a readiness gate (database-backup, repository); sam is ${role === 'operator' ? 'an' : 'a'} ${role}.`,
      );
    }
  });
});
