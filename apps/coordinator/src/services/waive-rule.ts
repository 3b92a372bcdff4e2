import { roleAllows, type ReadinessGate, type UserView } from '@rollgate/domain';
import { ApiError } from '@rollgate/api';

/**
 * Only an administrator may waive a readiness gate, at a run's start as afterwards (`upgrade.waive`
 * needs the administrator role). FORBIDDEN naming the gates and the caller's role otherwise.
 */
export function assertMayWaive(
  user: Pick<UserView, 'username' | 'role'>,
  waived: readonly { gate: ReadinessGate }[],
): void {
  if (waived.length === 0 || roleAllows(user.role, 'admin')) return;
  throw new ApiError(
    'FORBIDDEN',
    `Only an administrator may waive a readiness gate (${waived.map((w) => w.gate).join(', ')}); ${user.username} is ${user.role === 'operator' ? 'an' : 'a'} ${user.role}.`,
  );
}
