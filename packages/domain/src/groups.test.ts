import { describe, expect, it } from 'vitest';
import { compileMinorUpgrade } from './compile-minor';
import { compareIds, formServerGroups, simulateRotation } from './groups';
import type { ServerRef } from './fleet';
import type { Plan, PlanStep } from './plan';

const srv = (id: string, role: string): ServerRef => ({ id, cluster: 'demo', role });

const seedFleet = [srv('a1', 'admin'), srv('a2', 'admin'), srv('s1', 'stream'), srv('s2', 'stream')];
const compiled = (): Plan =>
  compileMinorUpgrade({
    cluster: 'demo',
    service: 'demo-app',
    servers: seedFleet,
    toEdition: { app: 'demo-app', name: '2.0', sha256: 'cd'.repeat(32), size: 1 },
    // The seed's table alone: preparation steps are covered by the compilers' tests.
    preparation: { stage: false },
  });

/** The same plan with some steps dropped or changed, re-indexed. */
function edit(plan: Plan, f: (steps: PlanStep[]) => PlanStep[]): Plan {
  return { ...plan, steps: f(plan.steps.map((s) => ({ ...s }))).map((s, index) => ({ ...s, index })) };
}

describe('formServerGroups', () => {
  it('returns no groups for no servers', () => {
    expect(formServerGroups([])).toEqual([]);
  });

  it('orders by code unit, not by locale, so every process agrees', () => {
    // Upper case sorts before lower case, and "s10" before "s2".
    const groups = formServerGroups([srv('s2', 'b'), srv('s10', 'b'), srv('x1', 'B'), srv('x2', 'B')]);
    expect(groups.map((g) => g.servers.map((s) => s.id))).toEqual([
      ['x1', 's10'],
      ['x2', 's2'],
    ]);
    expect(['b', 'B', 'a'].sort(compareIds)).toEqual(['B', 'a', 'b']);
  });

  it('sizes the group count by the largest role', () => {
    const groups = formServerGroups([
      srv('a1', 'admin'),
      srv('a2', 'admin'),
      srv('a3', 'admin'),
      srv('a4', 'admin'),
      srv('s1', 'stream'),
      srv('s2', 'stream'),
    ]);
    expect(groups.map((g) => g.servers.length)).toEqual([2, 2, 1, 1]);
    expect(groups.map((g) => g.index)).toEqual([1, 2, 3, 4]);
  });
});

describe('simulateRotation', () => {
  it('passes the compiled plan and records one group out at a time', () => {
    const sim = simulateRotation(compiled());
    expect(sim.issues).toEqual([]);
    expect(sim.snapshots.map((s) => `${s.stepKey}:${s.groupsOut.join('+') || '-'}`)).toEqual([
      'g1.stop:1',
      'g1.test-others:1',
      'g1.upgrade:1',
      'g1.configure:1',
      'g1.start:1', // worst moment of the step: before the gates reopen
      'g2.stop:2',
      'g2.test-others:2',
      'g2.upgrade:2',
      'g2.configure:2',
      'g2.start:2',
      'verify.stop-g1:1',
      'verify.test-others:1',
      'verify.start-g1:1',
      'final-test:-',
      'sign-off:-',
    ]);
  });

  it("catches the seed's literal order, which never starts its groups", () => {
    const seedLiteral = edit(compiled(), (steps) => steps.filter((s) => !/^g\d\.start$/.test(s.key)));
    const codes = simulateRotation(seedLiteral).issues.map((i) => i.code);
    expect(codes).toContain('CAPACITY_SEVERAL_GROUPS_OUT');
    expect(codes).toContain('CAPACITY_ROLE_EMPTY');
    expect(codes).toContain('CAPACITY_TOO_MANY_OUT');
    expect(codes).toContain('TEST_OUT_OF_ROTATION'); // step 7 tests group 1, which is still stopped
    const roleEmpty = simulateRotation(seedLiteral).issues.find((i) => i.code === 'CAPACITY_ROLE_EMPTY');
    expect(roleEmpty?.message).toMatch(/^Step 5 \(g2\.stop\) leaves no "admin" server in rotation/);
  });

  it('lets steps that allow downtime go below the floor, but not test stopped servers', () => {
    const seedLiteral = edit(compiled(), (steps) =>
      steps.filter((s) => !/^g\d\.start$/.test(s.key)).map((s) => ({ ...s, allowsDowntime: true })),
    );
    const codes = new Set(simulateRotation(seedLiteral).issues.map((i) => i.code));
    expect(codes.has('CAPACITY_ROLE_EMPTY')).toBe(false);
    expect(codes.has('CAPACITY_SEVERAL_GROUPS_OUT')).toBe(false);
    expect(codes.has('TEST_OUT_OF_ROTATION')).toBe(true);
  });

  it('refuses to touch the service on a server still in rotation', () => {
    const upgradeFirst = edit(compiled(), (steps) => {
      const i = steps.findIndex((s) => s.key === 'g1.upgrade');
      const [upgrade] = steps.splice(i, 1);
      return upgrade ? [upgrade, ...steps] : steps;
    });
    const issues = simulateRotation(upgradeFirst).issues;
    expect(issues.map((i) => i.code)).toEqual(['DISRUPTIVE_OP_IN_ROTATION', 'DISRUPTIVE_OP_IN_ROTATION']);
    expect(issues[0]?.message).toBe(
      'Step 1 (g1.upgrade) would activate the service on server a1 while it is still in rotation.',
    );
  });

  it('flags declarations that disagree with the gate ops', () => {
    const plan = edit(compiled(), (steps) =>
      steps.map((s) => (s.key === 'g2.stop' ? { ...s, leavesRotation: ['a2'] } : s)),
    );
    expect(simulateRotation(plan).issues.map((i) => i.code)).toEqual(['ROTATION_DECLARATION_MISMATCH']);
  });

  it('reports servers left out of rotation at the end', () => {
    const plan = edit(compiled(), (steps) => steps.filter((s) => s.key !== 'verify.start-g1'));
    const issues = simulateRotation(plan).issues;
    expect(issues.map((i) => i.code)).toContain('ROTATION_LEFT_OUT');
    expect(issues.find((i) => i.code === 'ROTATION_LEFT_OUT')?.message).toContain('a1, s1');
  });

  it('reports a step naming a server outside the plan', () => {
    const plan = edit(compiled(), (steps) =>
      steps.map((s) => (s.key === 'final-test' ? { ...s, servers: [...s.servers, 'ghost'] } : s)),
    );
    expect(simulateRotation(plan).issues.map((i) => i.code)).toEqual(['PLAN_UNKNOWN_SERVER']);
  });
});

