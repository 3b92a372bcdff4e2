import type { Edition, ServerRef } from './fleet';
import {
  DB_RESTORE_TIMEOUT_MS,
  HOOK_TIMEOUT_MS,
  RESTORE_SNAPSHOT_COMMAND,
  StepBuilder,
  UPGRADE_DEFAULTS,
  assertPlanSound,
  backupLabelSchema,
  firstMessage,
  ids,
  issueList,
  plural,
  resolveProbe,
  resolveTests,
  validateEdition,
  validateMs,
  validateProbe,
  validateServers,
  validateTests,
  type FunctionalTestOptions,
  type ProbeOptions,
} from './compile-common';
import { formServerGroups } from './groups';
import {
  PlanValidationError,
  type AnnouncedWindow,
  type Plan,
  type PlanStep,
  type RollbackMethod,
  type ServerGroup,
} from './plan';
import { learnWindow, type StepSample } from './windows';

export const ROLLBACK_METHODS: readonly RollbackMethod[] = [
  'reinstall',
  'restore-database',
  'restore-snapshots',
  'rebuild',
];

/** Default estimates when no past run says otherwise. */
export const ROLLBACK_DEFAULTS = Object.freeze({
  /** Minutes per server of each method's server work (stop, reinstall or restore, start, test). */
  minutesPerServer: Object.freeze({
    reinstall: 5,
    'restore-database': 5,
    'restore-snapshots': 10,
    rebuild: 20,
  } satisfies Record<RollbackMethod, number>),
  /** Minutes to restore the database from its backup, once. */
  databaseRestoreMinutes: 15,
});

export interface RollbackContext {
  /** The upgrade plan being rolled back. */
  plan: Plan;
  /** Its db-upgrade step succeeded: the schema is the new edition's. */
  schemaMigrated: boolean;
  /** The run's database backup, when one was taken. */
  databaseBackup: { label: string; verified: boolean } | null;
  /** Servers whose pre-upgrade snapshot was taken. */
  snapshotsTaken: string[];
  /** Step durations of past runs, for the estimates. Default: none (per-server defaults). */
  samples?: StepSample[];
  /** How many distinct runs the samples come from. Default 1 when there are samples. */
  runs?: number;
}

export interface RollbackOption {
  method: RollbackMethod;
  applicable: boolean;
  why: string;
  estimateMinutes: number;
  recommended: boolean;
}

/**
 * The seed's rollback procedures, judged against what the failed run did and what it kept: which
 * can be used, why (or why not), how long each would take, and the one to recommend — the cheapest
 * that can be used, and the database restore whenever the schema was migrated (nothing else returns
 * the database to what the previous edition expects). None is recommended when none can be used.
 */
