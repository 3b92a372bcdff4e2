import { describe, expect, it } from 'vitest';
import { compileMajorUpgrade } from './compile-major';
import { compileMinorUpgrade } from './compile-minor';
import type { ServerRef } from './fleet';
import { learnWindow, noticeText, type StepSample } from './windows';

const srv = (id: string, role: string): ServerRef => ({ id, cluster: 'demo', role });
const FLEET = [srv('a1', 'admin'), srv('a2', 'admin'), srv('s1', 'stream'), srv('s2', 'stream')];
const ed = (name: string, db?: string) => ({
  app: 'demo-app',
  name,
  sha256: 'ab'.repeat(32),
  size: 1,
  ...(db ? { dbUpgradeCommand: db } : {}),
});
const major = compileMajorUpgrade({
  cluster: 'demo',
  service: 'demo-app',
  servers: FLEET,
  toEdition: ed('2.0', 'migrate'),
  fromEdition: ed('1.1'),
  preparation: { backupLabel: 'rg-1' },
});
const minor = compileMinorUpgrade({
  cluster: 'demo',
  service: 'demo-app',
  servers: FLEET,
  toEdition: ed('1.2'),
});
const MIN = 60_000;
const sample = (kind: StepSample['kind'], minutes: number): StepSample => ({
  kind,
  phase: 'service-at-risk',
  servers: 2,
  durationMs: minutes * MIN,
});

describe('learnWindow', () => {
  it('is undefined without samples', () => {
    expect(learnWindow(major, [], 0)).toBeUndefined();
  });

  it('sums the median per step kind over the window, and the downtime phase separately', () => {
    const samples = [
      ...[1, 2, 9].map((m) => sample('stop', m)), // median 2
      ...[1, 1].map((m) => sample('test', m)), // median 1
      sample('upgrade', 3),
      sample('configure', 0.5),
      sample('db-upgrade', 4),
      sample('start', 1.5),
      sample('prepare', 100), // before the window: ignored
      sample('sign-off', 100), // ends the window: ignored
    ];
    const learned = learnWindow(major, samples, 3)!;
    // Window steps of the 2×2 major plan: stop ×3 (g1.stop, stop-rest, verify.stop-g1), test ×4,
    // upgrade ×2, configure ×2, db-upgrade ×1, start ×3 (g1.start, g2.start, verify.start-g1).
    // 3×2 + 4×1 + 2×3 + 2×0.5 + 4 + 3×1.5 = 25.5 min → 26.
    expect(learned.atRiskMinutes).toBe(26);
    // Downtime: db-upgrade 4 + stop-rest 2 + g1.start 1.5 + g1.test 1 = 8.5 → 9.
    expect(learned.downtimeMinutes).toBe(9);
    expect(learned.basis).toBe('learned from 3 past runs (median per step kind)');
    expect(learned.runs).toBe(3);
  });

  it('falls back to the seed default share for kinds never seen, and says so', () => {
    // 14 window steps in the minor 2×2 plan (no db step): 40 min / 14 each.
    const learned = learnWindow(minor, [sample('stop', 1)], 1)!;
    // 3 stops × 1 min + 11 other steps × 40/14 min = 34.43 → 35.
    expect(learned.atRiskMinutes).toBe(35);
    expect(learned.downtimeMinutes).toBe(0);
    expect(learned.basis).toBe(
      'learned from 1 past run (median per step kind); seed default share for configure, start, test, upgrade (never seen)',
    );
  });
});

describe('noticeText', () => {
  const start = Date.UTC(2026, 10, 21, 4, 55); // Sat 21 Nov 2026 04:55 UTC (GMT in London)

  it('names the at-risk window and the downtime of a major upgrade in the users’ time zone', () => {
    const text = noticeText(major, {
      startAt: start,
      timeZone: 'Europe/London',
      customer: 'Example University',
      contact: 'it@example.edu',
    });
    expect(text).toContain('To the users of demo-app at Example University,');
    expect(text).toContain('demo-app will be upgraded to edition 2.0 (a major upgrade).');
    expect(text).toContain(
      'Service at risk / limited capability: from Sat 21 Nov 2026 04:55 Europe/London to 05:35 Europe/London (40 minutes).',
    );
    expect(text).toContain(
      'Service downtime: starting approx. 5 minutes in, from Sat 21 Nov 2026 05:00 Europe/London to 05:15 Europe/London (about 15 minutes).',
    );
    expect(text).toContain('These times use the standard estimate: 4 servers × 10 min (seed default)');
    expect(text).toContain('Questions: it@example.edu.');
  });

  it('writes times in the given zone and says there is no downtime for a minor upgrade', () => {
    const text = noticeText(minor, { startAt: start, timeZone: 'America/New_York' });
    expect(text).toContain(
      'from Fri 20 Nov 2026 23:55 America/New_York to Sat 21 Nov 2026 00:35 America/New_York',
    );
    expect(text).toContain('No downtime is expected.');
    expect(text).not.toContain('Service downtime');
  });

  it('uses the learned window when there is one, and says which figure it uses', () => {
    const plan = {
      ...major,
      window: {
        ...major.window,
        learned: {
          atRiskMinutes: 28,
          downtimeMinutes: 9,
          basis: 'learned from 3 past runs (median per step kind)',
          runs: 3,
        },
      },
    };
    const text = noticeText(plan, { startAt: start, timeZone: 'UTC' });
    expect(text).toContain('from Sat 21 Nov 2026 04:55 UTC to 05:23 UTC (28 minutes)');
    expect(text).toContain('from Sat 21 Nov 2026 05:00 UTC to 05:09 UTC (about 9 minutes)');
    expect(text).toContain('These times are estimated from 3 past upgrades of this service');
    expect(text).toContain('the standard estimate is 40 minutes at risk with 15 minutes of downtime');
  });

  it('refuses an unknown time zone with a clear error', () => {
    expect(() => noticeText(minor, { startAt: start, timeZone: 'Atlantis/Central' })).toThrow(/IANA name/);
  });
});