describe('simulateRotation: a server served by its second instance', () => {
  const solo = { id: 'solo-1', cluster: 'demo', role: 'web' };
  const step = (index: number, key: string, over: Partial<PlanStep>): PlanStep => ({
    index,
    key,
    kind: 'switch',
    title: key,
    seedStep: null,
    group: null,
    phase: 'service-at-risk',
    performedBy: ['engineer'],
    servers: [],
    ops: [],
    leavesRotation: [],
    rejoinsRotation: [],
    ...over,
  });
  const plan = (steps: PlanStep[]) => ({
    groups: [{ index: 1, servers: [solo] }],
    steps,
    maxOutOfRotation: 1,
  });

  it('counts the twin as serving its role while the server is out, and both switches as balanced', () => {
    const sim = simulateRotation(
      plan([
        step(0, 'in', { leavesRotation: ['solo-1'], rejoinsRotation: ['solo-1@beside'] }),
        step(1, 'out', { leavesRotation: ['solo-1@beside'], rejoinsRotation: ['solo-1'] }),
      ]),
    );
    expect(sim.issues).toEqual([]);
    expect(sim.snapshots.map((s) => s.outOfRotation)).toEqual([[], []]);
  });

  it('refuses a plan that leaves the twin serving, or takes the lone server out with no twin in', () => {
    const leftBeside = simulateRotation(
      plan([step(0, 'in', { leavesRotation: ['solo-1'], rejoinsRotation: ['solo-1@beside'] })]),
    );
    expect(leftBeside.issues.map((i) => i.code)).toEqual(['ROTATION_LEFT_BESIDE', 'ROTATION_LEFT_OUT']);
    const noTwin = simulateRotation(plan([step(0, 'out', { leavesRotation: ['solo-1'] })]));
    expect(noTwin.issues.map((i) => i.code)).toContain('CAPACITY_ROLE_EMPTY');
    const stranger = simulateRotation(
      plan([step(0, 'in', { leavesRotation: ['solo-1'], rejoinsRotation: ['other-1@beside'] })]),
    );
    expect(stranger.issues.map((i) => i.code)).toContain('PLAN_UNKNOWN_SERVER');
  });
});

describe('the capacity floor per load-balancer pool (issue 14 items 1 and 2)', () => {
  // A pool of one service that runs on a1 and s1 only: by roles alone, group 1 would hold both.
  const pools = [
    ['a1', 'a2'],
    ['s1', 's2'],
    ['a1', 's1'],
  ];
  const input = (p?: string[][]) => ({
    cluster: 'demo',
    service: 'demo-app',
    servers: seedFleet,
    toEdition: { app: 'demo-app', name: '2.0', sha256: 'cd'.repeat(32), size: 1 },
    preparation: { stage: false } as const,
    ...(p ? { pools: p } : {}),
  });

  it('issue 14.1: groups never hold every server of a pool; each still has one server per role', () => {
    expect(formServerGroups(seedFleet).map((g) => g.servers.map((s) => s.id))).toEqual([
      ['a1', 's1'],
      ['a2', 's2'],
    ]);
    const groups = formServerGroups(seedFleet, pools).map((g) => g.servers.map((s) => s.id).sort());
    expect(groups).toEqual([
      ['a1', 's2'],
      ['a2', 's1'],
    ]);
  });

  it('issue 14.1: a compiled plan keeps a server of every pool in rotation at every step', () => {
    const plan = compileMinorUpgrade(input(pools));
    expect(simulateRotation(plan, { pools }).issues).toEqual([]);
    // The roles-only plan would have emptied the pool: the simulation says so.
    const rolesOnly = compileMinorUpgrade(input());
    const issues = simulateRotation(rolesOnly, { pools }).issues.filter(
      (i) => i.code === 'CAPACITY_POOL_EMPTY',
    );
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]!.message).toContain('leaves no server of the pool of a1, s1 in rotation');
  });

  it('issue 14.1: a pool no grouping can keep served is refused at compilation, naming it', () => {
    // Every admin with every stream: whichever admin and stream a group pairs, one pool goes dark.
    const cross = [
      ['a1', 's1'],
      ['a1', 's2'],
      ['a2', 's1'],
      ['a2', 's2'],
    ];
    expect(() => compileMinorUpgrade(input(cross))).toThrow(
      /Server group 1 holds every server of the load-balancer pool of a1, s1/,
    );
  });
});
