import { describe, expect, it } from 'vitest';
import {
  compileMinorUpgrade,
  DB_UPGRADE_TIMEOUT_MS,
  describePlan,
  formServerGroups,
  type MinorUpgradeInput,
} from './compile-minor';
import { simulateRotation } from './groups';
import { actionOpSchema } from './ops';
import { PlanValidationError, type Plan, type PlanIssue } from './plan';
import type { Edition, ServerRef } from './fleet';

const SHA = 'ab'.repeat(32);
const edition = (extra: Partial<Edition> = {}): Edition => ({
  app: 'demo-app',
  name: '2.0',
  sha256: SHA,
  size: 4096,
  ...extra,
});
const srv = (id: string, role: string, cluster = 'demo'): ServerRef => ({ id, cluster, role });

/** Input order is deliberately scrambled: the plan must not depend on it. */
const TWO_BY_TWO = [srv('s2', 'stream'), srv('a1', 'admin'), srv('s1', 'stream'), srv('a2', 'admin')];
const THREE_ROLES = [
  srv('w3', 'web'),
  srv('a2', 'admin'),
  srv('s1', 'stream'),
  srv('w1', 'web'),
  srv('a3', 'admin'),
  srv('s2', 'stream'),
  srv('a1', 'admin'),
  srv('w2', 'web'),
];

const input = (servers: ServerRef[], extra: Partial<MinorUpgradeInput> = {}): MinorUpgradeInput => ({
  cluster: 'demo',
  service: 'demo-app',
  servers,
  toEdition: edition(),
  // The seed's table alone; the preparation steps have tests of their own.
  preparation: { stage: false },
  ...extra,
});

function issuesOf(fn: () => unknown): PlanIssue[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PlanValidationError);
    return (e as PlanValidationError).issues;
  }
  throw new Error('expected a PlanValidationError, but the plan compiled');
}

const step = (plan: Plan, key: string) => {
  const s = plan.steps.find((x) => x.key === key);
  if (!s) throw new Error(`no step ${key}; steps are ${plan.steps.map((x) => x.key).join(', ')}`);
  return s;
};

/**
 * An independent model of the capacity floor (it does not use simulateRotation): replay the plan's
 * leaves/rejoins and record, at the worst moment of every step, what is out of rotation.
 */
function replayRotation(plan: Plan) {
  const groupOf = new Map(plan.groups.flatMap((g) => g.servers.map((s) => [s.id, g.index] as const)));
  const all = plan.groups.flatMap((g) => g.servers);
  const out = new Set<string>();
  const worst: {
    key: string;
    groupsOut: number[];
    rolesInRotation: Map<string, number>;
    outCount: number;
  }[] = [];
  for (const s of plan.steps) {
    s.leavesRotation.forEach((id) => out.add(id));
    const rolesInRotation = new Map<string, number>();
    for (const server of all) {
      rolesInRotation.set(
        server.role,
        (rolesInRotation.get(server.role) ?? 0) + (out.has(server.id) ? 0 : 1),
      );
    }
    worst.push({
      key: s.key,
      groupsOut: [...new Set([...out].map((id) => groupOf.get(id)!))],
      rolesInRotation,
      outCount: out.size,
    });
    s.rejoinsRotation.forEach((id) => out.delete(id));
  }
  return { worst, endOut: [...out] };
}

function expectCapacityFloorHolds(plan: Plan) {
  const { worst, endOut } = replayRotation(plan);
  for (const w of worst) {
    expect(w.groupsOut.length, `groups out at ${w.key}`).toBeLessThanOrEqual(1);
    expect(w.outCount, `servers out at ${w.key}`).toBeLessThanOrEqual(plan.maxOutOfRotation);
    for (const [role, n] of w.rolesInRotation)
      expect(n, `"${role}" servers in rotation at ${w.key}`).toBeGreaterThanOrEqual(1);
  }
  expect(endOut).toEqual([]);
  // Every group really leaves rotation at some point (otherwise the floor would hold trivially).
  const everOut = new Set(worst.flatMap((w) => w.groupsOut));
  expect([...everOut].sort((a, b) => a - b)).toEqual(plan.groups.map((g) => g.index));
  expect(simulateRotation(plan).issues).toEqual([]);
}

