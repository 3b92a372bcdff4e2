import { describe, expect, it } from 'vitest';
import { compileRollout, compileSimpleActivation, type RolloutInput } from './compile-rollout';
import { simulateRotation } from './groups';
import { PlanValidationError } from './plan';

const sha = (c: string) => c.repeat(64);
const E1 = { app: 'demo-app', name: '1.0', sha256: sha('b'), size: 10 };
const E2 = { app: 'demo-app', name: '2.0', sha256: sha('a'), size: 20 };

function input(
  over: Partial<RolloutInput> = {},
  ids = ['admin-1', 'admin-2', 'stream-1', 'stream-2'],
): RolloutInput {
  return {
    cluster: 'demo',
    service: 'demo-app',
    servers: ids.map((id) => ({ id, cluster: 'demo', role: id.split('-')[0]! })),
    fromEdition: E1,
    toEdition: E2,
    drainageIntervalSec: 5,
    ...over,
  };
}

const issues = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof PlanValidationError) return err.issues;
    throw err;
  }
  throw new Error('no validation error');
};

describe('compileRollout: grouped', () => {
  it('groupSize 2 on 4 servers: two groups, each keeping a server of every role in rotation', () => {
    const plan = compileRollout(input({ groupSize: 2 }));
    expect(plan.procedure).toBe('rollout');
    expect(plan.rollout).toEqual({
      strategy: 'grouped',
      groupSize: 2,
      reset: 'soft',
      drainageIntervalSec: 5,
      fastPath: false,
    });
    expect(plan.steps.map((s) => [s.key, s.servers])).toEqual([
      ['prep.stage', ['admin-1', 'stream-1', 'admin-2', 'stream-2']],
      ['g1.rollout', ['admin-1', 'stream-1']],
      ['g2.rollout', ['admin-2', 'stream-2']],
    ]);
    const g1 = plan.steps[1]!;
    expect(g1.leavesRotation).toEqual(['admin-1', 'stream-1']);
    expect(g1.rejoinsRotation).toEqual(['admin-1', 'stream-1']);
    // The seed's sequence on each server: quiesce, drain (N s), stop, synchronize, start.
    expect(g1.ops.map((o) => o.op)).toEqual([
      'gate',
      'drain',
      'stop',
      'activate',
      'configure',
      'start',
      'waitHealthy',
      'gate',
    ]);
    expect(g1.ops[1]).toMatchObject({ op: 'drain', maxWaitMs: 5000 });
    expect(plan.maxOutOfRotation).toBe(2);
  });

  it('refuses groupSize 5 on 4 servers, and a group that would empty a role, saying what to do', () => {
    const [tooLarge] = issues(() => compileRollout(input({ groupSize: 5 })));
    expect(tooLarge).toMatchObject({
      code: 'GROUP_SIZE_TOO_LARGE',
      message: 'groupSize 5 exceeds the 4 servers of cluster "demo".',
    });
    expect(tooLarge!.hint).toContain('from 1 to 4');
    const [empties] = issues(() => compileRollout(input({ groupSize: 3 })));
    expect(empties).toMatchObject({ code: 'GROUP_EMPTIES_ROLE' });
    expect(empties!.message).toContain('every "admin" server');
    expect(issues(() => compileRollout(input({ groupSize: 0 })))[0]!.code).toBe('GROUP_SIZE_INVALID');
    expect(issues(() => compileRollout(input({ toEdition: E1 })))[0]!.code).toBe('SAME_EDITION');
  });

  it('a hard reset runs the host-restart command between activation and start', () => {
    const plan = compileRollout(input({ reset: 'hard' }));
    const ops = plan.steps.find((s) => s.key === 'g1.rollout')!.ops;
    expect(ops.map((o) => o.op)).toEqual([
      'gate',
      'drain',
      'stop',
      'activate',
      'configure',
      'command',
      'start',
      'waitHealthy',
      'gate',
    ]);
    expect(ops[5]).toMatchObject({ command: 'host-restart' });
  });

  it('takes the fast path (nothing downloaded) when the edition is installed on every server', () => {
    const everywhere = {
      'admin-1': ['1.0', '2.0'],
      'admin-2': ['1.0', '2.0'],
      'stream-1': ['2.0'],
      'stream-2': ['2.0', '1.0'],
    };
    const fast = compileRollout(input({ installedOn: everywhere }), 'backout');
    expect(fast.procedure).toBe('backout');
    expect(fast.rollout?.fastPath).toBe(true);
    expect(fast.steps.some((s) => s.ops.some((o) => o.op === 'install'))).toBe(false);
    const missing = compileRollout(input({ installedOn: { ...everywhere, 'stream-2': ['1.0'] } }));
    expect(missing.rollout?.fastPath).toBe(false);
    expect(missing.steps[0]!.key).toBe('prep.stage');
  });
});

