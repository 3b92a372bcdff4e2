import { describe, expect, it } from 'vitest';
import { ROLES, ROLES_BY_RANK, ROLE_DESCRIPTION, roleAllows } from './auth';

describe('roles (issue 15 item 3: one list of roles, with their words)', () => {
  it('orders the roles from the least allowed to the most, each allowing what the one before does', () => {
    expect(ROLES_BY_RANK).toEqual(['viewer', 'operator', 'admin']);
    for (const [i, role] of ROLES_BY_RANK.entries()) {
      for (const [j, need] of ROLES_BY_RANK.entries()) expect(roleAllows(role, need)).toBe(i >= j);
    }
  });

  it('describes every role', () => {
    expect(Object.keys(ROLE_DESCRIPTION).sort()).toEqual([...ROLES].sort());
    expect(ROLE_DESCRIPTION.viewer).toBe('reads everything, changes nothing');
  });
});