describe('formServerGroups', () => {
  it('puts the k-th server of every role (roles by name, servers by id) in group k', () => {
    const groups = formServerGroups(THREE_ROLES);
    expect(groups.map((g) => ({ index: g.index, ids: g.servers.map((s) => s.id) }))).toEqual([
      { index: 1, ids: ['a1', 's1', 'w1'] },
      { index: 2, ids: ['a2', 's2', 'w2'] },
      { index: 3, ids: ['a3', 'w3'] },
    ]);
  });

  it('is the same whatever the input order', () => {
    expect(formServerGroups([...TWO_BY_TWO].reverse())).toEqual(formServerGroups(TWO_BY_TWO));
  });
});

describe('compileMinorUpgrade: 1 role × 2 servers', () => {
  const plan = compileMinorUpgrade(input([srv('w2', 'web'), srv('w1', 'web')]));

  it('forms one group per server', () => {
    expect(plan.groups.map((g) => g.servers.map((s) => s.id))).toEqual([['w1'], ['w2']]);
    expect(plan.maxOutOfRotation).toBe(1);
  });

  it('follows the seed order with a start after each configure, and no db step when none is declared', () => {
    expect(plan.steps.map((s) => s.key)).toEqual([
      'g1.stop',
      'g1.test-others',
      'g1.upgrade',
      'g1.configure',
      'g1.start',
      'g2.stop',
      'g2.test-others',
      'g2.upgrade',
      'g2.configure',
      'g2.start',
      'verify.stop-g1',
      'verify.test-others',
      'verify.start-g1',
      'final-test',
      'sign-off',
    ]);
    expect(step(plan, 'g1.test-others').servers).toEqual(['w2']);
    expect(step(plan, 'g2.test-others').servers).toEqual(['w1']);
  });

  it('announces 2 × 10 minutes at risk and no downtime', () => {
    expect(plan.window).toEqual({
      atRiskMinutes: 20,
      downtimeMinutes: 0,
      basis: '2 servers × 10 min (seed default)',
    });
  });

  it('never leaves the web role without a server in rotation', () => {
    expectCapacityFloorHolds(plan);
  });
});