describe('compileRollout: atomic', () => {
  it('brings half 1 up out of rotation, switches both halves in one step, then updates half 2', () => {
    const plan = compileRollout(input({ strategy: 'atomic' }));
    expect(plan.steps.map((s) => s.key)).toEqual(['prep.stage', 'half1.prepare', 'switch', 'half2.update']);
    const [, prepare, sw, update] = plan.steps;
    expect(prepare!.leavesRotation).toEqual(['admin-1', 'stream-1']);
    expect(prepare!.rejoinsRotation).toEqual([]);
    expect(prepare!.ops.at(-1)).toMatchObject({ op: 'waitHealthy' });
    expect(sw).toMatchObject({
      kind: 'switch',
      servers: [],
      leavesRotation: ['admin-2', 'stream-2'],
      rejoinsRotation: ['admin-1', 'stream-1'],
    });
    expect(update!.rejoinsRotation).toEqual(['admin-2', 'stream-2']);
    expect(plan.maxOutOfRotation).toBe(2);
  });

  it('a single-server target cannot be split in halves: refused with what to do instead', () => {
    const [issue] = issues(() => compileRollout(input({ strategy: 'atomic' }, ['web-1'])));
    expect(issue!.code).toBe('GROUP_EMPTIES_ROLE');
    expect(issue!.hint).toMatch(/single server/);
  });
});

describe('compileRollout: a single server, side by side', () => {
  it('starts the new edition beside, switches to it, upgrades the server, switches back, stops the second instance', () => {
    const plan = compileRollout(input({ beside: true }, ['solo-1']));
    expect(plan.rollout).toMatchObject({ beside: true });
    expect(plan.maxOutOfRotation).toBe(1);
    expect(plan.steps.map((s) => [s.key, s.kind, s.leavesRotation, s.rejoinsRotation])).toEqual([
      ['prep.stage', 'prepare', [], []],
      ['beside.start', 'upgrade', [], []],
      ['beside.in', 'switch', ['solo-1'], ['solo-1@beside']],
      ['beside.upgrade', 'upgrade', [], []],
      ['beside.out', 'switch', ['solo-1@beside'], ['solo-1']],
      ['beside.stop', 'upgrade', [], []],
    ]);
    expect(plan.steps[1]!.ops.map((o) => o.op)).toEqual(['startBeside']);
    expect(plan.steps[3]!.ops.map((o) => o.op)).toEqual([
      'gate',
      'drain',
      'stop',
      'activate',
      'configure',
      'start',
      'waitHealthy',
    ]);
    expect(plan.steps[5]!.ops).toEqual([{ op: 'stopBeside', service: 'demo-app', timeoutMs: 60_000 }]);
  });

  it('takes the fast path when the edition is installed, and refuses a lone server that cannot run one beside', () => {
    const fast = compileRollout(
      input({ beside: true, installedOn: { 'solo-1': ['1.0', '2.0'] } }, ['solo-1']),
    );
    expect(fast.steps[0]!.key).toBe('beside.start');
    const refused = issues(() => compileRollout(input({}, ['solo-1'])));
    expect(refused[0]).toMatchObject({ code: 'GROUP_EMPTIES_ROLE' });
    expect(refused[0]!.hint).toMatch(/beside port \(services\[\]\.beside\.port\).*runtime API/);
  });
});

describe('compileSimpleActivation', () => {
  it('stops everything, activates and starts, and announces the downtime', () => {
    const plan = compileSimpleActivation(input());
    expect(plan.procedure).toBe('activation');
    expect(plan.window.downtimeMinutes).toBeGreaterThan(0);
    const step = plan.steps.find((s) => s.key === 'activate')!;
    expect(step).toMatchObject({ phase: 'downtime', allowsDowntime: true });
    expect(step.leavesRotation).toHaveLength(4);
  });
});

