import { describe, expect, it } from 'vitest';
import { compileMajorUpgrade } from './compile-major';
import type { Edition, ServerRef } from './fleet';
import { simulateRotation } from './groups';
import { actionOpSchema } from './ops';
import { PlanValidationError, type Plan, type PlanIssue, type RollbackMethod } from './plan';
import { compileRollback, rollbackOptions, type RollbackInput } from './rollback';

const srv = (id: string, role: string): ServerRef => ({ id, cluster: 'demo', role });
const FLEET = [srv('a1', 'admin'), srv('a2', 'admin'), srv('s1', 'stream'), srv('s2', 'stream')];
const THREE = [...FLEET, srv('a3', 'admin'), srv('s3', 'stream')];
const ed = (name: string, db?: string): Edition => ({
  app: 'demo-app',
  name,
  sha256: (name === '1.1' ? 'cd' : 'ab').repeat(32),
  size: 7,
  ...(db ? { dbUpgradeCommand: db } : {}),
});
const LABEL = 'rg-20261122-0455';
const upgrade = (servers = FLEET) =>
  compileMajorUpgrade({
    cluster: 'demo',
    service: 'demo-app',
    servers,
    toEdition: ed('2.0', 'migrate'),
    fromEdition: ed('1.1'),
    preparation: { backupLabel: LABEL },
  });
const original = upgrade();
const rb = (method: RollbackMethod, extra: Partial<RollbackInput> = {}): Plan =>
  compileRollback({
    ofRun: 'run-42',
    method,
    original,
    servers: FLEET,
    fromEdition: ed('1.1'),
    backupLabel: LABEL,
    outOfRotation: [],
    ...extra,
  });
const keys = (p: Plan) => p.steps.map((s) => `${s.key}:${s.phase}${s.allowsDowntime ? '!' : ''}`);
function issuesOf(fn: () => unknown): PlanIssue[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PlanValidationError);
    return (e as PlanValidationError).issues;
  }
  throw new Error('expected a PlanValidationError');
}
const sound = (p: Plan, out: string[] = []) => {
  expect(simulateRotation(p, { initiallyOut: out }).issues).toEqual([]);
  for (const s of p.steps) for (const op of s.ops) expect(actionOpSchema.safeParse(op).success).toBe(true);
};

describe('rollbackOptions', () => {
  const all = ['a1', 'a2', 's1', 's2'];
  const pick = (o: ReturnType<typeof rollbackOptions>) =>
    o.map((x) => `${x.method}:${x.applicable ? 'yes' : 'no'}${x.recommended ? ':recommended' : ''}`);

  it('after a schema migration: reinstall alone is out, the database restore is recommended', () => {
    const o = rollbackOptions({
      plan: original,
      schemaMigrated: true,
      databaseBackup: { label: LABEL, verified: true },
      snapshotsTaken: all,
    });
    expect(pick(o)).toEqual([
      'reinstall:no',
      'restore-database:yes:recommended',
      'restore-snapshots:yes',
      'rebuild:yes',
    ]);
    expect(o[0]!.why).toContain('schema was migrated');
    expect(o.map((x) => x.estimateMinutes)).toEqual([20, 35, 55, 95]);
    expect(o[1]!.why).toContain('(default: 4 servers × 5 min + 15 min database restore)');
  });

  it('without a migration: reinstall is the cheapest, snapshots apply only when every server has one', () => {
    const o = rollbackOptions({
      plan: original,
      schemaMigrated: false,
      databaseBackup: { label: LABEL, verified: true },
      snapshotsTaken: ['a1', 's1'],
    });
    expect(pick(o)).toEqual([
      'reinstall:yes:recommended',
      'restore-database:yes',
      'restore-snapshots:no',
      'rebuild:yes',
    ]);
    expect(o[1]!.why).toContain('would discard what users changed since');
    expect(o[2]!.why).toContain('none was taken of a2, s2');
    expect(o.map((x) => x.estimateMinutes)).toEqual([20, 35, 40, 80]);
  });

  it('after a migration without a verified backup nothing applies, and nothing is recommended', () => {
    const o = rollbackOptions({
      plan: original,
      schemaMigrated: true,
      databaseBackup: { label: LABEL, verified: false },
      snapshotsTaken: all,
    });
    expect(pick(o)).toEqual(['reinstall:no', 'restore-database:no', 'restore-snapshots:no', 'rebuild:no']);
    expect(o[1]!.why).toContain(`the database backup "${LABEL}" was not verified restorable`);
  });

  it('estimates from past step durations when there are samples, and says so', () => {
    const samples = (['stop', 'upgrade', 'configure', 'start', 'test', 'db-restore', 'rebuild'] as const).map(
      (kind) => ({ kind, phase: 'service-at-risk' as const, servers: 2, durationMs: 60_000 }),
    );
    const o = rollbackOptions({
      plan: original,
      schemaMigrated: false,
      databaseBackup: null,
      snapshotsTaken: [],
      samples,
      runs: 4,
    });
    // reinstall on 2 groups: (stop, reinstall, configure, start) × 2 + final test = 9 steps × 1 min.
    expect(o[0]!.estimateMinutes).toBe(9);
    expect(o[0]!.why).toContain('learned from 4 past runs');
    expect(o[1]!.applicable).toBe(false);
    expect(o[1]!.why).toContain('no database backup was taken');
  });
});

