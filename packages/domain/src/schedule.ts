import { z } from 'zod';
import type { PlanIssue } from './plan';

/** True when the runtime knows the IANA time zone (Intl throws a RangeError otherwise). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const hhmm = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time of day is "HH:MM" on a 24-hour clock, e.g. "09:00"');
const epochMs = z.number().int().min(0);

/**
 * When upgrades of a cluster may run. The seed schedules upgrades in business hours, and allows
 * them outside on request.
 */
export const schedulePolicySchema = z.object({
  /** IANA time zone the business hours are in. Default 'UTC'. */
  timeZone: z
    .string()
    .default('UTC')
    .refine(isTimeZone, 'the time zone must be an IANA name such as "Europe/London"'),
  /** Default Monday to Friday, 09:00 to 17:30. */
  businessHours: z
    .object({
      /** ISO weekdays: 1 Monday … 7 Sunday. */
      days: z.array(z.number().int().min(1).max(7)).min(1).default([1, 2, 3, 4, 5]),
      start: hhmm.default('09:00'),
      end: hhmm.default('17:30'),
    })
    .refine((b) => b.start < b.end, 'business hours must start before they end')
    .default({ days: [1, 2, 3, 4, 5], start: '09:00', end: '17:30' }),
  /** Whether an upgrade may run outside business hours. Default true (the seed allows it on request). */
  allowOutside: z.boolean().default(true),
  /** Periods no upgrade may overlap (change freezes). Default []. */
  freezes: z
    .array(
      z
        .object({ from: epochMs, to: epochMs, reason: z.string().min(1).max(500) })
        .refine((f) => f.from < f.to, 'a freeze must end after it starts'),
    )
    .default([]),
});

export type SchedulePolicy = z.input<typeof schedulePolicySchema>;
export type SchedulePolicyResolved = z.output<typeof schedulePolicySchema>;

export interface ScheduleCheck {
  /** True when there are no problems. */
  ok: boolean;
  /** The whole window [start, start + duration] falls inside one business day's hours. */
  insideBusinessHours: boolean;
  problems: PlanIssue[];
}

/** A start up to this far in the past is "now" (clocks and form submissions lag). */
export const PAST_START_TOLERANCE_MS = 60_000;

/** Local calendar parts of an instant in a time zone. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  /** ISO weekday, 1 Monday … 7 Sunday. */
  weekday: number;
  /** Minutes since local midnight. */
  minutes: number;
}

const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time of `at` (ms epoch) in `timeZone`, DST included (Intl does the zone math). */
export function localTime(at: number, timeZone: string): LocalTime {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(at))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAY[parts.weekday ?? ''] ?? 0,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

const toMinutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
const DAY_NAME = ['', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

function whenText(at: number, timeZone: string): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC (${formatLocal(at, timeZone)})`;
}

/** "Sat 22 Nov 2026 04:55 Europe/London": how notices and checks name a moment. */
export function formatLocal(at: number, timeZone: string): string {
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(at))) p[part.type] = part.value;
  return `${p.weekday} ${p.day} ${p.month} ${p.year} ${p.hour}:${p.minute} ${timeZone}`;
}

/**
 * Checks a proposed upgrade window against a cluster's schedule policy: refuses a start in the past
 * (more than a minute ago), a window overlapping a change freeze, and, when the policy does not
 * allow it, a window outside business hours. Pure: `now` is passed in.
 */
export function checkSchedule(
  startAt: number,
  durationMs: number,
  policy: SchedulePolicy | undefined,
  now: number,
): ScheduleCheck {
  const problems: PlanIssue[] = [];
  const add = (code: string, message: string, hint: string) => problems.push({ code, message, hint });
  const parsed = schedulePolicySchema.safeParse(policy ?? {});
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    add(
      'SCHEDULE_POLICY_INVALID',
      `The schedule policy is not valid${first?.path.length ? ` at ${first.path.join('.')}` : ''}: ${first?.message}.`,
      "Fix the cluster's schedule settings (`rollgate cluster settings`).",
    );
    return { ok: false, insideBusinessHours: false, problems };
  }
  const p = parsed.data;
  if (!Number.isFinite(startAt) || !Number.isFinite(durationMs) || durationMs < 0) {
    add(
      'SCHEDULE_INPUT_INVALID',
      `The window start (${startAt}) and duration (${durationMs} ms) must be finite, the duration not negative.`,
      'Give the start as milliseconds since the epoch and the duration in milliseconds.',
    );
    return { ok: false, insideBusinessHours: false, problems };
  }
  const endAt = startAt + durationMs;

  if (startAt < now - PAST_START_TOLERANCE_MS) {
    add(
      'SCHEDULE_IN_PAST',
      `The window would start at ${whenText(startAt, p.timeZone)}, which is in the past.`,
      'Choose a start time from now on.',
    );
  }
  for (const f of p.freezes) {
    if (startAt < f.to && endAt > f.from) {
      add(
        'SCHEDULE_FREEZE',
        `The window overlaps the change freeze "${f.reason}" (${whenText(f.from, p.timeZone)} to ${whenText(f.to, p.timeZone)}).`,
        `Start after the freeze ends at ${whenText(f.to, p.timeZone)}, or finish before it begins.`,
      );
    }
  }

  const bh = p.businessHours;
  const a = localTime(startAt, p.timeZone);
  // The end instant itself may be the closing minute, so look at the last minute inside the window.
  const b = localTime(Math.max(startAt, endAt - 1), p.timeZone);
  const sameDay = a.year === b.year && a.month === b.month && a.day === b.day;
  const inside =
    sameDay &&
    bh.days.includes(a.weekday) &&
    a.minutes >= toMinutes(bh.start) &&
    b.minutes < toMinutes(bh.end);
  if (!inside && !p.allowOutside) {
    const days = [...new Set(bh.days)].sort((x, y) => x - y).map((d) => DAY_NAME[d]);
    add(
      'SCHEDULE_OUTSIDE_HOURS',
      `The window ${whenText(startAt, p.timeZone)} to ${formatLocal(endAt, p.timeZone)} is outside business hours (${days.join(', ')} ${bh.start}-${bh.end} ${p.timeZone}), and this cluster does not allow upgrades outside them.`,
      'Move the window inside business hours, shorten it, or allow out-of-hours upgrades in the schedule policy.',
    );
  }
  return { ok: problems.length === 0, insideBusinessHours: inside, problems };
}