describe('compileRollout: the capacity floor holds per load-balancer pool (issue 14 item 1)', () => {
  const ids4 = ['api-1', 'api-2', 'web-1', 'web-2'];
  // Pools that cross roles: each pool has a server of each role (a backend per service, not per role).
  const crossing = [
    ['api-1', 'web-1'],
    ['api-2', 'web-2'],
  ];
  const groupsOf = (plan: ReturnType<typeof compileRollout>) =>
    plan.groups.map((g) => g.servers.map((s) => s.id));
  const rolloutSteps = (plan: ReturnType<typeof compileRollout>) =>
    plan.steps
      .filter((s) => s.kind === 'upgrade' || s.kind === 'switch')
      .map((s) => [s.key, s.leavesRotation]);

  it('pools across roles: grouped groups swap within a role so no group takes a pool whole, and the simulation agrees', () => {
    const legacy = compileRollout(input({ groupSize: 2 }, ids4));
    expect(groupsOf(legacy)).toEqual([
      ['api-1', 'web-1'],
      ['api-2', 'web-2'],
    ]);
    // Without pools the first group would empty the pool of api-1, web-1: the simulation says so.
    expect(simulateRotation(legacy, { pools: crossing }).issues.map((i) => i.code)).toContain(
      'CAPACITY_POOL_EMPTY',
    );
    const plan = compileRollout(input({ groupSize: 2, pools: crossing }, ids4));
    expect(groupsOf(plan)).toEqual([
      ['api-1', 'web-2'],
      ['api-2', 'web-1'],
    ]);
    expect(rolloutSteps(plan)).toEqual([
      ['g1.rollout', ['api-1', 'web-2']],
      ['g2.rollout', ['api-2', 'web-1']],
    ]);
    expect(simulateRotation(plan, { pools: crossing }).issues).toEqual([]);
  });

  it('a server in two pools (per-role backends plus a second service on api-1 and web-1): grouped and atomic keep every pool served', () => {
    const pools = [
      ['api-1', 'api-2'],
      ['web-1', 'web-2'],
      ['api-1', 'web-1'],
    ];
    const grouped = compileRollout(input({ groupSize: 2, pools }, ids4));
    expect(groupsOf(grouped)).toEqual([
      ['api-1', 'web-2'],
      ['api-2', 'web-1'],
    ]);
    expect(simulateRotation(grouped, { pools }).issues).toEqual([]);
    const atomic = compileRollout(input({ strategy: 'atomic', pools }, ids4));
    expect(rolloutSteps(atomic)).toEqual([
      ['half1.prepare', ['api-1', 'web-2']],
      ['switch', ['api-2', 'web-1']],
      ['half2.update', []],
    ]);
    expect(simulateRotation(atomic, { pools }).issues).toEqual([]);
  });

  it('refuses a group size whose every group would take a pool whole, naming the pool and a smaller --group-size', () => {
    // Every api/web pair is a pool: any group of two takes one of them out whole.
    const pairs = [
      ['api-1', 'web-1'],
      ['api-1', 'web-2'],
      ['api-2', 'web-1'],
      ['api-2', 'web-2'],
    ];
    const [issue, ...rest] = issues(() => compileRollout(input({ groupSize: 2, pools: pairs }, ids4)));
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ code: 'CAPACITY_POOL_EMPTY' });
    expect(issue!.message).toMatch(
      /^Group 1 \(api-1, web-\d\) holds every server of the load-balancer pool of api-1, web-\d: taking it out would leave that pool without a server\.$/,
    );
    expect(issue!.hint).toContain('groupSize below 2');
    // One at a time, every pool keeps a server.
    const one = compileRollout(input({ groupSize: 1, pools: pairs }, ids4));
    expect(simulateRotation(one, { pools: pairs }).issues).toEqual([]);
  });

  it('refuses a single-server pool, for grouped and atomic, saying what to do', () => {
    const pools = [['api-1', 'api-2'], ['web-1', 'web-2'], ['web-2']];
    const [grouped, ...more] = issues(() => compileRollout(input({ pools }, ids4)));
    expect(more).toEqual([]);
    expect(grouped).toMatchObject({
      code: 'CAPACITY_POOL_EMPTY',
      message:
        'The load-balancer pool of web-2 has a single server: rolling web-2 out would leave that pool without a server.',
    });
    expect(grouped!.hint).toMatch(/Add a server to the pool \(rollgate lb configure --pool\)/);
    const [atomic] = issues(() => compileRollout(input({ strategy: 'atomic', pools }, ids4)));
    expect(atomic!.code).toBe('CAPACITY_POOL_EMPTY');
    expect(atomic!.message).toContain('the atomic strategy needs a server of every pool in each half');
  });

  it('atomic halves each keep a server of every pool; halves that cannot are refused', () => {
    const plan = compileRollout(input({ strategy: 'atomic', pools: crossing }, ids4));
    const [h1, h2] = groupsOf(plan);
    for (const pool of crossing) {
      expect(pool.some((id) => h1!.includes(id))).toBe(true);
      expect(pool.some((id) => h2!.includes(id))).toBe(true);
    }
    expect(simulateRotation(plan, { pools: crossing }).issues).toEqual([]);
    const pairs = [...crossing, ['api-1', 'web-2'], ['api-2', 'web-1']];
    const [issue] = issues(() => compileRollout(input({ strategy: 'atomic', pools: pairs }, ids4)));
    expect(issue!.code).toBe('CAPACITY_POOL_EMPTY');
    expect(issue!.message).toMatch(/^Half 1 \(/);
    expect(issue!.hint).toContain('--strategy grouped');
  });

  it('legacy: no pools, or pools that follow the roles, compile exactly the plan of before', () => {
    for (const over of [{ groupSize: 2 }, { strategy: 'atomic' as const }, {}]) {
      const before = compileRollout(input(over));
      expect(compileRollout(input({ ...over, pools: [] }))).toEqual(before);
      const byRole = [
        ['admin-1', 'admin-2'],
        ['stream-1', 'stream-2'],
      ];
      expect(compileRollout(input({ ...over, pools: byRole }))).toEqual(before);
    }
    // Ids outside the target are ignored (a pool is checked on the servers being rolled out).
    const plan = compileRollout(input({ pools: [['admin-1', 'admin-2', 'other-9']] }));
    expect(plan.groups).toEqual(compileRollout(input()).groups);
  });

  it('a lone server in its own pool is rolled out side by side: its second instance keeps the pool served', () => {
    const plan = compileRollout(input({ beside: true, pools: [['solo-1']] }, ['solo-1']));
    expect(plan.rollout).toMatchObject({ beside: true });
    expect(simulateRotation(plan, { pools: [['solo-1']] }).issues).toEqual([]);
  });
});