export function rollbackOptions(ctx: RollbackContext): RollbackOption[] {
  const { plan, schemaMigrated: migrated } = ctx;
  const servers = plan.groups.flatMap((g) => g.servers);
  const backup = ctx.databaseBackup;
  const verified = backup?.verified === true;
  const noBackupWhy = !backup
    ? 'no database backup was taken before the upgrade'
    : `the database backup "${backup.label}" was not verified restorable`;
  const taken = new Set(ctx.snapshotsTaken);
  const missingSnapshots = servers.filter((s) => !taken.has(s.id)).map((s) => s.id);
  const previous = plan.fromEdition?.name ?? 'the previous edition';

  const judge = (method: RollbackMethod): { applicable: boolean; why: string } => {
    switch (method) {
      case 'reinstall':
        return migrated
          ? {
              applicable: false,
              why: `The database schema was migrated, and ${previous} cannot run against it: reinstalling alone is not enough. Use restore-database.`,
            }
          : {
              applicable: true,
              why: `Reactivates ${previous} (still installed side by side) one server group at a time and reconnects it to the database; no downtime.`,
            };
      case 'restore-database':
        if (!verified) {
          return {
            applicable: false,
            why: `Needs a verified database backup, but ${noBackupWhy}.${migrated ? ' The schema was migrated: restore it by hand from another backup, then use reinstall.' : ''}`,
          };
        }
        return {
          applicable: true,
          why: migrated
            ? `Restores the database from backup "${backup!.label}" and reinstalls ${previous} on every server; the service is down from the stop until group 1 is back.`
            : `Possible, but not needed: the schema was not migrated, and restoring backup "${backup!.label}" would discard what users changed since it was taken.`,
        };
      case 'restore-snapshots':
        if (missingSnapshots.length > 0) {
          return {
            applicable: false,
            why: `Needs a snapshot of every server, but ${missingSnapshots.length === servers.length ? 'none were taken' : `none was taken of ${missingSnapshots.join(', ')}`}.`,
          };
        }
        if (migrated && !verified) {
          return {
            applicable: false,
            why: `The schema was migrated, so the database must be restored too, but ${noBackupWhy}.`,
          };
        }
        return {
          applicable: true,
          why: `Restores every server's pre-upgrade snapshot${migrated ? ` and the database from backup "${backup!.label}"` : ''}; the service is down from the stop until group 1 is back.`,
        };
      case 'rebuild':
        if (migrated && !verified) {
          return {
            applicable: false,
            why: `The schema was migrated, so the database must be restored too, but ${noBackupWhy}.`,
          };
        }
        return {
          applicable: true,
          why: `Uninstalls every edition, reinstalls ${previous} and reconnects to the ${migrated ? 'restored ' : ''}database, for a clean installation; the slowest, for servers corrupted beyond the other procedures.`,
        };
    }
  };

  const runs = ctx.runs ?? 1;
  const stand: Edition = plan.fromEdition ?? { ...plan.toEdition, name: 'previous' };
  const options = ROLLBACK_METHODS.map((method) => {
    const { applicable, why } = judge(method);
    const draft = draftRollback({
      ...defaults(plan, method),
      edition: stand,
      servers,
      backupLabel: backup?.label ?? 'estimate',
      outOfRotation: [],
      schemaMigrated: migrated,
    });
    const learned = ctx.samples ? learnWindow(draft, ctx.samples, runs) : undefined;
    const estimateMinutes = learned?.atRiskMinutes ?? draft.window.atRiskMinutes;
    const source = learned ? learned.basis : `default: ${draft.window.basis}`;
    return {
      method,
      applicable,
      why: `${why} Estimate: ${estimateMinutes} min (${source}).`,
      estimateMinutes,
    };
  });

  const candidates = options.filter((o) => o.applicable);
  const preferred =
    (migrated ? candidates.find((o) => o.method === 'restore-database') : undefined) ??
    // Without a migration a database restore only loses data; keep it for when nothing else applies.
    cheapest(candidates.filter((o) => migrated || o.method !== 'restore-database')) ??
    cheapest(candidates);
  return options.map((o) => ({ ...o, recommended: o === preferred }));
}

function cheapest<T extends { estimateMinutes: number }>(list: T[]): T | undefined {
  // Stable: on a tie the earlier method (the seed's order of preference) wins.
  return list.reduce<T | undefined>(
    (best, o) => (!best || o.estimateMinutes < best.estimateMinutes ? o : best),
    undefined,
  );
}

export interface RollbackInput {
  /** The run being rolled back. */
  ofRun: string;
  method: RollbackMethod;
  /** The upgrade plan of that run. */
  original: Plan;
  /** The servers of the cluster now. */
  servers: ServerRef[];
  /** The edition to return to (the one the servers ran before the upgrade). */
  fromEdition: Edition;
  /** Label of the run's database backup; required when the rollback restores the database. */
  backupLabel?: string;
  /** Servers out of rotation when the rollback starts (where the failed run left them). */
  outOfRotation: string[];
  /**
   * The run's db-upgrade step succeeded. Then restore-snapshots and rebuild restore the database
   * too, and reinstall is refused. Default false.
   */
  schemaMigrated?: boolean;
  /** How long a server may finish in-flight work after leaving rotation, ms. Default 30000. */
  drainMs?: number;
  /** How long the service may take to stop, ms. Default 60000. */
  stopTimeoutMs?: number;
  /** How long a started service may take to report healthy, ms. Default 120000. */
  healthTimeoutMs?: number;
  /** The local functionality test when `tests` is absent. Default as for upgrades. */
  probe?: Partial<ProbeOptions>;
  /** Functionality tests from a test machine; version probes expect the edition returned to. */
  tests?: FunctionalTestOptions;
}

interface DraftInput {
  cluster: string;
  service: string;
  method: RollbackMethod;
  ofRun: string;
  edition: Edition;
  undone: Edition;
  servers: ServerRef[];
  designated: string | undefined;
  backupLabel: string;
  outOfRotation: string[];
  schemaMigrated: boolean;
  drainMs: number;
  stopTimeoutMs: number;
  healthTimeoutMs: number;
  probe: ProbeOptions;
  tests: ReturnType<typeof resolveTests>;
}

