/**
 * The upgrade planner's form, turned into the `upgrade.plan` / `upgrade.start` input, and the
 * refusal's issues read back from an error. Pure: the component holds the form state.
 */
import type { EditionRolloutInput, ReadinessGate, UpgradeInput } from './api-types';

export type RolloutStrategy = 'grouped' | 'atomic';

/**
 * What the strategy choice says about atomic, on both pages: the coordinator refuses it on a
 * cluster without the runtime API, and the operator should know why before asking.
 */
export const ATOMIC_NOTE =
  "Atomic needs the cluster's HAProxy runtime API (and two servers per role): half of every role is brought up on the new edition while the other half serves, then both halves are switched in one runtime-API exchange. The group size does not apply.";

/**
 * The group size as sent: only the grouped strategy has groups (atomic splits every role in
 * halves), so with atomic the field is neither checked nor sent, whatever is left in it.
 */
export function groupSizeOf(
  errors: string[],
  strategy: RolloutStrategy,
  typed: string,
): { groupSize: number } | Record<string, never> {
  if (strategy !== 'grouped') return {};
  const n = wholeNumber(errors, 'The group size', typed, 1, 100_000);
  return n !== undefined ? { groupSize: n } : {};
}

export interface ContactForm {
  name: string;
  /** A phone number or an email address (an `@` makes it an email). */
  reach: string;
}

export type ContactRole = 'lead' | 'appAdmin' | 'lbAdmin';

export const CONTACT_LABEL: Record<ContactRole, string> = {
  lead: 'Lead customer contact',
  appAdmin: 'Application administrator',
  lbAdmin: 'Load-balancer administrator',
};

export interface PlannerForm {
  cluster: string;
  app: string;
  edition: string;
  /** minor / major: the vendor's upgrade procedures; rollout: the edition manager's rollout. */
  procedure: 'minor' | 'major' | 'rollout';
  /** Seconds, as typed ('' for the cluster's default). */
  drainageIntervalSec: string;
  /** Rollout only: group by group, or half of every role at a time with one switch. */
  strategy: RolloutStrategy;
  /** Rollout only, grouped: servers per group, as typed ('' for 1). */
  groupSize: string;
  /** Rollout only: soft restarts the application, hard also the host's service. */
  reset: 'soft' | 'hard';
  onFailure: 'pause' | 'rollback';
  /** Minutes, as typed ('' for the announced window). */
  windowMinutes: string;
  /** A `datetime-local` value ('' to start now). */
  at: string;
  contacts: Record<ContactRole, ContactForm>;
  /** Gates the operator waives, with the reason. */
  waivers: Partial<Record<ReadinessGate, { on: boolean; reason: string }>>;
}

export const EMPTY_PLANNER_FORM: PlannerForm = {
  cluster: '',
  app: '',
  edition: '',
  procedure: 'minor',
  drainageIntervalSec: '',
  strategy: 'grouped',
  groupSize: '',
  reset: 'soft',
  onFailure: 'pause',
  windowMinutes: '',
  at: '',
  contacts: {
    lead: { name: '', reach: '' },
    appAdmin: { name: '', reach: '' },
    lbAdmin: { name: '', reach: '' },
  },
  waivers: {},
};

/** A whole number typed in a form: undefined when left empty; out of range adds what is wrong to `errors`. */
export function wholeNumber(
  errors: string[],
  label: string,
  v: string,
  min: number,
  max: number,
): number | undefined {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    errors.push(`${label} must be a whole number from ${min} to ${max}.`);
    return undefined;
  }
  return n;
}

export interface BuiltInput {
  input: UpgradeInput | null;
  /** What is wrong with the form, in words (the input is null when there is any). */
  errors: string[];
}

const person = (c: ContactForm) => {
  const reach = c.reach.trim();
  return {
    name: c.name.trim(),
    ...(reach.includes('@') ? { email: reach } : { phone: reach }),
  };
};

/**
 * The input the planner sends. `toIso` turns the `datetime-local` value (the browser's local time)
 * into an ISO 8601 time; tests pass their own.
 */