describe('compileMinorUpgrade: 2 roles × 2 servers (the seed fleet)', () => {
  const plan = compileMinorUpgrade(
    input(TWO_BY_TWO, { toEdition: edition({ dbUpgradeCommand: 'migrate' }) }),
  );
  const g1 = ['a1', 's1'];
  const g2 = ['a2', 's2'];

  it('pairs one admin with one stream server per group', () => {
    expect(plan.groups).toEqual([
      { index: 1, servers: [srv('a1', 'admin'), srv('s1', 'stream')] },
      { index: 2, servers: [srv('a2', 'admin'), srv('s2', 'stream')] },
    ]);
    expect(plan.procedure).toBe('minor');
    expect(plan.maxOutOfRotation).toBe(2);
  });

  it('compiles exactly the seed sequence, with seed step numbers and the inserted starts', () => {
    expect(plan.steps.map((s) => [s.index + 1, s.key, s.seedStep])).toEqual([
      [1, 'g1.stop', 1],
      [2, 'g1.test-others', 2],
      [3, 'g1.upgrade', 3],
      [4, 'g1.configure', 4],
      [5, 'db-upgrade', 5],
      [6, 'g1.start', null],
      [7, 'g2.stop', 6],
      [8, 'g2.test-others', 7],
      [9, 'g2.upgrade', 8],
      [10, 'g2.configure', 9],
      [11, 'g2.start', null],
      [12, 'verify.stop-g1', 10],
      [13, 'verify.test-others', 11],
      [14, 'verify.start-g1', 12],
      [15, 'final-test', 13],
      [16, 'sign-off', 14],
    ]);
    expect(plan.steps.map((s) => s.index)).toEqual(plan.steps.map((_, i) => i));
  });

  it('runs each step on the right servers and moves the right servers in and out of rotation', () => {
    const rows = plan.steps.map((s) => ({
      key: s.key,
      kind: s.kind,
      group: s.group,
      servers: s.servers,
      leaves: s.leavesRotation,
      rejoins: s.rejoinsRotation,
    }));
    expect(rows).toEqual([
      { key: 'g1.stop', kind: 'stop', group: 1, servers: g1, leaves: g1, rejoins: [] },
      { key: 'g1.test-others', kind: 'test', group: 1, servers: g2, leaves: [], rejoins: [] },
      { key: 'g1.upgrade', kind: 'upgrade', group: 1, servers: g1, leaves: [], rejoins: [] },
      { key: 'g1.configure', kind: 'configure', group: 1, servers: g1, leaves: [], rejoins: [] },
      { key: 'db-upgrade', kind: 'db-upgrade', group: null, servers: ['a1'], leaves: [], rejoins: [] },
      { key: 'g1.start', kind: 'start', group: 1, servers: g1, leaves: [], rejoins: g1 },
      { key: 'g2.stop', kind: 'stop', group: 2, servers: g2, leaves: g2, rejoins: [] },
      { key: 'g2.test-others', kind: 'test', group: 2, servers: g1, leaves: [], rejoins: [] },
      { key: 'g2.upgrade', kind: 'upgrade', group: 2, servers: g2, leaves: [], rejoins: [] },
      { key: 'g2.configure', kind: 'configure', group: 2, servers: g2, leaves: [], rejoins: [] },
      { key: 'g2.start', kind: 'start', group: 2, servers: g2, leaves: [], rejoins: g2 },
      { key: 'verify.stop-g1', kind: 'stop', group: 1, servers: g1, leaves: g1, rejoins: [] },
      { key: 'verify.test-others', kind: 'test', group: 1, servers: g2, leaves: [], rejoins: [] },
      { key: 'verify.start-g1', kind: 'start', group: 1, servers: g1, leaves: [], rejoins: g1 },
      { key: 'final-test', kind: 'test', group: null, servers: [...g1, ...g2], leaves: [], rejoins: [] },
      { key: 'sign-off', kind: 'sign-off', group: null, servers: [], leaves: [], rejoins: [] },
    ]);
  });

  it('builds the ops of every kind from the defaults and the edition', () => {
    expect(step(plan, 'g1.stop').ops).toEqual([
      { op: 'gate', state: 'closed' },
      { op: 'drain', service: 'demo-app', maxWaitMs: 30_000 },
      { op: 'stop', service: 'demo-app', timeoutMs: 60_000 },
    ]);
    expect(step(plan, 'g1.test-others').ops).toEqual([
      {
        op: 'probe',
        service: 'demo-app',
        path: '/health',
        expectStatus: 200,
        expectBodyContains: '',
        timeoutMs: 10_000,
      },
    ]);
    expect(step(plan, 'g2.upgrade').ops).toEqual([
      { op: 'install', service: 'demo-app', edition: '2.0', sha256: SHA, size: 4096 },
      { op: 'activate', service: 'demo-app', edition: '2.0' },
    ]);
    expect(step(plan, 'g1.configure').ops).toEqual([
      { op: 'configure', service: 'demo-app', edition: '2.0', env: {} },
    ]);
    expect(step(plan, 'db-upgrade').ops).toEqual([
      { op: 'command', service: 'demo-app', command: 'migrate', timeoutMs: DB_UPGRADE_TIMEOUT_MS },
    ]);
    expect(DB_UPGRADE_TIMEOUT_MS).toBe(600_000);
    expect(step(plan, 'g2.start').ops).toEqual([
      { op: 'start', service: 'demo-app' },
      { op: 'waitHealthy', service: 'demo-app', timeoutMs: 120_000 },
      { op: 'gate', state: 'open' },
    ]);
    expect(step(plan, 'verify.stop-g1').ops).toEqual(step(plan, 'g1.stop').ops);
    expect(step(plan, 'verify.start-g1').ops).toEqual(step(plan, 'g1.start').ops);
    expect(step(plan, 'final-test').ops).toEqual(step(plan, 'g1.test-others').ops);
    expect(step(plan, 'sign-off').ops).toEqual([]);
  });

  it('produces only ops the agent accepts', () => {
    for (const s of plan.steps)
      for (const op of s.ops) expect(actionOpSchema.safeParse(op).success, `${s.key} ${op.op}`).toBe(true);
  });

  it('tags phases and performers', () => {
    expect(new Set(plan.steps.map((s) => s.phase))).toEqual(new Set(['service-at-risk']));
    const by = Object.fromEntries(plan.steps.map((s) => [s.key, s.performedBy]));
    for (const k of [
      'g1.stop',
      'g1.upgrade',
      'g1.configure',
      'db-upgrade',
      'g1.start',
      'verify.stop-g1',
      'verify.start-g1',
    ]) {
      expect(by[k], k).toEqual(['engineer']);
    }
    for (const k of ['g1.test-others', 'g2.test-others', 'verify.test-others', 'final-test']) {
      expect(by[k], k).toEqual(['engineer', 'administrator']);
    }
    expect(by['sign-off']).toEqual(['customer', 'administrator']);
  });

  it('titles steps in operator English', () => {
    expect(step(plan, 'g1.stop').title).toBe('Stop services on server group 1');
    expect(step(plan, 'g1.test-others').title).toBe(
      'Functionality tests against server group 2 via the load balancer',
    );
    expect(step(plan, 'g2.test-others').title).toBe(
      'Functionality tests against server group 1 via the load balancer',
    );
    expect(step(plan, 'g1.start').title).toBe('Start all services on server group 1');
    expect(step(plan, 'g2.upgrade').title).toBe(
      'Upgrade service components on server group 2 to edition 2.0',
    );
    expect(step(plan, 'sign-off').title).toBe('Customer verification and sign-off');
  });

  it('announces 4 × 10 minutes at risk and no downtime', () => {
    expect(plan.window).toEqual({
      atRiskMinutes: 40,
      downtimeMinutes: 0,
      basis: '4 servers × 10 min (seed default)',
    });
  });

  it('keeps one admin and one stream server in rotation throughout', () => {
    expectCapacityFloorHolds(plan);
    const { worst } = replayRotation(plan);
    // The fleet is at half capacity while a group is out, and whole again at the final test.
    expect(worst.find((w) => w.key === 'g2.upgrade')?.groupsOut).toEqual([2]);
    expect(worst.find((w) => w.key === 'final-test')?.outCount).toBe(0);
  });

  it("the floor model above really fails the seed's literal order (groups never started)", () => {
    const literal: Plan = {
      ...plan,
      steps: plan.steps.filter((s) => s.kind !== 'start' || s.key.startsWith('verify.')),
    };
    const { worst } = replayRotation(literal);
    const atG2Stop = worst.find((w) => w.key === 'g2.stop');
    expect(atG2Stop?.groupsOut).toEqual([1, 2]);
    expect(atG2Stop?.rolesInRotation.get('admin')).toBe(0);
  });

  it('is the same plan whatever the order the servers are listed in', () => {
    const again = compileMinorUpgrade(
      input([...TWO_BY_TWO].reverse(), { toEdition: edition({ dbUpgradeCommand: 'migrate' }) }),
    );
    expect(again).toEqual(plan);
  });
});

