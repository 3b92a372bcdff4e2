import { describe, expect, it } from 'vitest';
import { compileMajorUpgrade, type MajorUpgradeInput } from './compile-major';
import { compileMinorUpgrade } from './compile-minor';
import { describePlan } from './describe-plan';
import { simulateRotation } from './groups';
import { actionOpSchema, type ActionOp } from './ops';
import { PlanValidationError, type Plan, type PlanIssue } from './plan';
import type { Edition, ServerRef } from './fleet';

const edition = (extra: Partial<Edition> = {}): Edition => ({
  app: 'demo-app',
  name: '2.0',
  sha256: 'ab'.repeat(32),
  size: 4096,
  dbUpgradeCommand: 'migrate',
  ...extra,
});
const FROM: Edition = { app: 'demo-app', name: '1.1', sha256: 'cd'.repeat(32), size: 100 };
const srv = (id: string, role: string): ServerRef => ({ id, cluster: 'demo', role });
const TWO_BY_TWO = [srv('s2', 'stream'), srv('a1', 'admin'), srv('s1', 'stream'), srv('a2', 'admin')];
const THREE_GROUPS = [...TWO_BY_TWO, srv('a3', 'admin'), srv('s3', 'stream')];
const LABEL = 'rg-20261122-0455';

const input = (servers: ServerRef[], extra: Partial<MajorUpgradeInput> = {}): MajorUpgradeInput => ({
  cluster: 'demo',
  service: 'demo-app',
  servers,
  toEdition: edition(),
  preparation: { backupLabel: LABEL },
  ...extra,
});
const step = (plan: Plan, key: string) => {
  const s = plan.steps.find((x) => x.key === key);
  if (!s) throw new Error(`no step ${key}; steps are ${plan.steps.map((x) => x.key).join(', ')}`);
  return s;
};
function issuesOf(fn: () => unknown): PlanIssue[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PlanValidationError);
    return (e as PlanValidationError).issues;
  }
  throw new Error('expected a PlanValidationError, but the plan compiled');
}
const rows = (plan: Plan) =>
  plan.steps.map((s) => [
    s.key,
    s.seedStep,
    s.phase,
    s.servers.join(','),
    s.leavesRotation.join(','),
    s.rejoinsRotation.join(','),
    s.allowsDowntime ?? false,
  ]);

