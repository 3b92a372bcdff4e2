/**
 * The upgrade planner's form, turned into the `upgrade.plan` / `upgrade.start` input, and the
 * refusal's issues read back from an error. Pure: the component holds the form state.
 */
import type { ReadinessGate, UpgradeInput } from './api-types';

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
  procedure: 'minor' | 'major';
  /** Seconds, as typed ('' for the cluster's default). */
  drainageIntervalSec: string;
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
  const int = (label: string, v: string, min: number, max: number): number | undefined => {
    if (v.trim() === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      errors.push(`${label} must be a whole number from ${min} to ${max}.`);
      return undefined;
    }
    return n;
  };
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
  if (errors.length > 0) return { input: null, errors };
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
  return [{ code, message: typeof e?.message === 'string' ? e.message : String(err), hint: '' }];
}