describe('compileMinorUpgrade: 3 roles with 3/3/2 servers', () => {
  const plan = compileMinorUpgrade(input(THREE_ROLES));

  it('forms three groups, the last without a stream server', () => {
    expect(plan.groups.map((g) => g.servers.map((s) => `${s.role}:${s.id}`))).toEqual([
      ['admin:a1', 'stream:s1', 'web:w1'],
      ['admin:a2', 'stream:s2', 'web:w2'],
      ['admin:a3', 'web:w3'],
    ]);
    expect(plan.maxOutOfRotation).toBe(3);
  });

  it('repeats the group block per group, reusing the seed numbers of group 2 beyond it', () => {
    expect(plan.steps.map((s) => `${s.key}@${s.seedStep}`)).toEqual([
      'g1.stop@1',
      'g1.test-others@2',
      'g1.upgrade@3',
      'g1.configure@4',
      'g1.start@null',
      'g2.stop@6',
      'g2.test-others@7',
      'g2.upgrade@8',
      'g2.configure@9',
      'g2.start@null',
      'g3.stop@6',
      'g3.test-others@7',
      'g3.upgrade@8',
      'g3.configure@9',
      'g3.start@null',
      'verify.stop-g1@10',
      'verify.test-others@11',
      'verify.start-g1@12',
      'final-test@13',
      'sign-off@14',
    ]);
    expect(new Set(plan.steps.map((s) => s.key)).size).toBe(plan.steps.length);
  });

  it('tests every server outside the group that is out', () => {
    expect(step(plan, 'g1.test-others').servers).toEqual(['a2', 's2', 'w2', 'a3', 'w3']);
    expect(step(plan, 'g2.test-others').servers).toEqual(['a1', 's1', 'w1', 'a3', 'w3']);
    expect(step(plan, 'g3.test-others').servers).toEqual(['a1', 's1', 'w1', 'a2', 's2', 'w2']);
    expect(step(plan, 'g3.test-others').title).toBe(
      'Functionality tests against server groups 1 and 2 via the load balancer',
    );
    expect(step(plan, 'verify.test-others').servers).toEqual(['a2', 's2', 'w2', 'a3', 'w3']);
    expect(step(plan, 'final-test').servers.slice().sort()).toEqual(THREE_ROLES.map((s) => s.id).sort());
  });

  it('upgrades and configures the third group like the others', () => {
    expect(step(plan, 'g3.upgrade').servers).toEqual(['a3', 'w3']);
    expect(step(plan, 'g3.configure').ops).toEqual(step(plan, 'g1.configure').ops);
    expect(step(plan, 'g3.stop').leavesRotation).toEqual(['a3', 'w3']);
    expect(step(plan, 'g3.start').rejoinsRotation).toEqual(['a3', 'w3']);
  });

  it('announces 8 × 10 minutes', () => {
    expect(plan.window.atRiskMinutes).toBe(80);
    expect(plan.window.basis).toBe('8 servers × 10 min (seed default)');
  });

  it('never has two groups out, nor a role without a server in rotation', () => {
    expectCapacityFloorHolds(plan);
  });
});

