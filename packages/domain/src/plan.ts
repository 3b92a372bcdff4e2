import type { ActionOp } from './ops';
import type { Edition, ServerRef } from './fleet';
import type { Phase } from './phases';
import type { ReadinessGate } from './readiness-gates';

// The phases and gate names have their own files (one list each); plan's importers still find the
// types here.
export type { Phase } from './phases';
export type { ReadinessGate } from './readiness-gates';

/** Who performs a step in the seed procedure (Rollgate automates the engineer's part). */
export type Performer = 'engineer' | 'administrator' | 'customer';

export type StepKind =
  | 'stop' // take the group out of rotation, drain, stop its services
  | 'test' // functionality tests against the servers in rotation
  | 'upgrade' // install the new edition side by side and activate it
  | 'configure' // carry the configuration over to the new edition
  | 'db-upgrade' // the database upgrade command, once, on one designated server
  | 'start' // start, wait until healthy, rejoin rotation
  | 'sign-off' // customer verification: waits for a decision through the API
  | 'prepare' // a readiness gate Rollgate checks itself (staging, backups, snapshots, repository)
  | 'db-restore' // rollback: restore the database from the run's verified backup
  | 'rebuild' // rollback: uninstall every edition, reinstall, reconnect to the database
  | 'switch'; // atomic rollout: one load-balancer exchange puts one half in and the other out

export interface PlanStep {
  index: number;
  /** Stable key, e.g. `g1.stop`, `db-upgrade`, `final-test`. */
  key: string;
  kind: StepKind;
  title: string;
  /** The step number in the seed's procedure table, or null for a step Rollgate inserts. */
  seedStep: number | null;
  /** 1-based server group, or null for steps that are not about one group. */
  group: number | null;
  phase: Phase;
  performedBy: Performer[];
  /** Servers the ops run on (in parallel); empty for steps with no agent work (sign-off). */
  servers: string[];
  ops: ActionOp[];
  /** Servers whose gates this step closes (they leave rotation). */
  leavesRotation: string[];
  /** Servers whose gates this step opens (they rejoin rotation). */
  rejoinsRotation: string[];
  /** For `prepare` steps (and the before-start test): the readiness gate the step checks. */
  gate?: ReadinessGate;
  /**
   * The step may leave a role with no server in rotation: the announced downtime of a major
   * upgrade (or of a rollback that restores the database). The capacity floor allows it.
   */
  allowsDowntime?: boolean;
  /**
   * Per-server ops where they differ (e.g. a functionality test run on the test machine, or a
   * rollback that reinstalls a different edition per server); `ops` is used for the others.
   */
  opsByServer?: Record<string, ActionOp[]>;
}

export interface ServerGroup {
  index: number;
  servers: ServerRef[];
}

export interface AnnouncedWindow {
  /** The "service at risk / limited capability" window, in minutes. */
  atRiskMinutes: number;
  /** The downtime window inside it (0 for a minor upgrade). */
  downtimeMinutes: number;
  /** How the figures were obtained. */
  basis: string;
  /**
   * The same windows estimated from the step durations of past runs, when there are any; the
   * plan shows both (the seed's rule of thumb and what this fleet has taken before).
   */
  learned?: { atRiskMinutes: number; downtimeMinutes: number; basis: string; runs: number };
}

/**
 * minor/major: the seed's upgrade procedures; rollback: undoing one of them; rollout, activation and
 * backout: the edition manager's verbs (replace an edition without interruption, simple activation
 * with downtime, and rolling out the previous edition again).
 */
export type Procedure =
  | 'minor'
  | 'major'
  | 'rollback'
  | 'rollout'
  | 'activation'
  | 'backout'
  | 'distribute'
  | 'validate'
  | 'deactivate'; // install an edition on a target without activating it

/** How an edition replaces another (the seed's rolloutEdition parameters). */
export interface RolloutOptions {
  strategy: 'grouped' | 'atomic';
  /** Servers per group (grouped); default 1. */
  groupSize: number;
  /** soft: restart the application; hard: also restart the process or service that hosts it. */
  reset: 'soft' | 'hard';
  drainageIntervalSec: number;
  /** Back-out fast path: the edition is still installed everywhere, so nothing is downloaded. */
  fastPath: boolean;
  /** A single server rolled out side by side (its second instance took the traffic meanwhile). */
  beside?: boolean;
}

/** How a rollback restores the last known good state (the seed's rollback and rebuild procedures). */
export type RollbackMethod = 'reinstall' | 'restore-database' | 'restore-snapshots' | 'rebuild';

export interface Plan {
  procedure: Procedure;
  cluster: string;
  service: string;
  toEdition: Edition;
  groups: ServerGroup[];
  steps: PlanStep[];
  /** The most servers that may be out of rotation at once (the largest group). */
  maxOutOfRotation: number;
  window: AnnouncedWindow;
  /** The edition the servers run before the upgrade (what a rollback returns to), when known. */
  fromEdition?: Edition;
  /** The server that runs the database steps (upgrade, backup, restore). */
  designatedServer?: string;
  /** For a rollback plan: the run it undoes and the method it uses. */
  rollback?: { ofRun: string; method: RollbackMethod };
  /** For an edition rollout, activation or back-out: how it replaces the edition. */
  rollout?: RolloutOptions;
}

/** One problem that stops a plan from being compiled, with what to do about it. */
export interface PlanIssue {
  code: string;
  message: string;
  hint: string;
}

export class PlanValidationError extends Error {
  constructor(readonly issues: PlanIssue[]) {
    super(issues.map((i) => `${i.message} ${i.hint}`).join('\n'));
    this.name = 'PlanValidationError';
  }
}