describe('compileRollback', () => {
  it('reinstall: a group at a time, the previous edition, no downtime and no sign-off', () => {
    const p = rb('reinstall');
    expect(p.procedure).toBe('rollback');
    expect(p.rollback).toEqual({ ofRun: 'run-42', method: 'reinstall' });
    expect(p.toEdition.name).toBe('1.1');
    expect(p.fromEdition?.name).toBe('2.0');
    expect(keys(p)).toEqual([
      'g1.stop:service-at-risk',
      'g1.reinstall:service-at-risk',
      'g1.configure:service-at-risk',
      'g1.start:service-at-risk',
      'g2.stop:service-at-risk',
      'g2.reinstall:service-at-risk',
      'g2.configure:service-at-risk',
      'g2.start:service-at-risk',
      'final-test:service-at-risk',
    ]);
    expect(p.steps[1]!.ops).toEqual([
      { op: 'install', service: 'demo-app', edition: '1.1', sha256: 'cd'.repeat(32), size: 7 },
      { op: 'activate', service: 'demo-app', edition: '1.1' },
    ]);
    expect(p.steps[2]!.ops).toEqual([{ op: 'configure', service: 'demo-app', edition: '1.1', env: {} }]);
    expect(p.maxOutOfRotation).toBe(2);
    expect(p.window).toMatchObject({ atRiskMinutes: 20, downtimeMinutes: 0 });
    sound(p);
  });

  it('restore-database: stops what is still serving, restores once, then reinstalls per group', () => {
    // The failed major run stopped the rest (seed step 6) with group 1 still out.
    const p = rb('restore-database', { outOfRotation: ['a2', 's2'], schemaMigrated: true });
    expect(keys(p)).toEqual([
      'stop-all:downtime!',
      'db-restore:downtime!',
      'g2.reinstall:downtime!',
      'g2.configure:downtime!',
      'g2.start:downtime!',
      'g1.reinstall:limited-service-restored',
      'g1.configure:limited-service-restored',
      'g1.start:limited-service-restored',
      'final-test:limited-service-restored',
    ]);
    const stop = p.steps[0]!;
    expect(stop.servers).toEqual(['a1', 's1', 'a2', 's2']);
    expect(stop.leavesRotation).toEqual(['a1', 's1']); // a2, s2 are out already: not left again
    expect(p.steps[1]!).toMatchObject({ kind: 'db-restore', servers: ['a1'] });
    expect(p.steps[1]!.ops).toEqual([
      { op: 'dbRestore', service: 'demo-app', label: LABEL, timeoutMs: 3_600_000 },
    ]);
    expect(p.maxOutOfRotation).toBe(4);
    sound(p, ['a2', 's2']);
  });

  it('restore-snapshots: restores every server, the database only when migrated', () => {
    expect(keys(rb('restore-snapshots')).map((k) => k.split(':')[0])).toEqual([
      'stop-all',
      'restore-snapshots',
      'g1.activate',
      'g1.start',
      'g2.activate',
      'g2.start',
      'final-test',
    ]);
    const migrated = rb('restore-snapshots', { schemaMigrated: true });
    expect(migrated.steps.map((s) => s.key)).toContain('db-restore');
    expect(migrated.steps[1]!.ops).toEqual([
      { op: 'command', service: 'demo-app', command: 'restore-snapshot', timeoutMs: 900_000 },
    ]);
    sound(migrated);
  });

  it('rebuild: per group without a database restore, after stopping everything with one', () => {
    const p = rb('rebuild');
    expect(p.steps.map((s) => s.key)).toEqual([
      'g1.stop',
      'g1.rebuild',
      'g1.start',
      'g2.stop',
      'g2.rebuild',
      'g2.start',
      'final-test',
    ]);
    expect(p.steps[1]!.kind).toBe('rebuild');
    expect(p.steps[1]!.ops.map((o) => o.op)).toEqual(['uninstall', 'install', 'activate', 'configure']);
    expect(p.steps.some((s) => s.allowsDowntime)).toBe(false);
    const withDb = rb('rebuild', { schemaMigrated: true });
    expect(withDb.steps.map((s) => s.key).slice(0, 3)).toEqual(['stop-all', 'db-restore', 'g1.rebuild']);
    sound(p);
    sound(withDb);
  });

  it('works on three groups, taking the groups left out by the failed run first', () => {
    const p = compileRollback({
      ofRun: 'run-7',
      method: 'reinstall',
      original: upgrade(THREE),
      servers: THREE,
      fromEdition: ed('1.1'),
      outOfRotation: ['a2', 's2'],
    });
    expect(p.steps.filter((s) => s.kind === 'stop').map((s) => [s.key, s.leavesRotation.join(',')])).toEqual([
      ['g2.stop', ''],
      ['g1.stop', 'a1,s1'],
      ['g3.stop', 'a3,s3'],
    ]);
    sound(p, ['a2', 's2']);
  });

  it('refuses what cannot work, saying what to do', () => {
    const issues = issuesOf(() =>
      rb('reinstall', { schemaMigrated: true, ofRun: 'bad.id', outOfRotation: ['ghost'] }),
    );
    expect(issues.map((i) => i.code)).toEqual([
      'RUN_ID_INVALID',
      'ROLLBACK_NEEDS_DATABASE_RESTORE',
      'OUT_OF_ROTATION_UNKNOWN',
    ]);
    expect(issues[1]!.hint).toContain('restore-database');
    expect(issuesOf(() => rb('restore-database', { backupLabel: undefined })).map((i) => i.code)).toEqual([
      'BACKUP_LABEL_REQUIRED',
    ]);
  });
});