describe('compileMinorUpgrade: large fleets test a bounded sample of the rest', () => {
  // 2 roles × 10 servers: 10 groups of one admin and one stream server.
  const TEN_GROUPS = Array.from({ length: 20 }, (_, k) =>
    srv(`${k % 2 ? 's' : 'a'}${String(Math.floor(k / 2) + 1).padStart(2, '0')}`, k % 2 ? 'stream' : 'admin'),
  );
  const plan = compileMinorUpgrade(input(TEN_GROUPS));
  const testedGroups = (key: string) =>
    [...new Set(step(plan, key).servers.map((id) => Number(id.slice(1))))].sort((a, b) => a - b);

  it('tests the 4 nearest other groups in upgrade order after each stop', () => {
    expect(testedGroups('g1.test-others')).toEqual([2, 3, 4, 5]);
    expect(testedGroups('g2.test-others')).toEqual([1, 3, 4, 5]);
    expect(testedGroups('g5.test-others')).toEqual([3, 4, 6, 7]);
    expect(testedGroups('g10.test-others')).toEqual([6, 7, 8, 9]);
    // Every role of a sampled group is tested: one server per role per group.
    expect(step(plan, 'g5.test-others').servers).toEqual([
      'a03',
      's03',
      'a04',
      's04',
      'a06',
      's06',
      'a07',
      's07',
    ]);
  });

  it('says in the title that it is a sample', () => {
    expect(step(plan, 'g5.test-others').title).toBe(
      'Functionality tests against server groups 3, 4, 6 and 7 (the nearest 4 of the 9 other groups) via the load balancer',
    );
    expect(step(plan, 'g1.test-others').title).toBe(
      'Functionality tests against server groups 2-5 (the nearest 4 of the 9 other groups) via the load balancer',
    );
  });

  it('probes every group on both editions: before its own upgrade and after it', () => {
    for (let j = 1; j <= 10; j++) {
      const before = plan.steps.filter(
        (s) =>
          s.kind === 'test' &&
          s.group !== null &&
          s.group < j &&
          s.servers.includes(`a${String(j).padStart(2, '0')}`),
      );
      const after = plan.steps.filter(
        (s) =>
          s.key.startsWith('g') &&
          s.kind === 'test' &&
          s.group! > j &&
          s.servers.includes(`a${String(j).padStart(2, '0')}`),
      );
      if (j > 1) expect(before.length, `group ${j} before`).toBeGreaterThan(0);
      if (j < 10) expect(after.length, `group ${j} after`).toBeGreaterThan(0);
    }
  });

  it('keeps the cross-check and the final test on every server they name', () => {
    expect(step(plan, 'verify.test-others').servers).toHaveLength(18);
    expect(step(plan, 'verify.test-others').title).toBe(
      'Functionality tests against server groups 2-10 alone via the load balancer',
    );
    expect(step(plan, 'final-test').servers).toHaveLength(20);
    expectCapacityFloorHolds(plan);
  });

  it('grows linearly with the fleet', () => {
    const fleet = (n: number) =>
      Array.from({ length: n }, (_, k) => srv(`x${String(k).padStart(5, '0')}`, `r${k % 2}`));
    const size = (n: number) =>
      compileMinorUpgrade(input(fleet(n))).steps.reduce((sum, s) => sum + s.servers.length, 0);
    // 6 servers named per server in the group steps (stop, upgrade, configure, start, 4 groups tested
    // of 2), plus the cross-check, the final test and group 1's verify steps.
    expect(size(2000) / size(1000)).toBeCloseTo(2, 1);
  });

  it('testGroups widens or narrows the sample; all others when it covers them', () => {
    const wide = compileMinorUpgrade(input(TEN_GROUPS, { testGroups: 9 }));
    expect(step(wide, 'g5.test-others').servers).toHaveLength(18);
    expect(step(wide, 'g5.test-others').title).toBe(
      'Functionality tests against server groups 1-4 and 6-10 via the load balancer',
    );
    const narrow = compileMinorUpgrade(input(TEN_GROUPS, { testGroups: 1 }));
    expect(step(narrow, 'g5.test-others').servers).toEqual(['a04', 's04']);
    expect(step(narrow, 'g1.test-others').servers).toEqual(['a02', 's02']);
    expectCapacityFloorHolds(narrow);
  });

  it('refuses a testGroups that is not a whole number of at least 1', () => {
    for (const testGroups of [0, 1.5, -1]) {
      const issues = issuesOf(() => compileMinorUpgrade(input(TEN_GROUPS, { testGroups })));
      expect(issues.map((i) => i.code)).toEqual(['OPTION_INVALID']);
      expect(issues[0]?.message).toContain('testGroups');
    }
  });
});

