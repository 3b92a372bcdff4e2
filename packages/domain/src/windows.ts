import type { AnnouncedWindow, Phase, Plan, PlanStep, StepKind } from './plan';
import { MAJOR_UPGRADE_DEFAULTS } from './compile-major';
import { formatLocal, isTimeZone, localTime } from './schedule';

/** How long one step of a past run took (the engine records these). */
export interface StepSample {
  kind: StepKind;
  phase: Phase;
  servers: number;
  durationMs: number;
}

/** Steps that belong to the announced window: the preparation is before it, the sign-off ends it. */
const inWindow = (s: PlanStep) => s.phase !== 'preparation' && s.kind !== 'sign-off';

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * Estimates a plan's windows from the step durations of past runs: each step in the window takes the
 * median duration of the samples of its kind; a kind never seen takes the seed's default share (the
 * seed's at-risk window split evenly across the window's steps). The at-risk window is the sum, the
 * downtime the sum over the downtime phase, both rounded up to whole minutes.
 *
 * @param runs how many distinct past runs the samples come from (for the basis text).
 * @returns undefined when there are no samples.
 */
export function learnWindow(
  plan: Plan,
  samples: readonly StepSample[],
  runs: number,
): AnnouncedWindow['learned'] | undefined {
  const usable = samples.filter((s) => Number.isFinite(s.durationMs) && s.durationMs >= 0);
  if (usable.length === 0) return undefined;
  const byKind = new Map<StepKind, number[]>();
  for (const s of usable) {
    const list = byKind.get(s.kind);
    if (list) list.push(s.durationMs);
    else byKind.set(s.kind, [s.durationMs]);
  }
  const medians = new Map([...byKind].map(([k, v]) => [k, median(v)] as const));
  const steps = plan.steps.filter(inWindow);
  const shareMs = steps.length > 0 ? (plan.window.atRiskMinutes * 60_000) / steps.length : 0;
  const unseen = new Set<StepKind>();
  let atRiskMs = 0;
  let downtimeMs = 0;
  for (const s of steps) {
    const m = medians.get(s.kind);
    if (m === undefined) unseen.add(s.kind);
    const ms = m ?? shareMs;
    atRiskMs += ms;
    if (s.phase === 'downtime') downtimeMs += ms;
  }
  const fallback =
    unseen.size > 0 ? `; seed default share for ${[...unseen].sort().join(', ')} (never seen)` : '';
  return {
    atRiskMinutes: Math.ceil(atRiskMs / 60_000),
    downtimeMinutes: Math.ceil(downtimeMs / 60_000),
    basis: `learned from ${runs} past run${runs === 1 ? '' : 's'} (median per step kind)${fallback}`,
    runs,
  };
}

export interface NoticeOptions {
  /** When the window begins, ms epoch. */
  startAt: number;
  /** IANA time zone the times are written in, e.g. 'Europe/London'. */
  timeZone: string;
  /** Who the service belongs to, for the greeting. Default: none. */
  customer?: string;
  /** Who users contact with questions. Default: none. */
  contact?: string;
  /** Minutes into the window the downtime of a major upgrade begins. Default 5 (the seed's figure). */
  downtimeStartsAfterMinutes?: number;
}

/**
 * The notice a customer sends to service users before an upgrade (the seed: "Customers should notify
 * service users of…"): the at-risk window and, for a major upgrade, the downtime inside it, in the
 * users' time zone. Uses the learned window when there is one, and says which figure it uses.
 *
 * @throws RangeError when the time zone is unknown.
 */
export function noticeText(plan: Plan, o: NoticeOptions): string {
  if (!isTimeZone(o.timeZone)) {
    throw new RangeError(`Unknown time zone "${o.timeZone}": give an IANA name such as "Europe/London".`);
  }
  const learned = plan.window.learned;
  const w = learned ?? plan.window;
  const tz = o.timeZone;
  const at = (minutes: number) => o.startAt + minutes * 60_000;
  const end = at(w.atRiskMinutes);
  const time = (ms: number) => formatLocal(ms, tz).split(' ').at(-2)!;
  const sameDay = (a: number, b: number) => {
    const x = localTime(a, tz);
    const y = localTime(b, tz);
    return x.year === y.year && x.month === y.month && x.day === y.day;
  };
  const range = (a: number, b: number) =>
    `from ${formatLocal(a, tz)} to ${sameDay(a, b) ? `${time(b)} ${tz}` : formatLocal(b, tz)}`;

  const what =
    plan.procedure === 'rollback'
      ? `${plan.service} will be returned to edition ${plan.toEdition.name}`
      : `${plan.service} will be upgraded to edition ${plan.toEdition.name}${
          plan.procedure === 'major' ? ' (a major upgrade)' : ''
        }`;
  const lines: string[] = [
    o.customer ? `To the users of ${plan.service} at ${o.customer},` : `To the users of ${plan.service},`,
    '',
    `${what}.`,
    '',
    `Service at risk / limited capability: ${range(o.startAt, end)} (${w.atRiskMinutes} minutes).`,
    '  The service stays available, but with reduced capacity; a request may need retrying.',
  ];
  if (w.downtimeMinutes > 0) {
    const after = o.downtimeStartsAfterMinutes ?? MAJOR_UPGRADE_DEFAULTS.downtimeStartsAfterMinutes;
    const from = at(after);
    lines.push(
      `Service downtime: starting approx. ${after} minutes in, ${range(from, at(after + w.downtimeMinutes))}` +
        ` (about ${w.downtimeMinutes} minutes).`,
      '  The service will be unavailable during this time.',
    );
  } else {
    lines.push('No downtime is expected.');
  }
  lines.push(
    '',
    learned
      ? `These times are estimated from ${learned.runs} past upgrade${learned.runs === 1 ? '' : 's'} of this service (${learned.basis}); the standard estimate is ${plan.window.atRiskMinutes} minutes at risk${plan.window.downtimeMinutes > 0 ? ` with ${plan.window.downtimeMinutes} minutes of downtime` : ''}.`
      : `These times use the standard estimate: ${plan.window.basis}.`,
  );
  if (o.contact) lines.push(`Questions: ${o.contact}.`);
  return lines.join('\n');
}
