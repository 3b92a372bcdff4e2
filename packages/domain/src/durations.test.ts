import { describe, expect, it } from 'vitest';
import { formatAge, formatDuration } from './durations';

describe('formatDuration (issue 15 item 3: one copy for the console and the CLI)', () => {
  it('prints seconds, then minutes and seconds, hours and minutes, days and hours', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(4000)).toBe('4s');
    expect(formatDuration(59_999)).toBe('59s');
    expect(formatDuration(60_000)).toBe('1m 00s');
    expect(formatDuration(125_000)).toBe('2m 05s');
    expect(formatDuration(3 * 3600_000 + 7 * 60_000)).toBe('3h 07m');
    expect(formatDuration(47 * 3600_000 + 59 * 60_000)).toBe('47h 59m');
    expect(formatDuration(52 * 3600_000)).toBe('2d 4h');
  });

  it('prints a negative duration (a clock skew) as 0s', () => {
    expect(formatDuration(-5)).toBe('0s');
  });
});

describe('formatAge', () => {
  it('is the duration since `at`, or never', () => {
    expect(formatAge(1_000, 126_000)).toBe('2m 05s ago');
    expect(formatAge(null, 5)).toBe('never');
    expect(formatAge(undefined, 5)).toBe('never');
  });
});