describe('compileMinorUpgrade: options', () => {
  it('carries the timings, probe, env and window figure into the plan', () => {
    const plan = compileMinorUpgrade(
      input(TWO_BY_TWO, {
        drainMs: 5_000,
        stopTimeoutMs: 7_000,
        healthTimeoutMs: 9_000,
        probe: { path: '/version', expectBodyContains: '2.0' },
        minutesPerServer: 15,
        env: { LOG_LEVEL: 'debug' },
      }),
    );
    expect(step(plan, 'g2.stop').ops).toEqual([
      { op: 'gate', state: 'closed' },
      { op: 'drain', service: 'demo-app', maxWaitMs: 5_000 },
      { op: 'stop', service: 'demo-app', timeoutMs: 7_000 },
    ]);
    expect(step(plan, 'g2.start').ops[1]).toEqual({
      op: 'waitHealthy',
      service: 'demo-app',
      timeoutMs: 9_000,
    });
    // Fields left out of `probe` keep their defaults.
    expect(step(plan, 'final-test').ops).toEqual([
      {
        op: 'probe',
        service: 'demo-app',
        path: '/version',
        expectStatus: 200,
        expectBodyContains: '2.0',
        timeoutMs: 10_000,
      },
    ]);
    expect(step(plan, 'g2.configure').ops).toEqual([
      { op: 'configure', service: 'demo-app', edition: '2.0', env: { LOG_LEVEL: 'debug' } },
    ]);
    expect(plan.window).toEqual({ atRiskMinutes: 60, downtimeMinutes: 0, basis: '4 servers × 15 min' });
  });

  it('does not share the env object between steps or with the caller', () => {
    const env = { A: '1' };
    const plan = compileMinorUpgrade(input(TWO_BY_TWO, { env }));
    env.A = 'changed';
    const op = step(plan, 'g1.configure').ops[0];
    expect(op?.op === 'configure' && op.env).toEqual({ A: '1' });
  });

  it('signOff: false omits the sign-off step and ends with the final test', () => {
    const plan = compileMinorUpgrade(input(TWO_BY_TWO, { signOff: false }));
    expect(plan.steps.map((s) => s.kind)).not.toContain('sign-off');
    expect(plan.steps.at(-1)?.key).toBe('final-test');
    expect(plan.steps).toHaveLength(14);
    expectCapacityFloorHolds(plan);
  });

  it('includes the sign-off by default, with no servers and no ops', () => {
    const plan = compileMinorUpgrade(input(TWO_BY_TWO));
    const last = plan.steps.at(-1);
    expect(last).toMatchObject({
      key: 'sign-off',
      kind: 'sign-off',
      seedStep: 14,
      servers: [],
      ops: [],
      group: null,
    });
  });
});