function defaults(
  plan: Plan,
  method: RollbackMethod,
): Omit<DraftInput, 'edition' | 'servers' | 'backupLabel' | 'outOfRotation' | 'schemaMigrated'> {
  return {
    cluster: plan.cluster,
    service: plan.service,
    method,
    ofRun: 'estimate',
    undone: plan.toEdition,
    designated: plan.designatedServer,
    drainMs: UPGRADE_DEFAULTS.drainMs,
    stopTimeoutMs: UPGRADE_DEFAULTS.stopTimeoutMs,
    healthTimeoutMs: UPGRADE_DEFAULTS.healthTimeoutMs,
    probe: resolveProbe(undefined),
    tests: undefined,
  };
}

/** Whether the method restores the database. */
function restoresDatabase(method: RollbackMethod, schemaMigrated: boolean): boolean {
  return method === 'restore-database' || (schemaMigrated && method !== 'reinstall');
}

/**
 * Compiles one of the seed's rollback procedures into a plan that returns the cluster to the
 * edition it ran before the upgrade:
 *
 * - reinstall: per server group, stop → reinstall and activate the previous edition → configure
 *   (reconnect to the database) → start; then the final test. No downtime.
 * - restore-database: stop every server still in rotation (downtime begins) → restore the database
 *   on the designated server → per group reinstall, configure, start; then the final test.
 * - restore-snapshots: stop every server → restore each server's snapshot → [restore the database
 *   when the schema was migrated] → per group activate the previous edition and start; final test.
 * - rebuild: with a database restore, stop every server and restore it first; otherwise a group at
 *   a time; per group uninstall every edition, reinstall, activate and configure → start; final test.
 *
 * Groups that have servers out of rotation already go first, so the fleet is whole again soonest.
 * Those servers are not "left" again (their stop still runs: it is idempotent). A step is in the
 * downtime (with `allowsDowntime`) exactly when it may leave a role with no server in rotation.
 * There is no sign-off: a rollback is authorised before it runs.
 *
 * @throws PlanValidationError with every issue found at once.
 */
export function compileRollback(input: RollbackInput): Plan {
  const issues = issueList();
  const o = input.original;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(input.ofRun ?? '')) {
    issues.add(
      'RUN_ID_INVALID',
      `ofRun "${input.ofRun}" is not a run id.`,
      'Give the id of the run to roll back, as shown by `rollgate runs list`.',
    );
  }
  if (!ROLLBACK_METHODS.includes(input.method)) {
    issues.add(
      'ROLLBACK_METHOD_INVALID',
      `Rollback method "${input.method}" is not known.`,
      `Choose one of ${ROLLBACK_METHODS.join(', ')} (see the run's rollback options).`,
    );
  }
  const members = validateServers(issues, o.cluster, input.servers, 'rollback');
  validateEdition(issues, input.fromEdition, 'FROM_EDITION', 'fromEdition');
  validateMs(issues, 'drainMs', input.drainMs, 0);
  validateMs(issues, 'stopTimeoutMs', input.stopTimeoutMs, 1);
  validateMs(issues, 'healthTimeoutMs', input.healthTimeoutMs, 1);
  validateProbe(issues, input.probe);
  validateTests(issues, input.tests, o.toEdition);
  const migrated = input.schemaMigrated ?? false;
  if (input.method === 'reinstall' && migrated) {
    issues.add(
      'ROLLBACK_NEEDS_DATABASE_RESTORE',
      `Run ${input.ofRun} migrated the database schema, and edition ${input.fromEdition?.name} cannot run against it: reinstalling alone would leave the service broken.`,
      'Roll back with restore-database (or restore-snapshots / rebuild, which restore the database too).',
    );
  }
  if (restoresDatabase(input.method, migrated)) {
    if (input.backupLabel === undefined) {
      issues.add(
        'BACKUP_LABEL_REQUIRED',
        `Rollback method ${input.method} restores the database, but no backupLabel was given.`,
        "Give the label of the run's verified database backup (its prep.database-backup step shows it).",
      );
    } else {
      const l = backupLabelSchema.safeParse(input.backupLabel);
      if (!l.success) {
        issues.add(
          'BACKUP_LABEL_INVALID',
          `backupLabel "${input.backupLabel}" is not valid: ${firstMessage(l.error)}.`,
          'Give the label of the run\'s database backup exactly as recorded, e.g. "rg-20261122-0455".',
        );
      }
    }
  }
  const known = new Set(members.map((s) => s.id));
  for (const id of input.outOfRotation ?? []) {
    if (!known.has(id)) {
      issues.add(
        'OUT_OF_ROTATION_UNKNOWN',
        `outOfRotation names server "${id}", which is not a server of cluster "${o.cluster}".`,
        'List only servers of this cluster, as the failed run left them.',
      );
    }
  }
  if (issues.length > 0) throw new PlanValidationError(issues);

  const plan = draftRollback({
    cluster: o.cluster,
    service: o.service,
    method: input.method,
    ofRun: input.ofRun,
    edition: input.fromEdition,
    undone: o.toEdition,
    servers: members,
    designated: o.designatedServer,
    backupLabel: input.backupLabel ?? '',
    outOfRotation: [...new Set(input.outOfRotation ?? [])],
    schemaMigrated: migrated,
    drainMs: input.drainMs ?? UPGRADE_DEFAULTS.drainMs,
    stopTimeoutMs: input.stopTimeoutMs ?? UPGRADE_DEFAULTS.stopTimeoutMs,
    healthTimeoutMs: input.healthTimeoutMs ?? UPGRADE_DEFAULTS.healthTimeoutMs,
    probe: resolveProbe(input.probe),
    tests: resolveTests(input.tests),
  });
  return assertPlanSound(plan, input.outOfRotation ?? []);
}