describe('compileMajorUpgrade: the seed fleet (2 roles × 2 servers)', () => {
  const plan = compileMajorUpgrade(input(TWO_BY_TWO, { fromEdition: FROM }));

  it('compiles the seed table after the preparation, with its phases, servers and rotation moves', () => {
    expect(rows(plan)).toEqual([
      ['prep.stage', null, 'preparation', 'a1,s1,a2,s2', '', '', false],
      ['prep.file-backup', null, 'preparation', 'a1,s1,a2,s2', '', '', false],
      ['prep.database-backup', null, 'preparation', 'a1', '', '', false],
      ['g1.stop', 1, 'service-at-risk', 'a1,s1', 'a1,s1', '', false],
      ['g1.test-others', 2, 'service-at-risk', 'a2,s2', '', '', false],
      ['g1.upgrade', 3, 'service-at-risk', 'a1,s1', '', '', false],
      ['g1.configure', 4, 'service-at-risk', 'a1,s1', '', '', false],
      ['db-upgrade', 5, 'downtime', 'a1', '', '', true],
      ['stop-rest', 6, 'downtime', 'a2,s2', 'a2,s2', '', true],
      ['g1.start', null, 'downtime', 'a1,s1', '', 'a1,s1', true],
      ['g1.test', 7, 'downtime', 'a1,s1', '', '', false],
      ['g2.upgrade', 8, 'limited-service-restored', 'a2,s2', '', '', false],
      ['g2.configure', 9, 'limited-service-restored', 'a2,s2', '', '', false],
      ['g2.start', 10, 'limited-service-restored', 'a2,s2', '', 'a2,s2', false],
      ['verify.stop-g1', 11, 'limited-service-restored', 'a1,s1', 'a1,s1', '', false],
      ['verify.test-others', 12, 'limited-service-restored', 'a2,s2', '', '', false],
      ['verify.start-g1', 13, 'limited-service-restored', 'a1,s1', '', 'a1,s1', false],
      ['final-test', 14, 'limited-service-restored', 'a1,s1,a2,s2', '', '', false],
      ['sign-off', 15, 'limited-service-restored', '', '', '', false],
    ]);
    expect(plan.steps.map((s) => s.index)).toEqual(plan.steps.map((_, i) => i));
  });

  it('declares the whole fleet out at most, the designated server and both editions', () => {
    expect(plan.procedure).toBe('major');
    expect(plan.maxOutOfRotation).toBe(4);
    expect(plan.designatedServer).toBe('a1');
    expect(plan.fromEdition).toEqual(FROM);
    expect(plan.toEdition.name).toBe('2.0');
  });

  it('builds the preparation and database ops', () => {
    expect(step(plan, 'prep.stage').ops).toEqual([
      { op: 'install', service: 'demo-app', edition: '2.0', sha256: 'ab'.repeat(32), size: 4096 },
    ]);
    expect(step(plan, 'prep.stage').gate).toBe('installation-files');
    expect(step(plan, 'prep.file-backup').ops).toEqual([
      { op: 'backupFiles', service: 'demo-app', label: LABEL },
    ]);
    expect(step(plan, 'prep.database-backup').ops).toEqual([
      { op: 'dbBackup', service: 'demo-app', label: LABEL, verify: true, timeoutMs: 3_600_000 },
    ]);
    expect(step(plan, 'db-upgrade').ops).toEqual([
      { op: 'command', service: 'demo-app', command: 'migrate', timeoutMs: 600_000 },
    ]);
    for (const s of plan.steps.filter((x) => x.phase === 'preparation')) {
      expect(s.kind).toBe('prepare');
      expect(s.performedBy).toEqual(['engineer']);
      expect(s.leavesRotation.concat(s.rejoinsRotation)).toEqual([]);
    }
    for (const s of plan.steps)
      for (const op of s.ops) expect(actionOpSchema.safeParse(op).success, `${s.key} ${op.op}`).toBe(true);
  });

  it('announces servers × 10 minutes at risk and 15 minutes of downtime', () => {
    expect(plan.window.atRiskMinutes).toBe(40);
    expect(plan.window.downtimeMinutes).toBe(15);
    expect(plan.window.basis).toBe(
      '4 servers × 10 min (seed default); downtime 15 min (seed default), starting approx. 5 min in',
    );
    expect(compileMajorUpgrade(input(TWO_BY_TWO, { downtimeMinutes: 25 })).window.downtimeMinutes).toBe(25);
  });

  it('passes the rotation backstop only because the downtime steps allow it', () => {
    expect(simulateRotation(plan).issues).toEqual([]);
    const strict = { ...plan, steps: plan.steps.map((s) => ({ ...s, allowsDowntime: false })) };
    const codes = simulateRotation(strict).issues.map((i) => i.code);
    expect(codes).toContain('CAPACITY_ROLE_EMPTY');
  });

  it('renders the preparation, downtime and limited-service banners', () => {
    const text = describePlan(plan);
    const banners = text.split('\n').filter((l) => l.startsWith('──'));
    expect(banners).toEqual([
      '── PRE-UPGRADE REQUIREMENTS ──',
      '── SERVICE AT RISK / LIMITED CAPABILITY WINDOW BEGINS ──',
      '── SERVICE DOWNTIME BEGINS ──',
      '── LIMITED SERVICE RESTORED (SERVICE AT RISK / LIMITED CAPABILITY PERSISTS) ──',
      '── FULL SERVICE RESTORED (SERVICE AT RISK / LIMITED CAPABILITY ENDS) ──',
    ]);
    expect(text.split('\n')[0]).toMatch(
      /^Major upgrade of demo-app on cluster "demo" from edition 1.1 to edition 2.0/,
    );
    expect(text).toContain('service downtime 15 min inside it.');
    const learned = describePlan({
      ...plan,
      window: {
        ...plan.window,
        learned: { atRiskMinutes: 33, downtimeMinutes: 9, basis: 'learned from 2 past runs', runs: 2 },
      },
    });
    expect(learned).toContain(
      'Learned: Service at risk / limited capability for 33 min (learned from 2 past runs); service downtime 9 min inside it.',
    );
  });
});