describe('compileMinorUpgrade: database upgrade command', () => {
  it('is absent when the edition declares none', () => {
    for (const servers of [TWO_BY_TWO, THREE_ROLES]) {
      const plan = compileMinorUpgrade(input(servers));
      expect(plan.steps.some((s) => s.kind === 'db-upgrade')).toBe(false);
      expect(plan.steps.flatMap((s) => s.ops).some((o) => o.op === 'command')).toBe(false);
      expect(plan.steps.some((s) => s.seedStep === 5)).toBe(false);
    }
  });

  it('runs once, on the first server of group 1, after it is configured and before it rejoins', () => {
    const plan = compileMinorUpgrade(
      input(THREE_ROLES, { toEdition: edition({ dbUpgradeCommand: 'db-migrate' }) }),
    );
    const db = plan.steps.filter((s) => s.kind === 'db-upgrade');
    expect(db).toHaveLength(1);
    expect(db[0]?.servers).toEqual(['a1']);
    expect(plan.groups[0]?.servers[0]?.id).toBe('a1');
    const commandRuns = plan.steps.flatMap((s) =>
      s.ops.filter((o) => o.op === 'command').map(() => s.servers.length),
    );
    expect(commandRuns).toEqual([1]);
    const keys = plan.steps.map((s) => s.key);
    expect(keys.indexOf('db-upgrade')).toBe(keys.indexOf('g1.configure') + 1);
    expect(keys.indexOf('g1.start')).toBe(keys.indexOf('db-upgrade') + 1);
    expect(db[0]?.title).toBe(
      'Run the database upgrade command "db-migrate" once, on server a1 (server group 1)',
    );
    // The designated server is out of rotation while the command runs.
    const { worst } = replayRotation(plan);
    expect(worst.find((w) => w.key === 'db-upgrade')?.groupsOut).toEqual([1]);
    expectCapacityFloorHolds(plan);
  });
});

describe('compileMinorUpgrade: fleets that cannot be upgraded without downtime', () => {
  it('refuses a role with a single server, naming the role and saying what to do', () => {
    const issues = issuesOf(() =>
      compileMinorUpgrade(input([srv('a1', 'admin'), srv('s1', 'stream'), srv('s2', 'stream')])),
    );
    expect(issues).toEqual([
      {
        code: 'ROLE_SINGLE_SERVER',
        message: 'Role "admin" has a single server (a1): taking it out of rotation would stop the service.',
        hint: 'Add a second "admin" server to cluster "demo" so one can serve while the other is upgraded, or run a major upgrade with an announced downtime window.',
      },
    ]);
  });

  it('puts every issue in the error message, with its hint', () => {
    try {
      compileMinorUpgrade(input([srv('a1', 'admin'), srv('s1', 'stream'), srv('s2', 'stream')]));
      expect.unreachable('compiled a plan for a single-server role');
    } catch (e) {
      expect((e as Error).name).toBe('PlanValidationError');
      expect((e as Error).message).toContain('Role "admin" has a single server (a1)');
      expect((e as Error).message).toContain('run a major upgrade with an announced downtime window');
    }
  });

  it('reports several problems together', () => {
    const issues = issuesOf(() =>
      compileMinorUpgrade(
        input(
          [
            srv('a1', 'admin'),
            srv('a1', 'admin'), // listed twice: still one admin server
            srv('s1', 'stream'),
            srv('s2', 'stream'),
            srv('x9', 'stream', 'other'),
          ],
          { toEdition: edition({ name: '../2.0' }) },
        ),
      ),
    );
    expect(issues.map((i) => i.code)).toEqual([
      'SERVER_WRONG_CLUSTER',
      'DUPLICATE_SERVER_ID',
      'ROLE_SINGLE_SERVER',
      'EDITION_NAME_INVALID',
    ]);
    expect(issues[0]?.message).toBe('Server x9 belongs to cluster "other", not "demo".');
    expect(issues[1]?.message).toBe('Server id "a1" is listed 2 times.');
    expect(issues[3]?.message).toContain('"../2.0"');
    for (const i of issues) expect(i.hint.length).toBeGreaterThan(10);
  });

  it('reports every single-server role and the missing second group when no role has two servers', () => {
    const issues = issuesOf(() => compileMinorUpgrade(input([srv('s1', 'stream'), srv('a1', 'admin')])));
    expect(issues.map((i) => [i.code, i.message.match(/"(\w+)"/)?.[1]])).toEqual([
      ['ROLE_SINGLE_SERVER', 'admin'],
      ['ROLE_SINGLE_SERVER', 'stream'],
      ['TOO_FEW_GROUPS', 'demo'],
    ]);
  });

  it('refuses an empty server list', () => {
    const issues = issuesOf(() => compileMinorUpgrade(input([])));
    expect(issues.map((i) => i.code)).toEqual(['NO_SERVERS']);
    expect(issues[0]?.message).toContain('"demo"');
  });

  it('does not count servers of another cluster towards a role', () => {
    const issues = issuesOf(() => compileMinorUpgrade(input([srv('w1', 'web'), srv('w2', 'web', 'prod')])));
    expect(issues.map((i) => i.code)).toEqual([
      'SERVER_WRONG_CLUSTER',
      'ROLE_SINGLE_SERVER',
      'TOO_FEW_GROUPS',
    ]);
  });

  it('refuses unsafe names, a bad artifact and bad options, all at once', () => {
    const issues = issuesOf(() =>
      compileMinorUpgrade({
        ...input(TWO_BY_TWO),
        service: 'demo app',
        toEdition: edition({ name: '2.0/evil', sha256: 'XYZ', size: -1, dbUpgradeCommand: 'rm -rf' }),
        drainMs: -5,
        healthTimeoutMs: 0.5,
        probe: { path: 'health', expectStatus: 42 },
        minutesPerServer: 0,
        env: { 'BAD-NAME': 'x' },
      }),
    );
    expect(issues.map((i) => i.code)).toEqual([
      'SERVICE_NAME_INVALID',
      'EDITION_NAME_INVALID',
      'EDITION_SHA256_INVALID',
      'EDITION_SIZE_INVALID',
      'DB_UPGRADE_COMMAND_INVALID',
      'OPTION_INVALID', // drainMs
      'OPTION_INVALID', // healthTimeoutMs
      'OPTION_INVALID', // probe.path
      'OPTION_INVALID', // probe.expectStatus
      'OPTION_INVALID', // minutesPerServer
      'OPTION_INVALID', // env
    ]);
    const text = issues.map((i) => i.message).join('\n');
    for (const field of [
      'drainMs',
      'healthTimeoutMs',
      'probe.path',
      'probe.expectStatus',
      'minutesPerServer',
      'BAD-NAME',
    ]) {
      expect(text).toContain(field);
    }
  });

  it('accepts the seed edition name forms', () => {
    for (const name of ['2.0', '1.0.1_FIX', 'v3-rc1']) {
      expect(compileMinorUpgrade(input(TWO_BY_TWO, { toEdition: edition({ name }) })).toEdition.name).toBe(
        name,
      );
    }
  });
});