function draftRollback(d: DraftInput): Plan {
  const groups = formServerGroups(d.servers);
  const initiallyOut = new Set(d.outOfRotation);
  const designated =
    d.designated !== undefined && d.servers.some((s) => s.id === d.designated)
      ? d.designated
      : (groups[0]?.servers[0]?.id ?? '');
  const b = new StepBuilder({
    service: d.service,
    edition: d.edition,
    fromEdition: d.undone,
    drainMs: d.drainMs,
    stopTimeoutMs: d.stopTimeoutMs,
    healthTimeoutMs: d.healthTimeoutMs,
    probe: d.probe,
    env: {},
    tests: d.tests,
  });
  const name = d.edition.name;
  const all = groups.flatMap(ids);
  // Groups the failed run left out of rotation first: they are not serving anyway.
  const ordered = [...groups].sort(
    (x, y) =>
      Number(y.servers.some((s) => initiallyOut.has(s.id))) -
        Number(x.servers.some((s) => initiallyOut.has(s.id))) || x.index - y.index,
  );
  const inRotation = (list: string[]) => list.filter((id) => !initiallyOut.has(id));
  // A server is left only once: after its group is stopped it stays out until its start.
  const stopGroup = (g: ServerGroup) =>
    b.stop(`g${g.index}.stop`, `Stop services on server group ${g.index}`, null, g.index, ids(g), {
      leavesRotation: inRotation(ids(g)),
    });
  const stopAll = () =>
    b.stop('stop-all', 'Stop services on every server', null, null, all, { leavesRotation: inRotation(all) });
  const dbRestore = () =>
    b.push({
      key: 'db-restore',
      kind: 'db-restore',
      title: `Restore the database from backup "${d.backupLabel}" on server ${designated}`,
      seedStep: null,
      group: null,
      performedBy: ['engineer'],
      servers: [designated],
      ops: [{ op: 'dbRestore', service: d.service, label: d.backupLabel, timeoutMs: DB_RESTORE_TIMEOUT_MS }],
    });
  const reinstall = (g: ServerGroup) => {
    b.upgrade(
      `g${g.index}.reinstall`,
      null,
      g,
      `Reinstall and activate edition ${name} on server group ${g.index}`,
    );
    b.configure(`g${g.index}.configure`, null, g);
  };
  const rebuild = (g: ServerGroup) =>
    b.push({
      key: `g${g.index}.rebuild`,
      kind: 'rebuild',
      title: `Rebuild server group ${g.index}: uninstall every edition, reinstall edition ${name}, reconnect to the database`,
      seedStep: null,
      group: g.index,
      performedBy: ['engineer'],
      servers: ids(g),
      ops: [{ op: 'uninstall', service: d.service }, ...b.upgradeOps, ...b.configureOps],
    });
  const withDb = restoresDatabase(d.method, d.schemaMigrated);

  switch (d.method) {
    case 'reinstall':
      for (const g of ordered) {
        stopGroup(g);
        reinstall(g);
        b.start(`g${g.index}.start`, null, g);
      }
      break;
    case 'restore-database':
      stopAll();
      dbRestore();
      for (const g of ordered) {
        reinstall(g);
        b.start(`g${g.index}.start`, null, g);
      }
      break;
    case 'restore-snapshots':
      stopAll();
      b.push({
        key: 'restore-snapshots',
        kind: 'rebuild',
        title: "Restore every server's pre-upgrade snapshot",
        seedStep: null,
        group: null,
        performedBy: ['engineer'],
        servers: all,
        ops: [
          {
            op: 'command',
            service: d.service,
            command: RESTORE_SNAPSHOT_COMMAND,
            timeoutMs: HOOK_TIMEOUT_MS,
          },
        ],
      });
      if (withDb) dbRestore();
      for (const g of ordered) {
        b.push({
          key: `g${g.index}.activate`,
          kind: 'upgrade',
          title: `Activate edition ${name} on server group ${g.index}`,
          seedStep: null,
          group: g.index,
          performedBy: ['engineer'],
          servers: ids(g),
          ops: [{ op: 'activate', service: d.service, edition: name }],
        });
        b.start(`g${g.index}.start`, null, g);
      }
      break;
    case 'rebuild':
      if (withDb) {
        stopAll();
        dbRestore();
      }
      for (const g of ordered) {
        if (!withDb) stopGroup(g);
        rebuild(g);
        b.start(`g${g.index}.start`, null, g);
      }
      break;
  }
  b.test('final-test', 'Final functionality tests via the load balancer', null, null, all, 'final');

  const { steps, peakGroups } = markDowntime(b.build(), groups, initiallyOut);
  const largest = Math.max(0, ...groups.map((g) => g.servers.length));
  const perServer = ROLLBACK_DEFAULTS.minutesPerServer[d.method];
  const dbMinutes = withDb ? ROLLBACK_DEFAULTS.databaseRestoreMinutes : 0;
  const hasDowntime = steps.some((s) => s.allowsDowntime);
  const g1Size = ordered[0]?.servers.length ?? 0;
  const window: AnnouncedWindow = {
    atRiskMinutes: d.servers.length * perServer + dbMinutes,
    downtimeMinutes: hasDowntime ? dbMinutes + g1Size * perServer : 0,
    basis: `${plural(d.servers.length, 'server')} × ${perServer} min${dbMinutes ? ` + ${dbMinutes} min database restore` : ''}`,
  };
  return {
    procedure: 'rollback',
    cluster: d.cluster,
    service: d.service,
    toEdition: d.edition,
    fromEdition: d.undone,
    designatedServer: designated,
    rollback: { ofRun: d.ofRun, method: d.method },
    groups,
    steps,
    // One group at a time unless the draft itself has several out (stop-all, or a run left so).
    maxOutOfRotation: peakGroups > 1 ? d.servers.length : largest,
    window,
  };
}

