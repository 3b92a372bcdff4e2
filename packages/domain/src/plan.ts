import type { ActionOp } from './ops';
import type { Edition, ServerRef } from './fleet';

/** The phases of an upgrade window; every plan step belongs to one, and notices are announced from them. */
export type Phase = 'service-at-risk' | 'downtime' | 'limited-service-restored' | 'full-service-restored';

export const PHASE_LABEL: Record<Phase, string> = {
  'service-at-risk': 'Service at risk / limited capability',
  downtime: 'Service downtime',
  'limited-service-restored': 'Limited service restored',
  'full-service-restored': 'Full service restored',
};

/** Who performs a step in the seed procedure (Rollgate automates the engineer's part). */
export type Performer = 'engineer' | 'administrator' | 'customer';

export type StepKind =
  | 'stop' // take the group out of rotation, drain, stop its services
  | 'test' // functionality tests against the servers in rotation
  | 'upgrade' // install the new edition side by side and activate it
  | 'configure' // carry the configuration over to the new edition
  | 'db-upgrade' // the database upgrade command, once, on one designated server
  | 'start' // start, wait until healthy, rejoin rotation
  | 'sign-off'; // customer verification: waits for a decision through the API

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
}

export interface Plan {
  procedure: 'minor' | 'major';
  cluster: string;
  service: string;
  toEdition: Edition;
  groups: ServerGroup[];
  steps: PlanStep[];
  /** The most servers that may be out of rotation at once (the largest group). */
  maxOutOfRotation: number;
  window: AnnouncedWindow;
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
