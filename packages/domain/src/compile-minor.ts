import {
  DB_UPGRADE_TIMEOUT_MS,
  DEFAULT_PROBE,
  StepBuilder,
  UPGRADE_DEFAULTS,
  assertPlanSound,
  groupsPhrase,
  ids,
  resolveUpgrade,
  seedBasis,
  validateUpgradeInput,
  type ProbeOptions,
  type UpgradeInput,
} from './compile-common';
import { PlanValidationError, type Plan, type ServerGroup } from './plan';

// Re-exported so the compiler's whole API can be imported from one module.
export { formServerGroups } from './groups';
export { describePlan } from './describe-plan';
export { DB_UPGRADE_TIMEOUT_MS, DEFAULT_PROBE, type ProbeOptions };

/** Defaults of the optional fields of {@link MinorUpgradeInput}. */
export const MINOR_UPGRADE_DEFAULTS = Object.freeze({
  drainMs: UPGRADE_DEFAULTS.drainMs,
  stopTimeoutMs: UPGRADE_DEFAULTS.stopTimeoutMs,
  healthTimeoutMs: UPGRADE_DEFAULTS.healthTimeoutMs,
  /** The seed's notice figure: "number of servers x 10 minutes". */
  minutesPerServer: UPGRADE_DEFAULTS.minutesPerServer,
  signOff: UPGRADE_DEFAULTS.signOff,
  /** Other server groups a group's "test the rest" step probes (see {@link MinorUpgradeInput.testGroups}). */
  testGroups: 4,
});

export interface MinorUpgradeInput extends UpgradeInput {
  /**
   * The edition to roll out. When it declares `dbUpgradeCommand`, the plan runs it once (seed step
   * 5). In a minor upgrade the old edition keeps serving from the same database while the command
   * runs, so the change must be backward compatible; anything else needs a major upgrade.
   */
  toEdition: UpgradeInput['toEdition'];
  /**
   * How many other server groups the functionality test after each group's stop probes (seed
   * steps 2 and 7). Default 4. A fleet with no more other groups than this tests all of them, as
   * the seed does; a larger fleet tests the nearest groups in upgrade order (the ones just
   * upgraded and the ones next to go: both editions side by side), so the plan grows linearly
   * with the fleet instead of quadratically. The cross-check and the final test still probe
   * every server they name (seed steps 11 and 13). With a test machine (`tests`) the tests run
   * through the load balancer and this only decides what the step's title names.
   */
  testGroups?: number;
}

/**
 * Compiles the seed's "Minor upgrade procedure" for one cluster into a plan, generalised from two
 * server groups to N:
 *
 * for each group i: stop gi → test the rest through the load balancer → upgrade gi → configure gi →
 * (after group 1 only, when the edition declares one: the database upgrade command) → start gi;
 * then the cross-check (stop g1, test the rest, start g1), the final test on every server, and the
 * customer's sign-off.
 *
 * Departures from the seed, on purpose:
 * - Each group is started right after it is configured (steps `gN.start`, `seedStep: null`). The seed
 *   never starts its groups, yet tests them through the load balancer afterwards and, at step 10,
 *   stops group 1 while group 2 has never been started: that would take the whole service down.
 * - Groups beyond the second reuse the seed numbers of group 2 (6 stop, 7 test, 8 upgrade,
 *   9 configure): they are more repetitions of the seed's "second group" block.
 * - The database upgrade runs on one designated server: by default the first server of group 1 (its
 *   first role by name). By then that server runs the new edition and is configured, yet it is still
 *   out of rotation, so the command never competes with user traffic on it.
 * - The pre-upgrade requirements Rollgate can check itself come first, in the 'preparation' phase
 *   (see `PreparationOptions`); the seed's table starts after them.
 * - Every step is in the 'service-at-risk' phase, sign-off included: the seed's window ends after the
 *   sign-off, so completing that step is what moves the run to 'full-service-restored'.
 *
 * `PlanStep.index` is the step's position in `plan.steps` (0-based); the numbers shown to operators
 * are `index + 1`.
 *
 * @throws PlanValidationError with every issue found at once, each with what to do about it; in
 *   particular a role with a single server (code 'ROLE_SINGLE_SERVER'), because taking it out of
 *   rotation would stop the service: such a fleet needs a major upgrade with announced downtime.
 */
