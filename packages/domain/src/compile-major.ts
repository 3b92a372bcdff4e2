import {
  StepBuilder,
  UPGRADE_DEFAULTS,
  assertPlanSound,
  groupsPhrase,
  ids,
  resolveUpgrade,
  seedBasis,
  validateUpgradeInput,
  type UpgradeInput,
} from './compile-common';
import { PlanValidationError, type Plan } from './plan';

/** Defaults of the major-only fields of {@link MajorUpgradeInput}. */
export const MAJOR_UPGRADE_DEFAULTS = Object.freeze({
  /** The seed's notice: "Service Downtime – starting approx. 5 minutes in for about 15 minutes". */
  downtimeMinutes: 15,
  /** When the downtime starts, minutes into the at-risk window (the seed's "approx. 5 minutes in"). */
  downtimeStartsAfterMinutes: 5,
});

export interface MajorUpgradeInput extends UpgradeInput {
  /**
   * The edition to roll out. It must declare `dbUpgradeCommand`: a major upgrade is the one that
   * changes the database schema (seed step 5).
   */
  toEdition: UpgradeInput['toEdition'];
  /** The announced downtime, minutes. Default 15 (the seed's figure). */
  downtimeMinutes?: number;
}

/**
 * Compiles the seed's "Major upgrade procedure" for one cluster into a plan, generalised from two
 * server groups to N:
 *
 * stop g1 → test the others through the load balancer → upgrade g1 → configure g1 → [downtime] the
 * database upgrade, once → stop every other group → start g1 → test g1 through the load balancer →
 * [limited service restored] upgrade, configure and start each other group in turn → cross-check
 * (stop g1, test the others, start g1) → final test → sign-off (completing it restores full service).
 *
 * Departures from the seed, on purpose:
 * - `g1.start` is inserted (`seedStep: null`) before seed step 7: the seed tests group 1 through the
 *   load balancer without ever starting it. Likewise each other group is started (seed step 10).
 * - The other groups are stopped in one step (`stop-rest`, seed step 6): the schema has just changed
 *   under them, so none may keep serving on the old edition.
 * - Steps are 'preparation' (Rollgate's pre-upgrade checks), 'service-at-risk' (seed 1-4), 'downtime'
 *   (5, 6, g1.start, 7) and 'limited-service-restored' (8-15). `allowsDowntime` is set from the
 *   database upgrade until group 1 is back in rotation, the only stretch where the capacity floor
 *   may be broken; the test of group 1 runs with it back and must find it serving.
 * - `maxOutOfRotation` is the whole fleet: after the downtime, group 1 serves alone.
 *
 * @throws PlanValidationError with every issue found at once; in particular 'MAJOR_NEEDS_DB_UPGRADE'
 *   when the edition declares no database upgrade command, and 'TOO_FEW_GROUPS' below 2 groups.
 */
export function compileMajorUpgrade(input: MajorUpgradeInput): Plan {
  const { issues, members, groups } = validateUpgradeInput(input, 'major');
  if (input.toEdition && input.toEdition.dbUpgradeCommand === undefined) {
    issues.add(
      'MAJOR_NEEDS_DB_UPGRADE',
      `Edition ${input.toEdition.name} declares no database upgrade command, and a major upgrade is the procedure that changes the database schema.`,
      'Set dbUpgradeCommand on the edition to the schema upgrade command configured on the agents, or run a minor upgrade (no downtime) if the schema does not change.',
    );
  }
  const atRiskGuess = members.length * (input.minutesPerServer ?? UPGRADE_DEFAULTS.minutesPerServer);
  const dm = input.downtimeMinutes;
  if (dm !== undefined && !(Number.isFinite(dm) && dm > 0 && dm <= atRiskGuess)) {
    issues.add(
      'OPTION_INVALID',
      `downtimeMinutes must be a positive number no larger than the at-risk window (${atRiskGuess} min); got ${dm}.`,
      "Leave it out to announce the seed's 15 minutes.",
    );
  }
  if (issues.length > 0) throw new PlanValidationError(issues);

  const r = resolveUpgrade(input, 'major', groups);
  const command = r.edition.dbUpgradeCommand!;
  const downtimeMinutes = dm ?? MAJOR_UPGRADE_DEFAULTS.downtimeMinutes;
  const b = new StepBuilder(r);
  b.preparation(r, groups);

  const [g1, ...rest] = groups as [(typeof groups)[0], ...typeof groups];
  const restIds = rest.flatMap(ids);
  const restPhrase = groupsPhrase(rest.map((g) => g.index));

  b.phase = 'service-at-risk';
  b.stop('g1.stop', 'Stop services on server group 1', 1, 1, ids(g1));
  b.test(
    'g1.test-others',
    `Functionality tests against ${restPhrase} via the load balancer`,
    2,
    1,
    restIds,
    'during',
  );
  b.upgrade('g1.upgrade', 3, g1);
  b.configure('g1.configure', 4, g1);

  b.phase = 'downtime';
  b.dbUpgrade(r.designated, command, 1, { allowsDowntime: true });
  b.stop('stop-rest', `Stop services on ${restPhrase}`, 6, null, restIds, { allowsDowntime: true });
  b.start('g1.start', null, g1, { allowsDowntime: true });
  b.test(
    'g1.test',
    'Functionality tests via the load balancer against server group 1',
    7,
    1,
    ids(g1),
    'during',
  );

  b.phase = 'limited-service-restored';
  for (const g of rest) {
    b.upgrade(`g${g.index}.upgrade`, 8, g);
    b.configure(`g${g.index}.configure`, 9, g);
    b.start(`g${g.index}.start`, 10, g);
  }
  b.stop('verify.stop-g1', 'Stop all services on server group 1', 11, 1, ids(g1));
  b.test(
    'verify.test-others',
    `Functionality tests via the load balancer against ${restPhrase}`,
    12,
    1,
    restIds,
    'during',
  );
  b.start('verify.start-g1', 13, g1);
  b.test(
    'final-test',
    'Final functionality tests via the load balancer',
    14,
    null,
    groups.flatMap(ids),
    'final',
  );
  if (r.signOff) b.signOff(15);

  const atRisk = members.length * r.minutesPerServer;
  const plan: Plan = {
    procedure: 'major',
    cluster: r.cluster,
    service: r.service,
    toEdition: r.edition,
    ...(r.fromEdition ? { fromEdition: r.fromEdition } : {}),
    designatedServer: r.designated,
    groups,
    steps: b.build(),
    maxOutOfRotation: members.length,
    window: {
      atRiskMinutes: atRisk,
      downtimeMinutes,
      basis: `${seedBasis(members.length, r.minutesPerServer)}; downtime ${downtimeMinutes} min${
        dm === undefined ? ' (seed default)' : ''
      }, starting approx. ${MAJOR_UPGRADE_DEFAULTS.downtimeStartsAfterMinutes} min in`,
    },
  };
  return assertPlanSound(plan);
}