export function buildUpgradeInput(
  f: PlannerForm,
  toIso: (local: string) => string = (v) => new Date(v).toISOString(),
): BuiltInput {
  const errors: string[] = [];
  if (!f.cluster) errors.push('Choose a cluster.');
  if (!f.app) errors.push('Choose an application.');
  if (!f.edition) errors.push('Choose the edition to upgrade to.');
  const int = (label: string, v: string, min: number, max: number) => wholeNumber(errors, label, v, min, max);
  const drain = int('The drainage interval', f.drainageIntervalSec, 0, 3600);
  const windowMinutes = int('The window', f.windowMinutes, 1, 7 * 24 * 60);
  let at: string | undefined;
  if (f.at.trim() !== '') {
    try {
      at = toIso(f.at);
    } catch {
      errors.push('The schedule time is not a valid date and time.');
    }
  }
  const roles = Object.keys(CONTACT_LABEL) as ContactRole[];
  const filled = roles.filter((r) => f.contacts[r].name.trim() || f.contacts[r].reach.trim());
  let contacts: UpgradeInput['contacts'];
  if (filled.length > 0) {
    for (const r of roles) {
      const c = f.contacts[r];
      if (!c.name.trim() || c.reach.trim().length < 3)
        errors.push(`${CONTACT_LABEL[r]}: give a name and a phone number or an email address.`);
    }
    contacts = {
      lead: person(f.contacts.lead),
      appAdmin: person(f.contacts.appAdmin),
      lbAdmin: person(f.contacts.lbAdmin),
    };
  }
  const waive: { gate: ReadinessGate; reason: string }[] = [];
  for (const [gate, w] of Object.entries(f.waivers) as [ReadinessGate, { on: boolean; reason: string }][]) {
    if (!w.on) continue;
    if (w.reason.trim().length < 3) errors.push(`Waiving "${gate}" needs a reason (3 characters or more).`);
    else waive.push({ gate, reason: w.reason.trim() });
  }
  if (f.procedure === 'rollout')
    errors.push('An edition rollout is started with editions.rollout (buildRolloutInput).');
  if (errors.length > 0 || f.procedure === 'rollout') return { input: null, errors };
  return {
    input: {
      cluster: f.cluster,
      app: f.app,
      edition: f.edition,
      procedure: f.procedure,
      onFailure: f.onFailure,
      ...(drain !== undefined ? { drainageIntervalSec: drain } : {}),
      ...(windowMinutes !== undefined ? { windowMinutes } : {}),
      ...(at !== undefined ? { at } : {}),
      ...(contacts ? { contacts } : {}),
      ...(waive.length > 0 ? { waive } : {}),
    },
    errors: [],
  };
}

/**
 * The `editions.plan` / `editions.rollout` input of the "edition rollout" procedure: the strategy
 * (grouped with its group size, or atomic), reset and drainage interval. A rollout starts at once
 * and has no readiness gates, so the schedule, window, contacts and waivers of the form do not
 * apply to it.
 */
export function buildRolloutInput(f: PlannerForm): { input: EditionRolloutInput | null; errors: string[] } {
  const errors: string[] = [];
  if (!f.cluster) errors.push('Choose a cluster.');
  if (!f.app) errors.push('Choose an application.');
  if (!f.edition) errors.push('Choose the edition to roll out.');
  const int = (label: string, v: string, min: number, max: number) => wholeNumber(errors, label, v, min, max);
  const drain = int('The drainage interval', f.drainageIntervalSec, 0, 3600);
  const groupSize = groupSizeOf(errors, f.strategy, f.groupSize);
  if (errors.length > 0) return { input: null, errors };
  return {
    input: {
      cluster: f.cluster,
      app: f.app,
      edition: f.edition,
      strategy: f.strategy,
      reset: f.reset,
      ...groupSize,
      ...(drain !== undefined ? { drainageIntervalSec: drain } : {}),
    },
    errors: [],
  };
}

export interface Issue {
  code: string;
  message: string;
  hint: string;
}

/** The issues a refused call carries (`error.data.issues`), else one made of its message. */
export function errorIssues(err: unknown): Issue[] {
  const e = err as { message?: unknown; data?: { issues?: unknown; code?: unknown } | null };
  const issues = Array.isArray(e?.data?.issues) ? (e.data.issues as Issue[]) : [];
  if (issues.length > 0) return issues;
  const code = typeof e?.data?.code === 'string' ? e.data.code : 'ERROR';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const invalid = inputIssues(message);
  if (invalid.length > 0) return invalid;
  return [{ code, message, hint: '' }];
}

/**
 * A refused input arrives as the validator's issues in JSON (the coordinator checks every input):
 * one line per field, "password: a password has at least 12 characters", instead of the JSON.
 */
function inputIssues(message: string): Issue[] {
  if (!message.trimStart().startsWith('[')) return [];
  try {
    const parsed: unknown = JSON.parse(message);
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter((i): i is { message: string; path?: unknown } => typeof i?.message === 'string')
      .map((i) => {
        const path = Array.isArray(i.path) ? i.path.join('.') : '';
        return { code: 'INPUT', message: path ? `${path}: ${i.message}` : i.message, hint: '' };
      });
  } catch {
    return [];
  }
}