/**
 * Replays the leaves and rejoins and marks every step that may leave a role without a server in
 * rotation as downtime; steps after the downtime are 'limited-service-restored'.
 */
function markDowntime(
  steps: PlanStep[],
  groups: ServerGroup[],
  initiallyOut: Set<string>,
): { steps: PlanStep[]; peakGroups: number } {
  const roleOf = new Map(groups.flatMap((g) => g.servers.map((s) => [s.id, s.role] as const)));
  const groupOf = new Map(groups.flatMap((g) => g.servers.map((s) => [s.id, g.index] as const)));
  const roleSize = new Map<string, number>();
  for (const r of roleOf.values()) roleSize.set(r, (roleSize.get(r) ?? 0) + 1);
  const out = new Set(initiallyOut);
  let seenDowntime = false;
  let peakGroups = 0;
  const marked = steps.map((s) => {
    for (const id of s.leavesRotation) out.add(id);
    const outPerRole = new Map<string, number>();
    for (const id of out) {
      const r = roleOf.get(id);
      if (r !== undefined) outPerRole.set(r, (outPerRole.get(r) ?? 0) + 1);
    }
    peakGroups = Math.max(peakGroups, new Set([...out].map((id) => groupOf.get(id))).size);
    const down = [...roleSize].some(([r, n]) => (outPerRole.get(r) ?? 0) >= n);
    for (const id of s.rejoinsRotation) out.delete(id);
    if (down) {
      seenDowntime = true;
      return { ...s, phase: 'downtime' as const, allowsDowntime: true };
    }
    return {
      ...s,
      phase: seenDowntime ? ('limited-service-restored' as const) : ('service-at-risk' as const),
    };
  });
  return { steps: marked, peakGroups };
}