describe('compileMajorUpgrade: three groups', () => {
  const plan = compileMajorUpgrade(
    input(THREE_GROUPS, { preparation: { backupLabel: LABEL, stage: false, fileBackup: false } }),
  );

  it('stops every other group at once and then brings them back one by one', () => {
    expect(plan.steps.map((s) => s.key)).toEqual([
      'prep.database-backup',
      'g1.stop',
      'g1.test-others',
      'g1.upgrade',
      'g1.configure',
      'db-upgrade',
      'stop-rest',
      'g1.start',
      'g1.test',
      'g2.upgrade',
      'g2.configure',
      'g2.start',
      'g3.upgrade',
      'g3.configure',
      'g3.start',
      'verify.stop-g1',
      'verify.test-others',
      'verify.start-g1',
      'final-test',
      'sign-off',
    ]);
    expect(step(plan, 'stop-rest').leavesRotation).toEqual(['a2', 's2', 'a3', 's3']);
    expect(step(plan, 'stop-rest').title).toBe('Stop services on server groups 2 and 3');
    expect(step(plan, 'g1.test-others').servers).toEqual(['a2', 's2', 'a3', 's3']);
    expect(step(plan, 'g3.start').seedStep).toBe(10);
    expect(plan.maxOutOfRotation).toBe(6);
    expect(plan.window.atRiskMinutes).toBe(60);
    expect(simulateRotation(plan).issues).toEqual([]);
  });
});

describe('compileMajorUpgrade: refusals', () => {
  it('needs a database upgrade command, two groups and a database backup, saying what to do', () => {
    const issues = issuesOf(() =>
      compileMajorUpgrade(
        input([srv('a1', 'admin'), srv('a2', 'admin')].slice(0, 1), {
          toEdition: edition({ dbUpgradeCommand: undefined }),
          preparation: { databaseBackup: false, backupLabel: LABEL },
        }),
      ),
    );
    expect(issues.map((i) => i.code)).toEqual([
      'ROLE_SINGLE_SERVER',
      'TOO_FEW_GROUPS',
      'MAJOR_NEEDS_DATABASE_BACKUP',
      'MAJOR_NEEDS_DB_UPGRADE',
    ]);
    const db = issues.find((i) => i.code === 'MAJOR_NEEDS_DB_UPGRADE')!;
    expect(db.message).toContain('Edition 2.0 declares no database upgrade command');
    expect(db.hint).toContain('dbUpgradeCommand');
  });

  it('requires a backup label for its backups, and a safe one', () => {
    expect(
      issuesOf(() => compileMajorUpgrade(input(TWO_BY_TWO, { preparation: {} }))).map((i) => i.code),
    ).toEqual(['BACKUP_LABEL_REQUIRED']);
    const bad = issuesOf(() =>
      compileMajorUpgrade(input(TWO_BY_TWO, { preparation: { backupLabel: '../x' } })),
    );
    expect(bad.map((i) => i.code)).toEqual(['BACKUP_LABEL_INVALID']);
    expect(bad[0]!.hint).toContain('rg-20261122-0455');
  });

  it('refuses a designated server outside the cluster or outside group 1', () => {
    expect(issuesOf(() => compileMajorUpgrade(input(TWO_BY_TWO, { designatedServer: 'x9' })))[0]!.code).toBe(
      'DESIGNATED_SERVER_UNKNOWN',
    );
    expect(issuesOf(() => compileMajorUpgrade(input(TWO_BY_TWO, { designatedServer: 'a2' })))[0]!.code).toBe(
      'DESIGNATED_SERVER_NOT_IN_GROUP_1',
    );
    const plan = compileMajorUpgrade(input(TWO_BY_TWO, { designatedServer: 's1' }));
    expect(step(plan, 'db-upgrade').servers).toEqual(['s1']);
    expect(step(plan, 'prep.database-backup').servers).toEqual(['s1']);
  });
});