describe('describePlan', () => {
  const plan = compileMinorUpgrade(
    input(TWO_BY_TWO, { toEdition: edition({ dbUpgradeCommand: 'migrate' }) }),
  );
  const text = describePlan(plan);
  const lines = text.split('\n');

  it('opens and closes the at-risk window around the steps', () => {
    const begin = lines.indexOf('── SERVICE AT RISK / LIMITED CAPABILITY WINDOW BEGINS ──');
    const firstStep = lines.findIndex((l) => /^\s*1\. /.test(l));
    expect(begin).toBeGreaterThan(-1);
    expect(firstStep).toBe(begin + 1);
    expect(lines.at(-1)).toBe('── SERVICE AT RISK / LIMITED CAPABILITY WINDOW ENDS ──');
    expect(lines.filter((l) => l.startsWith('──'))).toHaveLength(2);
  });

  it('numbers every step with its seed step, group, performers and servers', () => {
    expect(lines.filter((l) => /^\s*\d+\. /.test(l))).toHaveLength(16);
    expect(text).toContain(
      ' 1. Stop services on server group 1\n    seed step 1 · group 1 · engineer · on a1, s1',
    );
    expect(text).toContain(
      ' 6. Start all services on server group 1\n    added by Rollgate · group 1 · engineer · on a1, s1',
    );
    expect(text).toContain(
      ' 5. Run the database upgrade command "migrate" once, on server a1 (server group 1)\n    seed step 5 · engineer · on a1',
    );
    expect(text).toContain(
      '16. Customer verification and sign-off\n    seed step 14 · customer / administrator',
    );
    expect(text).toContain('close gate (leave rotation) → drain demo-app (up to 30 s) → stop demo-app');
  });

  it('states the groups and the announced window', () => {
    expect(text).toContain('  group 1: a1 (admin), s1 (stream)');
    expect(text).toContain('  group 2: a2 (admin), s2 (stream)');
    expect(text).toContain('for 40 min (4 servers × 10 min (seed default)); no downtime.');
  });
});
