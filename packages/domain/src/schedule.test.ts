import { describe, expect, it } from 'vitest';
import { checkSchedule, localTime, schedulePolicySchema } from './schedule';

const H = 3_600_000;
const utc = (s: string) => Date.parse(s);
const NOW = utc('2026-11-01T00:00:00Z');

describe('schedulePolicySchema', () => {
  it('defaults to UTC, Monday-Friday 09:00-17:30, out of hours allowed, no freezes', () => {
    expect(schedulePolicySchema.parse({})).toEqual({
      timeZone: 'UTC',
      businessHours: { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:30' },
      allowOutside: true,
      freezes: [],
    });
  });
  it('refuses an unknown time zone and inverted hours', () => {
    expect(schedulePolicySchema.safeParse({ timeZone: 'Mars/Olympus' }).error?.issues[0]?.message).toContain(
      'IANA',
    );
    expect(
      schedulePolicySchema.safeParse({ businessHours: { days: [1], start: '18:00', end: '09:00' } }).success,
    ).toBe(false);
  });
});

describe('checkSchedule', () => {
  it('accepts a weekday window inside business hours', () => {
    // Tue 24 Nov 2026, 10:00-11:00 London (GMT).
    const r = checkSchedule(
      utc('2026-11-24T10:00:00Z'),
      H,
      { timeZone: 'Europe/London', allowOutside: false },
      NOW,
    );
    expect(r).toEqual({ ok: true, insideBusinessHours: true, problems: [] });
  });

  it('allows out of hours by default but says so, and refuses it when the policy does', () => {
    const sat = utc('2026-11-21T04:55:00Z');
    expect(checkSchedule(sat, H, { timeZone: 'Europe/London' }, NOW)).toEqual({
      ok: true,
      insideBusinessHours: false,
      problems: [],
    });
    const r = checkSchedule(sat, H, { timeZone: 'Europe/London', allowOutside: false }, NOW);
    expect(r.problems.map((p) => p.code)).toEqual(['SCHEDULE_OUTSIDE_HOURS']);
    expect(r.problems[0]!.message).toContain(
      'Monday, Tuesday, Wednesday, Thursday, Friday 09:00-17:30 Europe/London',
    );
  });

  it('refuses a start in the past, with a minute of tolerance', () => {
    expect(checkSchedule(NOW - 30_000, H, {}, NOW).ok).toBe(true);
    const r = checkSchedule(NOW - 2 * 60_000, H, {}, NOW);
    expect(r.problems.map((p) => p.code)).toEqual(['SCHEDULE_IN_PAST']);
  });

  it('names an overlapping freeze, its reason and when it ends', () => {
    const freeze = {
      from: utc('2026-12-01T00:00:00Z'),
      to: utc('2026-12-05T00:00:00Z'),
      reason: 'exam period',
    };
    const r = checkSchedule(utc('2026-11-30T23:30:00Z'), H, { freezes: [freeze] }, NOW);
    expect(r.ok).toBe(false);
    expect(r.problems[0]!.code).toBe('SCHEDULE_FREEZE');
    expect(r.problems[0]!.message).toContain('"exam period"');
    expect(r.problems[0]!.hint).toContain('2026-12-05 00:00 UTC');
    // Ending exactly when the freeze begins does not overlap it.
    expect(checkSchedule(utc('2026-11-30T23:00:00Z'), H, { freezes: [freeze] }, NOW).ok).toBe(true);
  });

  it('does the time-zone math through DST: the local end of a window is an hour later on the spring-forward night', () => {
    // London springs forward at 01:00 UTC on Sun 29 Mar 2026: 00:45 GMT + 1 h = 02:45 BST, not 01:45.
    const policy = {
      timeZone: 'Europe/London',
      businessHours: { days: [7], start: '00:30', end: '02:30' },
      allowOutside: false,
    };
    const start = utc('2026-03-29T00:45:00Z');
    expect(localTime(start + H, 'Europe/London').minutes).toBe(2 * 60 + 45);
    expect(checkSchedule(start, H, policy, NOW - 365 * 24 * H).insideBusinessHours).toBe(false);
    // Half an hour ends at 01:15 UTC = 02:15 BST: inside.
    expect(checkSchedule(start, 30 * 60_000, policy, NOW - 365 * 24 * H).insideBusinessHours).toBe(true);
  });

  it('reports an invalid policy instead of throwing', () => {
    const r = checkSchedule(NOW, H, { timeZone: 'Nowhere/Town' }, NOW);
    expect(r.problems.map((p) => p.code)).toEqual(['SCHEDULE_POLICY_INVALID']);
    expect(r.problems[0]!.message).toContain('timeZone');
  });
});
