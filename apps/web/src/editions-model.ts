/** The editions page's grouping: per application, each edition's state on every cluster. */
import type {
  EditionActivateInput,
  EditionBackoutInput,
  EditionDeactivateInput,
  EditionInstallInput,
  EditionRolloutInput,
  EditionRow,
  EditionStateRow,
  EditionValidateInput,
} from './api-types';
import { groupSizeOf, wholeNumber, type RolloutStrategy } from './planner-model';

export interface AppEditions {
  app: string;
  editions: EditionRow[];
  clusters: string[];
  /** `${edition}\u0000${cluster}` → its state there. */
  states: Map<string, EditionStateRow>;
}

/** Editions per application, with each one's state on every cluster that runs the application. */
export function groupEditions(editions: EditionRow[], states: EditionStateRow[]): AppEditions[] {
  const apps = [...new Set(editions.map((e) => e.app))].sort();
  return apps.map((app) => {
    const mine = states.filter((s) => s.app === app);
    return {
      app,
      editions: editions.filter((e) => e.app === app).sort((a, b) => a.createdAt - b.createdAt),
      clusters: [...new Set(mine.map((s) => s.cluster))].sort(),
      states: new Map(mine.map((s) => [`${s.edition}\u0000${s.cluster}`, s])),
    };
  });
}

/** The edition verbs the console offers on a target (an application on one cluster). */
export type EditionVerb = 'install' | 'activate' | 'rollout' | 'backout' | 'validate' | 'deactivate';

/** The target panel's form, as typed. */
export interface TargetForm {
  /** The edition to distribute, activate or roll out. */
  edition: string;
  /** The edition a back-out returns to; '' for the one active before the last rollout. */
  backoutTo: string;
  /** How a rollout or back-out replaces the edition: group by group, or two halves and one switch. */
  strategy: RolloutStrategy;
  /** Grouped only: servers per group, as typed; '' for the default (1). */
  groupSize: string;
  /** Seconds, as typed; '' for the cluster's default (else 30). */
  drainageIntervalSec: string;
  reset: 'soft' | 'hard';
  /** Simple activation stops every server at once: the operator must say they accept it. */
  acceptDowntime: boolean;
  /** Validation: servers that run the edition beside their own instance (the clone), as typed. */
  cloneSize: string;
}

export const EMPTY_TARGET_FORM: TargetForm = {
  edition: '',
  backoutTo: '',
  strategy: 'grouped',
  groupSize: '',
  drainageIntervalSec: '',
  reset: 'soft',
  acceptDowntime: false,
  cloneSize: '1',
};

export type EditionCall =
  | { verb: 'install'; input: EditionInstallInput }
  | { verb: 'activate'; input: EditionActivateInput }
  | { verb: 'rollout'; input: EditionRolloutInput }
  | { verb: 'backout'; input: EditionBackoutInput }
  | { verb: 'validate'; input: EditionValidateInput }
  | { verb: 'deactivate'; input: EditionDeactivateInput };

/**
 * The call a button of the target panel makes, or what is wrong with the form. Only the shape is
 * checked here; the coordinator answers the rest (a group larger than the cluster, an edition that
 * is already active) with its own clear error, which the page shows.
 */
export function buildEditionCall(
  verb: EditionVerb,
  target: { app: string; cluster: string },
  f: TargetForm,
  /** The target's servers, when known: a validation clone has at most that many. */
  servers?: number,
): { call: EditionCall | null; errors: string[] } {
  const errors: string[] = [];
  const int = (label: string, v: string, min: number, max: number) => wholeNumber(errors, label, v, min, max);
  // Validation and deactivation drain nothing (the clone is beside the target): no interval.
  const drain =
    verb === 'validate' || verb === 'deactivate'
      ? undefined
      : int('The drainage interval', f.drainageIntervalSec, 0, 3600);
  // The clone size: 1 unless typed, at most the target's servers.
  const cloneSize =
    verb === 'validate'
      ? f.cloneSize.trim() === ''
        ? 1
        : int('The clone size', f.cloneSize, 1, servers !== undefined && servers >= 1 ? servers : 100_000)
      : undefined;
  // Only the rollout and back-out have a strategy; the other verbs ignore the group size.
  const groupSize =
    verb === 'rollout' || verb === 'backout' ? groupSizeOf(errors, f.strategy, f.groupSize) : {};
  if (verb !== 'backout' && !f.edition) errors.push('Choose the edition first.');
  if (verb === 'activate' && !f.acceptDowntime)
    errors.push('Simple activation stops every server at once: tick "I accept the downtime" to go ahead.');
  if (errors.length > 0) return { call: null, errors };
  const base = { app: target.app, cluster: target.cluster };
  const drainage = drain !== undefined ? { drainageIntervalSec: drain } : {};
  const rollout = {
    strategy: f.strategy,
    ...groupSize,
    reset: f.reset,
    ...drainage,
  };
  switch (verb) {
    case 'install':
      return { call: { verb, input: { ...base, edition: f.edition } }, errors };
    case 'activate':
      return {
        call: { verb, input: { ...base, edition: f.edition, acceptDowntime: true, ...drainage } },
        errors,
      };
    case 'rollout':
      return { call: { verb, input: { ...base, edition: f.edition, ...rollout } }, errors };
    case 'backout':
      return {
        call: { verb, input: { ...base, ...(f.backoutTo ? { edition: f.backoutTo } : {}), ...rollout } },
        errors,
      };
    case 'validate':
      return { call: { verb, input: { ...base, edition: f.edition, cloneSize: cloneSize ?? 1 } }, errors };
    case 'deactivate':
      return { call: { verb, input: { ...base, edition: f.edition } }, errors };
  }
}

/** An edition's state on a cluster, or undefined when the cluster does not run the application. */
export function stateOf(app: AppEditions, edition: string, cluster: string): EditionStateRow | undefined {
  return app.states.get(`${edition}\u0000${cluster}`);
}

/** The editions a target's validation clone runs now (state VALIDATING there). */
export function validatingOn(app: AppEditions, cluster: string): EditionStateRow[] {
  return app.editions
    .map((e) => stateOf(app, e.name, cluster))
    .filter((s): s is EditionStateRow => s?.state === 'VALIDATING');
}

/** The badge tone of an edition state: ACTIVE ok, VALIDATING pilot (its own), INACTIVE idle. */
export function stateTone(state: EditionStateRow['state']): 'ok' | 'pilot' | 'idle' {
  return state === 'ACTIVE' ? 'ok' : state === 'VALIDATING' ? 'pilot' : 'idle';
}

/** The edition a target runs now: the one active on every server, or null while they differ. */
export function activeEditionOf(app: AppEditions, cluster: string): string | null {
  const active = app.editions.filter((e) => app.states.get(`${e.name}\u0000${cluster}`)?.state === 'ACTIVE');
  if (active.length !== 1) return null;
  const s = app.states.get(`${active[0]!.name}\u0000${cluster}`)!;
  return s.activeOn === s.servers ? active[0]!.name : null;
}