describe('shared options: preparation and tests', () => {
  const tests = {
    testMachine: 'tester-1',
    baseUrl: 'http://lb.example:8080',
    probes: [
      { kind: 'login' as const, name: 'login', path: '/login', account: 'tester' },
      { kind: 'version' as const, name: 'version', path: '/version', expect: ['{from}', '{to}'] },
    ],
  };
  const fnOp = (plan: Plan, key: string) => {
    const op = step(plan, key).ops[0] as Extract<ActionOp, { op: 'functionalTest' }>;
    expect(op.op).toBe('functionalTest');
    const v = op.probes.find((p) => p.kind === 'version') as { expect: string[] };
    return v.expect;
  };

  it('runs every test step as one functionalTest on the test machine, with the editions per stage', () => {
    const plan = compileMinorUpgrade({
      ...input(TWO_BY_TWO, { fromEdition: FROM, tests }),
      preparation: { snapshots: ['a1', 's1'], repositoryCheck: 'check-repo', backupLabel: LABEL },
    });
    expect(
      plan.steps.filter((s) => s.phase === 'preparation').map((s) => [s.key, s.gate, s.servers.join(',')]),
    ).toEqual([
      ['prep.stage', 'installation-files', 'a1,s1,a2,s2'],
      ['prep.snapshots', 'snapshots', 'a1,s1'],
      ['prep.repository', 'repository', 'a1'],
      ['prep.test', 'test-machine', 'tester-1'],
    ]);
    expect(step(plan, 'prep.snapshots').ops).toEqual([
      { op: 'command', service: 'demo-app', command: 'snapshot', timeoutMs: 900_000 },
    ]);
    for (const s of plan.steps.filter((x) => x.kind === 'test'))
      expect(s.servers, s.key).toEqual(['tester-1']);
    expect(fnOp(plan, 'prep.test')).toEqual(['1.1']);
    expect(fnOp(plan, 'g1.test-others')).toEqual(['1.1', '2.0']);
    expect(fnOp(plan, 'verify.test-others')).toEqual(['1.1', '2.0']);
    expect(fnOp(plan, 'final-test')).toEqual(['2.0']);
    expect(step(plan, 'final-test').ops[0]).toMatchObject({
      baseUrl: 'http://lb.example:8080',
      timeoutMs: 300_000,
    });
    expect(plan.steps.flatMap((s) => s.ops).some((o) => o.op === 'probe')).toBe(false);
    expect(simulateRotation(plan).issues).toEqual([]);
  });

  it('drops {from} when the from edition is unknown, and refuses a probe left with nothing to expect', () => {
    const plan = compileMajorUpgrade(
      input(TWO_BY_TWO, {
        tests: {
          ...tests,
          probes: [{ kind: 'version', name: 'v', path: '/v', expect: ['{from}', '{to}', '2.0-rc'] }],
        },
      }),
    );
    expect(fnOp(plan, 'g1.test')).toEqual(['2.0', '2.0-rc']);
    expect(fnOp(plan, 'prep.test')).toEqual(['2.0-rc']);
    const issues = issuesOf(() => compileMajorUpgrade(input(TWO_BY_TWO, { tests })));
    expect(issues.map((i) => i.code)).toEqual(['TESTS_VERSION_UNRESOLVED']);
    expect(issues[0]!.message).toContain('before the upgrade starts');
    expect(issues[0]!.hint).toContain('fromEdition');
  });

  it('validates the tests with the probe schema and reports every problem', () => {
    const issues = issuesOf(() =>
      compileMinorUpgrade(
        input(TWO_BY_TWO, {
          tests: {
            testMachine: 'bad machine',
            baseUrl: 'ftp://x',
            probes: [{ kind: 'navigate', name: 'nav', pages: [] }],
          },
        }),
      ),
    );
    expect(issues.map((i) => i.code)).toEqual([
      'TESTS_MACHINE_INVALID',
      'TESTS_BASE_URL_INVALID',
      'TESTS_PROBE_INVALID',
    ]);
    expect(issues[2]!.message).toContain('tests.probes[0] ("nav") is not valid at pages');
  });

  it('keeps the minor defaults: staging only, and no backups unless asked', () => {
    const plan = compileMinorUpgrade(
      input(TWO_BY_TWO, { preparation: undefined, toEdition: edition({ dbUpgradeCommand: undefined }) }),
    );
    expect(plan.steps.filter((s) => s.phase === 'preparation').map((s) => s.key)).toEqual(['prep.stage']);
    expect(plan.designatedServer).toBe('a1');
    expect(plan.steps.find((s) => s.key === 'g1.test-others')?.ops[0]?.op).toBe('probe');
    const issues = issuesOf(() =>
      compileMinorUpgrade(input(TWO_BY_TWO, { preparation: { databaseBackup: true } })),
    );
    expect(issues.map((i) => i.code)).toEqual(['BACKUP_LABEL_REQUIRED']);
    expect(issues[0]!.message).toContain('this minor upgrade takes a database backup');
    const withDb = compileMinorUpgrade(
      input(TWO_BY_TWO, { preparation: { databaseBackup: true, fileBackup: true, backupLabel: LABEL } }),
    );
    expect(withDb.steps.filter((s) => s.phase === 'preparation').map((s) => s.key)).toEqual([
      'prep.stage',
      'prep.file-backup',
      'prep.database-backup',
    ]);
    expect(new Set(withDb.steps.filter((s) => s.phase !== 'preparation').map((s) => s.phase))).toEqual(
      new Set(['service-at-risk']),
    );
  });
});