export function compileMinorUpgrade(input: MinorUpgradeInput): Plan {
  const { issues, members, groups } = validateUpgradeInput(input, 'minor');
  const tg = input.testGroups;
  if (tg !== undefined && !(Number.isInteger(tg) && tg >= 1)) {
    issues.add(
      'OPTION_INVALID',
      `testGroups must be a whole number of at least 1 (got ${tg}).`,
      'Leave it out to test the 4 nearest other server groups after each group leaves rotation.',
    );
  }
  if (issues.length > 0) throw new PlanValidationError(issues);

  const r = resolveUpgrade(input, 'minor', groups);
  const testGroups = tg ?? MINOR_UPGRADE_DEFAULTS.testGroups;
  const b = new StepBuilder(r);
  b.preparation(r, groups);
  const { edition } = r;

  const others = (i: number) => groups.filter((g) => g.index !== i);
  // Group indexes are 1..groups.length in order (formServerGroups), so a neighbour is found by index.
  const byIndex = (index: number) => groups[index - 1];
  /**
   * The groups tested while group i is out: all others when they are at most `testGroups`, else
   * the `testGroups` nearest in upgrade order (i-1, i+1, i-2, i+2, …), listed by index. In the
   * middle of the run that is the groups just upgraded and the ones next to go, so each group is
   * probed on the old edition before its turn and on the new one after it.
   */
  const sampleFor = (i: number): ServerGroup[] => {
    if (groups.length - 1 <= testGroups) return others(i);
    const picked: ServerGroup[] = [];
    for (let d = 1; picked.length < testGroups && d < groups.length; d++) {
      for (const j of [i - d, i + d]) {
        const gj = byIndex(j);
        if (gj && picked.length < testGroups) picked.push(gj);
      }
    }
    return picked.sort((a, b) => a.index - b.index);
  };
  const testedPhrase = (tested: ServerGroup[]) => {
    const phrase = groupsPhrase(tested.map((o) => o.index));
    const rest = groups.length - 1;
    return tested.length < rest
      ? `${phrase} (the nearest ${tested.length} of the ${rest} other groups)`
      : phrase;
  };

  for (const g of groups) {
    const i = g.index;
    const first = i === 1;
    const tested = sampleFor(i);
    b.stop(`g${i}.stop`, `Stop services on server group ${i}`, first ? 1 : 6, i, ids(g));
    b.test(
      `g${i}.test-others`,
      `Functionality tests against ${testedPhrase(tested)} via the load balancer`,
      first ? 2 : 7,
      i,
      tested.flatMap(ids),
      'during',
    );
    b.upgrade(`g${i}.upgrade`, first ? 3 : 8, g);
    b.configure(`g${i}.configure`, first ? 4 : 9, g);
    if (first && edition.dbUpgradeCommand !== undefined) {
      const inGroup = g.servers.some((s) => s.id === r.designated);
      b.dbUpgrade(r.designated, edition.dbUpgradeCommand, inGroup ? 1 : null);
    }
    b.start(`g${i}.start`, null, g);
  }

  const g1 = groups[0]!;
  b.stop('verify.stop-g1', 'Stop all services on server group 1', 10, 1, ids(g1));
  // The cross-check is one step: it probes every other group, however large the fleet.
  const rest = others(1);
  b.test(
    'verify.test-others',
    `Functionality tests against ${groupsPhrase(rest.map((o) => o.index))} alone via the load balancer`,
    11,
    1,
    rest.flatMap(ids),
    'during',
  );
  b.start('verify.start-g1', 12, g1);
  b.test(
    'final-test',
    'Final functionality tests via the load balancer',
    13,
    null,
    groups.flatMap(ids),
    'final',
  );
  if (r.signOff) b.signOff(14);

  const plan: Plan = {
    procedure: 'minor',
    cluster: r.cluster,
    service: r.service,
    toEdition: edition,
    ...(r.fromEdition ? { fromEdition: r.fromEdition } : {}),
    designatedServer: r.designated,
    groups,
    steps: b.build(),
    maxOutOfRotation: Math.max(...groups.map((g) => g.servers.length)),
    window: {
      atRiskMinutes: members.length * r.minutesPerServer,
      downtimeMinutes: 0,
      basis: seedBasis(members.length, r.minutesPerServer),
    },
  };
  return assertPlanSound(plan);
}
