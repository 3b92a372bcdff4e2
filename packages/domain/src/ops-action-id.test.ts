import { describe, expect, it } from 'vitest';
import { actionId, parseActionId } from './ops';

describe('parseActionId', () => {
  it('reads back what actionId makes', () => {
    expect(parseActionId(actionId('r-1', 12, 'admin.1', 3))).toEqual({
      runId: 'r-1',
      stepIndex: 12,
      serverId: 'admin.1',
      attempt: 3,
    });
  });

  it('refuses a step or attempt too large for the store (an agent echoes ids back)', () => {
    expect(parseActionId('r-1.s99999999999.admin-1.a1')).toBeNull();
    expect(parseActionId('r-1.s1.admin-1.a99999999999')).toBeNull();
    expect(parseActionId('r-1.s999999999.admin-1.a1')?.stepIndex).toBe(999_999_999);
  });
});
