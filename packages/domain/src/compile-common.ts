import { z } from 'zod';
import {
  appNameSchema,
  editionNameSchema,
  safeName,
  sha256Schema,
  type Edition,
  type ServerRef,
} from './fleet';
import {
  actionOpSchema,
  functionalProbeSchema,
  type ActionOp,
  type FunctionalProbe,
  type FunctionalProbeResolved,
} from './ops';
import {
  PlanValidationError,
  type Performer,
  type Phase,
  type Plan,
  type PlanIssue,
  type PlanStep,
  type Procedure,
  type ReadinessGate,
  type ServerGroup,
} from './plan';
import { compareIds, formServerGroups, poolEmptiedBy, simulateRotation } from './groups';

/**
 * What the minor and major upgrade compilers (and the rollback compiler, in part) share: input
 * validation, option defaults, the op lists and the step builders. Nothing here is exported from
 * the package except the option types and defaults re-exported by the compilers.
 */

/** The functionality test run on a server: one HTTP request to the managed service. */
export interface ProbeOptions {
  /** Path on the managed service, starting with '/'. Default '/health'. */
  path: string;
  /** Status the service must answer with. Default 200. */
  expectStatus: number;
  /** Text the body must contain; '' accepts any body. Default ''. */
  expectBodyContains: string;
  /** How long one probe may take, ms. Default 10000. */
  timeoutMs: number;
}

export const DEFAULT_PROBE: Readonly<ProbeOptions> = Object.freeze({
  path: '/health',
  expectStatus: 200,
  expectBodyContains: '',
  timeoutMs: 10_000,
});

/** Defaults of the optional fields shared by every upgrade input. */
export const UPGRADE_DEFAULTS = Object.freeze({
  drainMs: 30_000,
  stopTimeoutMs: 60_000,
  healthTimeoutMs: 120_000,
  /** The seed's notice figure: "number of servers x 10 minutes". */
  minutesPerServer: 10,
  signOff: true,
  /** How long one functionalTest op (every probe of a stage) may take, ms. */
  functionalTestTimeoutMs: 5 * 60_000,
});

/** A schema step may rebuild indexes; ten minutes is generous without hiding a hung command. */
export const DB_UPGRADE_TIMEOUT_MS = 10 * 60_000;
/** A dump plus its verifying test restore of a large StreamDB can take a while. */
export const DB_BACKUP_TIMEOUT_MS = 60 * 60_000;
/** Restoring is one pass of the dump, usually quicker than backup + verify. */
export const DB_RESTORE_TIMEOUT_MS = 60 * 60_000;
/** Customer hooks (snapshot, repository check) call out to hypervisors and shares. */
export const HOOK_TIMEOUT_MS = 15 * 60_000;

/** The command each agent's config maps to its hypervisor's snapshot hook. */
export const SNAPSHOT_COMMAND = 'snapshot';
/** The command each agent's config maps to its hypervisor's snapshot restore hook. */
export const RESTORE_SNAPSHOT_COMMAND = 'restore-snapshot';

/**
 * The seed's pre-upgrade requirements that Rollgate checks itself before the window begins.
 * Defaults differ between minor and major upgrades (see each field).
 */
export interface PreparationOptions {
  /**
   * Stage the new edition on every server before the window (download, verify the sha256, unpack
   * side by side without activating it). Default true.
   */
  stage?: boolean;
  /** Archive each server's configured directories. Default false for minor, true for major. */
  fileBackup?: boolean;
  /** Ids of the servers that have a snapshot hook configured; each is snapshotted. Default []. */
  snapshots?: string[];
  /**
   * Back up the database on the designated server and prove the dump restores. Default false for
   * minor; always true for major (the seed requires it; `false` is refused).
   */
  databaseBackup?: boolean;
  /** Name of the repository-check command configured on the agents. Default: no check. */
  repositoryCheck?: string;
  /**
   * Label of this run's backups and snapshots, e.g. "rg-20261122-0455": 1-128 letters, digits, ".",
   * "_" or "-". Required when any backup or snapshot is on; no default (a rollback finds them by it).
   */
  backupLabel?: string;
}

/** Functionality tests run from a test machine through the load balancer (the seed's test machine). */
export interface FunctionalTestOptions {
  /** The agent (server id) that runs the tests; it need not be a server of the cluster. */
  testMachine: string;
  /** http(s) URL of the service through the load balancer, as users reach it. */
  baseUrl: string;
  /**
   * The probes. A version probe's `expect` entries may contain `{from}` and `{to}`, replaced per
   * stage: before start only the from edition is expected, during the run either, at the final
   * test only the to edition (an entry naming `{from}` is dropped when `fromEdition` is unknown).
   */
  probes: FunctionalProbe[];
  /** How long one stage's tests may take, ms. Default 300000. */
  timeoutMs?: number;
}

/** The input every upgrade compiler accepts. */
export interface UpgradeInput {
  /** The cluster being upgraded; every server must belong to it. */
  cluster: string;
  /** The managed service (application) on the agents, e.g. 'demo-app'. */
  service: string;
  /** The servers of the cluster. */
  servers: ServerRef[];
  /**
   * Server ids per load-balancer pool (floorPools of the cluster's LB configuration): groups are
   * formed so that none takes the last server of a pool. Default: roles only.
   */
  pools?: string[][];
  /** The edition to roll out. */
  toEdition: Edition;
  /** What the servers run now (what a rollback returns to); put on `plan.fromEdition`. Default unknown. */
  fromEdition?: Edition;
  /** How long a server may finish in-flight work after leaving rotation, ms. Default 30000. */
  drainMs?: number;
  /** How long the service may take to stop, ms. Default 60000. */
  stopTimeoutMs?: number;
  /** How long a started service may take to report healthy, ms. Default 120000. */
  healthTimeoutMs?: number;
  /**
   * The local functionality test used when `tests` is absent; fields left out take their defaults:
   * `{ path: '/health', expectStatus: 200, expectBodyContains: '', timeoutMs: 10000 }`.
   */
  probe?: Partial<ProbeOptions>;
  /** Functionality tests from a test machine through the load balancer. Default: local probes. */
  tests?: FunctionalTestOptions;
  /** Pre-upgrade requirements Rollgate checks itself. Defaults: see {@link PreparationOptions}. */
  preparation?: PreparationOptions;
  /** The server that runs the database steps. Default: the first server of group 1. */
  designatedServer?: string;
  /** Minutes per server for the announced "service at risk" window. Default 10 (the seed's figure). */
  minutesPerServer?: number;
  /** Include the final customer verification and sign-off step. Default true. */
  signOff?: boolean;
  /** Environment overrides carried into the new edition's configuration. Default {}. */
  env?: Record<string, string>;
}

export interface ResolvedPreparation {
  stage: boolean;
  fileBackup: boolean;
  snapshots: string[];
  databaseBackup: boolean;
  repositoryCheck: string | undefined;
  backupLabel: string | undefined;
}

export interface ResolvedTests {
  testMachine: string;
  baseUrl: string;
  probes: FunctionalProbeResolved[];
  timeoutMs: number;
}

export interface ResolvedUpgrade {
  cluster: string;
  service: string;
  edition: Edition;
  fromEdition: Edition | undefined;
  drainMs: number;
  stopTimeoutMs: number;
  healthTimeoutMs: number;
  probe: ProbeOptions;
  minutesPerServer: number;
  signOff: boolean;
  env: Record<string, string>;
  preparation: ResolvedPreparation;
  tests: ResolvedTests | undefined;
  designated: string;
}

const MAX_MS = 24 * 3600 * 1000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Mirrors the op schema's backup label, with a message that says what a good one looks like. */
export const backupLabelSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    'a backup label is 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
  )
  .refine((s) => !s.includes('..'), 'a backup label must not contain ".."');
const commandNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a command name is 1-64 letters, digits, ".", "_" or "-"');
const httpUrlSchema = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'it must be an http:// or https:// URL');

export type Issues = PlanIssue[] & { add(code: string, message: string, hint: string): void };
/** An issue list with a shorthand `add`; non-enumerable, so the list still equals a plain array. */
export function issueList(): Issues {
  const list: PlanIssue[] = [];
  const add = (code: string, message: string, hint: string) => void list.push({ code, message, hint });
  return Object.defineProperty(list, 'add', { value: add, enumerable: false }) as Issues;
}

/**
 * Validates what every upgrade input shares. Returns the issues found (all of them, at once), the
 * cluster members (first entry per id) and the groups they form.
 */
export function validateUpgradeInput(
  input: UpgradeInput,
  procedure: Exclude<Procedure, 'rollback'>,
): { issues: Issues; members: ServerRef[]; groups: ServerGroup[] } {
  const issues = issueList();
  validateName(issues, input.cluster, input.service);
  const members = validateServers(issues, input.cluster, input.servers, procedure);
  validateEdition(issues, input.toEdition, 'EDITION', 'Edition');
  const groups = formServerGroups(members, input.pools ?? []);
  for (const g of groups) {
    const pool = poolEmptiedBy(g, input.pools ?? []);
    if (pool)
      issues.add(
        'CAPACITY_POOL_EMPTY',
        `Server group ${g.index} holds every server of the load-balancer pool of ${pool.join(', ')}: taking it out would leave that pool without a server.`,
        'Give the pool a server of a role with a second server, or split it by role (rollgate lb configure --pool).',
      );
  }
  if (members.length > 0 && groups.length < 2) {
    issues.add(
      'TOO_FEW_GROUPS',
      `Cluster "${input.cluster}" forms only ${groups.length} server group: a ${procedure} upgrade needs at least 2, ${
        procedure === 'minor'
          ? 'one to serve while the other is upgraded.'
          : 'one to restore service with while the others are upgraded.'
      }`,
      procedure === 'minor'
        ? 'Give every role at least two servers, or run a major upgrade with an announced downtime window.'
        : 'Give every role at least two servers behind the load balancer.',
    );
  }
  if (input.fromEdition !== undefined) {
    validateEdition(issues, input.fromEdition, 'FROM_EDITION', 'fromEdition');
    if (input.fromEdition?.name === input.toEdition?.name) {
      issues.add(
        'SAME_EDITION',
        `The servers already run edition ${input.toEdition.name} (fromEdition and toEdition are the same).`,
        'Choose a different edition to roll out, or correct fromEdition.',
      );
    }
  }
  validateTimings(issues, input);
  validatePreparation(issues, input, procedure, members);
  validateTests(issues, input.tests, input.fromEdition);
  const d = input.designatedServer;
  if (d !== undefined) {
    if (!members.some((s) => s.id === d)) {
      issues.add(
        'DESIGNATED_SERVER_UNKNOWN',
        `designatedServer "${d}" is not a server of cluster "${input.cluster}".`,
        `Name one of ${members.map((s) => s.id).join(', ') || 'its servers'}, or leave it out to use the first server of group 1.`,
      );
    } else if (
      (procedure === 'major' || input.toEdition?.dbUpgradeCommand !== undefined) &&
      groups[0] &&
      !groups[0].servers.some((s) => s.id === d)
    ) {
      issues.add(
        'DESIGNATED_SERVER_NOT_IN_GROUP_1',
        `designatedServer "${d}" is not in server group 1: the database upgrade runs from the new edition, which only group 1 runs at that point.`,
        `Name a server of group 1 (${groups[0].servers.map((s) => s.id).join(', ')}), or leave it out.`,
      );
    }
  }
  return { issues, members, groups };
}

export function validateName(issues: Issues, cluster: string, service: string): void {
  const c = safeName('cluster name').safeParse(cluster);
  if (!c.success) {
    issues.add(
      'CLUSTER_NAME_INVALID',
      `Cluster name "${cluster}" is not valid: ${firstMessage(c.error)}.`,
      'Use the cluster name exactly as registered in Rollgate.',
    );
  }
  const s = appNameSchema.safeParse(service);
  if (!s.success) {
    issues.add(
      'SERVICE_NAME_INVALID',
      `Service name "${service}" is not valid: ${firstMessage(s.error)}.`,
      'Use the managed service name configured on the agents, e.g. "demo-app".',
    );
  }
}

/** Keeps the first entry of each id that belongs to the cluster; everything else is reported. */
export function validateServers(
  issues: Issues,
  cluster: string,
  servers: ServerRef[] | undefined,
  procedure: Procedure,
): ServerRef[] {
  const list = servers ?? [];
  if (list.length === 0) {
    issues.add(
      'NO_SERVERS',
      `No servers were given for cluster "${cluster}".`,
      "Register the cluster's servers (at least two of each role) before planning an upgrade.",
    );
  }
  const seen = new Map<string, number>();
  const members: ServerRef[] = [];
  for (const s of list) {
    if (!s.id?.trim() || !s.role?.trim()) {
      issues.add(
        'SERVER_INVALID',
        `A server has an empty ${!s.id?.trim() ? 'id' : 'role'} (${JSON.stringify(s)}).`,
        'Every server needs a non-empty id and role.',
      );
      continue;
    }
    const n = (seen.get(s.id) ?? 0) + 1;
    seen.set(s.id, n);
    if (n > 1) continue;
    if (s.cluster !== cluster) {
      issues.add(
        'SERVER_WRONG_CLUSTER',
        `Server ${s.id} belongs to cluster "${s.cluster}", not "${cluster}".`,
        `Remove it from this plan; upgrade cluster "${s.cluster}" with a plan of its own.`,
      );
      continue;
    }
    members.push(s);
  }
  for (const [id, n] of [...seen].sort(([a], [b]) => compareIds(a, b))) {
    if (n > 1) {
      issues.add(
        'DUPLICATE_SERVER_ID',
        `Server id "${id}" is listed ${n} times.`,
        'List each server once; two agents must never share an id.',
      );
    }
  }
  // An upgrade needs a spare per role. A rollback may have to run on whatever is left of a fleet,
  // and the edition manager's verbs check their own groups (a rollout) or announce downtime.
  if (procedure !== 'minor' && procedure !== 'major') return members;
  const byRole = new Map<string, string[]>();
  for (const s of members) {
    const ids = byRole.get(s.role);
    if (ids) ids.push(s.id);
    else byRole.set(s.role, [s.id]);
  }
  for (const role of [...byRole.keys()].sort(compareIds)) {
    const ids = byRole.get(role) ?? [];
    if (ids.length === 1) {
      issues.add(
        'ROLE_SINGLE_SERVER',
        `Role "${role}" has a single server (${ids.join('')}): taking it out of rotation would stop the service.`,
        procedure === 'minor'
          ? `Add a second "${role}" server to cluster "${cluster}" so one can serve while the other is upgraded, or run a major upgrade with an announced downtime window.`
          : `Add a second "${role}" server to cluster "${cluster}": group 1 serves alone while the others are upgraded, and the others serve alone while group 1 is cross-checked.`,
      );
    }
  }
  return members;
}

export function validateEdition(
  issues: Issues,
  e: Edition | undefined,
  codePrefix: string,
  what: string,
): void {
  const name = editionNameSchema.safeParse(e?.name);
  if (!name.success) {
    issues.add(
      `${codePrefix}_NAME_INVALID`,
      `${what} name "${e?.name}" is not valid: ${firstMessage(name.error)}.`,
      'Rename the edition, e.g. "2.0" or "1.0.1_FIX".',
    );
  }
  if (!sha256Schema.safeParse(e?.sha256).success) {
    issues.add(
      `${codePrefix}_SHA256_INVALID`,
      `${what} ${e?.name} has no valid sha256 (got "${e?.sha256}").`,
      "Give the 64 lowercase hex characters of the artifact's SHA-256, as printed by `sha256sum`.",
    );
  }
  if (!Number.isInteger(e?.size) || (e?.size ?? -1) < 0) {
    issues.add(
      `${codePrefix}_SIZE_INVALID`,
      `${what} ${e?.name} has an invalid size (${e?.size}).`,
      'Give the artifact size in bytes as a whole number.',
    );
  }
  if (e?.dbUpgradeCommand !== undefined && !/^\S{1,64}$/.test(e.dbUpgradeCommand)) {
    issues.add(
      'DB_UPGRADE_COMMAND_INVALID',
      `${what} ${e.name} declares an invalid database upgrade command "${e.dbUpgradeCommand}".`,
      "Give the name (1-64 characters, no spaces) of a command defined in the service's configuration on the agents, or leave it out.",
    );
  }
}

export function validateMs(issues: Issues, field: string, v: number | undefined, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= MAX_MS)) {
    issues.add(
      'OPTION_INVALID',
      `${field} must be a whole number of milliseconds from ${min} to ${MAX_MS} (got ${v}).`,
      `Fix ${field} or leave it out to use the default.`,
    );
  }
}

function validateTimings(issues: Issues, input: UpgradeInput): void {
  validateMs(issues, 'drainMs', input.drainMs, 0);
  validateMs(issues, 'stopTimeoutMs', input.stopTimeoutMs, 1);
  validateMs(issues, 'healthTimeoutMs', input.healthTimeoutMs, 1);
  validateProbe(issues, input.probe);
  const m = input.minutesPerServer;
  if (m !== undefined && !(Number.isFinite(m) && m > 0)) {
    issues.add(
      'OPTION_INVALID',
      `minutesPerServer must be a positive number (got ${m}).`,
      "Leave it out to use the seed's 10 minutes per server.",
    );
  }
  for (const [k, v] of Object.entries(input.env ?? {})) {
    if (!ENV_NAME.test(k) || typeof v !== 'string') {
      issues.add(
        'OPTION_INVALID',
        `env entry "${k}" is not valid.`,
        'Environment names are letters, digits and "_" (not starting with a digit), and values are text.',
      );
    }
  }
}

export function validateProbe(issues: Issues, p: Partial<ProbeOptions> | undefined): void {
  validateMs(issues, 'probe.timeoutMs', p?.timeoutMs, 1);
  if (p?.path !== undefined && !(typeof p.path === 'string' && p.path.startsWith('/'))) {
    issues.add(
      'OPTION_INVALID',
      `probe.path must start with '/' (got "${p.path}").`,
      'Give the path of the service\'s health or test endpoint, e.g. "/health".',
    );
  }
  if (
    p?.expectStatus !== undefined &&
    !(Number.isInteger(p.expectStatus) && p.expectStatus >= 100 && p.expectStatus <= 599)
  ) {
    issues.add(
      'OPTION_INVALID',
      `probe.expectStatus must be an HTTP status from 100 to 599 (got ${p.expectStatus}).`,
      'Give the status a healthy service answers with, usually 200.',
    );
  }
  if (p?.expectBodyContains !== undefined && typeof p.expectBodyContains !== 'string') {
    issues.add(
      'OPTION_INVALID',
      'probe.expectBodyContains must be text.',
      'Give the text a healthy answer contains, or "" to accept any body.',
    );
  }
}

function validatePreparation(
  issues: Issues,
  input: UpgradeInput,
  procedure: Exclude<Procedure, 'rollback'>,
  members: ServerRef[],
): void {
  const p = input.preparation ?? {};
  if (procedure === 'major' && p.databaseBackup === false) {
    issues.add(
      'MAJOR_NEEDS_DATABASE_BACKUP',
      'preparation.databaseBackup is false, but a major upgrade changes the database schema: without a backup it cannot be rolled back.',
      'Leave preparation.databaseBackup out (a major upgrade always backs up the database), or run a minor upgrade if the edition does not change the schema.',
    );
  }
  const known = new Set(members.map((s) => s.id));
  for (const id of p.snapshots ?? []) {
    if (!known.has(id)) {
      issues.add(
        'SNAPSHOT_SERVER_UNKNOWN',
        `preparation.snapshots names server "${id}", which is not a server of cluster "${input.cluster}".`,
        'List only servers of this cluster whose agent has a snapshot hook configured.',
      );
    }
  }
  if (p.repositoryCheck !== undefined) {
    const r = commandNameSchema.safeParse(p.repositoryCheck);
    if (!r.success) {
      issues.add(
        'REPOSITORY_CHECK_INVALID',
        `preparation.repositoryCheck "${p.repositoryCheck}" is not valid: ${firstMessage(r.error)}.`,
        'Give the name of the repository-check command configured on the agents, e.g. "check-repository".',
      );
    }
  }
  const resolved = resolvePreparation(p, procedure);
  const needsLabel = resolved.fileBackup || resolved.databaseBackup || resolved.snapshots.length > 0;
  if (p.backupLabel === undefined) {
    if (needsLabel) {
      issues.add(
        'BACKUP_LABEL_REQUIRED',
        `preparation.backupLabel is missing, but this ${procedure} upgrade takes ${backupsPhrase(resolved)}.`,
        'Give a label that names this run\'s backups, e.g. "rg-20261122-0455": a rollback finds them by it.',
      );
    }
  } else {
    const l = backupLabelSchema.safeParse(p.backupLabel);
    if (!l.success) {
      issues.add(
        'BACKUP_LABEL_INVALID',
        `preparation.backupLabel "${p.backupLabel}" is not valid: ${firstMessage(l.error)}.`,
        'Use a label such as "rg-20261122-0455".',
      );
    }
  }
}

function backupsPhrase(p: ResolvedPreparation): string {
  const what = [
    ...(p.fileBackup ? ['a file backup'] : []),
    ...(p.databaseBackup ? ['a database backup'] : []),
    ...(p.snapshots.length > 0 ? ['snapshots'] : []),
  ];
  return what.length <= 1 ? what.join('') : `${what.slice(0, -1).join(', ')} and ${what.at(-1)}`;
}

export function validateTests(
  issues: Issues,
  tests: FunctionalTestOptions | undefined,
  fromEdition: Edition | undefined,
): void {
  if (tests === undefined) return;
  const m = safeName('test machine').safeParse(tests.testMachine);
  if (!m.success) {
    issues.add(
      'TESTS_MACHINE_INVALID',
      `tests.testMachine "${tests.testMachine}" is not valid: ${firstMessage(m.error)}.`,
      'Give the id of the agent that runs the functionality tests (see `rollgate servers`).',
    );
  }
  const u = httpUrlSchema.safeParse(tests.baseUrl);
  if (!u.success) {
    issues.add(
      'TESTS_BASE_URL_INVALID',
      `tests.baseUrl "${tests.baseUrl}" is not valid: ${firstMessage(u.error)}.`,
      'Give the URL users reach the service at through the load balancer, e.g. "https://apps.example.edu".',
    );
  }
  validateMs(issues, 'tests.timeoutMs', tests.timeoutMs, 1);
  const probes = tests.probes ?? [];
  if (probes.length === 0) {
    issues.add(
      'TESTS_NO_PROBES',
      'tests.probes is empty: the functionality tests would check nothing.',
      'Add at least one probe: login, navigate, launch, version or http.',
    );
  }
  probes.forEach((p, i) => {
    const r = functionalProbeSchema.safeParse(p);
    const name = `tests.probes[${i}]${typeof p?.name === 'string' ? ` ("${p.name}")` : ''}`;
    if (!r.success) {
      const first = r.error.issues[0];
      const at = first?.path.length ? ` at ${first.path.join('.')}` : '';
      issues.add(
        'TESTS_PROBE_INVALID',
        `${name} is not valid${at}: ${first?.message ?? 'invalid'}.`,
        "Fix the probe: each needs a kind (http, login, navigate, launch, version), a name and that kind's fields.",
      );
      return;
    }
    if (r.data.kind !== 'version') return;
    for (const stage of TEST_STAGES) {
      if (versionExpect(r.data.expect, stage, fromEdition?.name, 'to').length === 0) {
        issues.add(
          'TESTS_VERSION_UNRESOLVED',
          `${name} expects no edition ${STAGE_PHRASE[stage]}: ${UNRESOLVED_REASON[stage]}${
            fromEdition === undefined && stage !== 'final' ? ' and fromEdition is not given' : ''
          }.`,
          'Give fromEdition, or list both "{from}" and "{to}" (or literal edition names) in expect.',
        );
      }
    }
  });
}

/** When a functionality test runs, which decides the editions a version probe may see. */
export type TestStage = 'before' | 'during' | 'final';
const TEST_STAGES: readonly TestStage[] = ['before', 'during', 'final'];
const UNRESOLVED_REASON: Record<TestStage, string> = {
  before: 'entries naming {to} wait until the upgrade has begun',
  during: 'entries naming {from} need the from edition',
  final: 'entries naming {from} are dropped once every server runs the new edition',
};
const STAGE_PHRASE: Record<TestStage, string> = {
  before: 'before the upgrade starts',
  during: 'during the upgrade',
  final: 'at the final test',
};

/** A version probe's expectations at one stage, with `{from}` and `{to}` replaced. */
export function versionExpect(
  expect: readonly string[],
  stage: TestStage,
  from: string | undefined,
  to: string,
): string[] {
  const out: string[] = [];
  for (const entry of expect) {
    const hasFrom = entry.includes('{from}');
    const hasTo = entry.includes('{to}');
    if (hasFrom && (from === undefined || stage === 'final')) continue;
    if (hasTo && stage === 'before') continue;
    const value = entry.replaceAll('{from}', from ?? '').replaceAll('{to}', to);
    if (!out.includes(value)) out.push(value);
  }
  return out;
}

export function resolvePreparation(
  p: PreparationOptions | undefined,
  procedure: Procedure,
): ResolvedPreparation {
  const major = procedure === 'major';
  return {
    stage: p?.stage ?? true,
    fileBackup: p?.fileBackup ?? major,
    snapshots: [...new Set(p?.snapshots ?? [])].sort(compareIds),
    databaseBackup: major ? true : (p?.databaseBackup ?? false),
    repositoryCheck: p?.repositoryCheck,
    backupLabel: p?.backupLabel,
  };
}

export function resolveProbe(p: Partial<ProbeOptions> | undefined): ProbeOptions {
  return {
    path: p?.path ?? DEFAULT_PROBE.path,
    expectStatus: p?.expectStatus ?? DEFAULT_PROBE.expectStatus,
    expectBodyContains: p?.expectBodyContains ?? DEFAULT_PROBE.expectBodyContains,
    timeoutMs: p?.timeoutMs ?? DEFAULT_PROBE.timeoutMs,
  };
}

export function resolveTests(t: FunctionalTestOptions | undefined): ResolvedTests | undefined {
  if (t === undefined) return undefined;
  return {
    testMachine: t.testMachine,
    baseUrl: t.baseUrl,
    probes: t.probes.map((p) => functionalProbeSchema.parse(p)),
    timeoutMs: t.timeoutMs ?? UPGRADE_DEFAULTS.functionalTestTimeoutMs,
  };
}

/** Call only after {@link validateUpgradeInput} found no issues. */
export function resolveUpgrade(
  input: UpgradeInput,
  procedure: Exclude<Procedure, 'rollback'>,
  groups: ServerGroup[],
): ResolvedUpgrade {
  const d = UPGRADE_DEFAULTS;
  return {
    cluster: input.cluster,
    service: input.service,
    edition: input.toEdition,
    fromEdition: input.fromEdition,
    drainMs: input.drainMs ?? d.drainMs,
    stopTimeoutMs: input.stopTimeoutMs ?? d.stopTimeoutMs,
    healthTimeoutMs: input.healthTimeoutMs ?? d.healthTimeoutMs,
    probe: resolveProbe(input.probe),
    minutesPerServer: input.minutesPerServer ?? d.minutesPerServer,
    signOff: input.signOff ?? d.signOff,
    env: { ...(input.env ?? {}) },
    preparation: resolvePreparation(input.preparation, procedure),
    tests: resolveTests(input.tests),
    designated: input.designatedServer ?? groups[0]?.servers[0]?.id ?? '',
  };
}

export const ENGINEER: Performer[] = ['engineer'];
export const TESTERS: Performer[] = ['engineer', 'administrator'];
// The issue asks for the customer's sign-off; the seed has the administrator verify with them.
export const SIGNERS: Performer[] = ['customer', 'administrator'];

export type StepDraft = Omit<PlanStep, 'index'>;
type StepSpec = Omit<PlanStep, 'index' | 'phase' | 'leavesRotation' | 'rejoinsRotation'> & Partial<PlanStep>;

/** What the step builder needs to know about a compilation (upgrade or rollback). */
export interface BuilderContext {
  service: string;
  /** The edition the steps install, activate and configure. */
  edition: Edition;
  /** The edition the servers ran before (for version probes). */
  fromEdition: Edition | undefined;
  drainMs: number;
  stopTimeoutMs: number;
  healthTimeoutMs: number;
  probe: ProbeOptions;
  env: Record<string, string>;
  tests: ResolvedTests | undefined;
}

/**
 * Builds plan steps one after the other, in the current `phase`. The op lists that do not vary per
 * group are built once and shared by their steps: a plan is data, never mutated, and a fleet of
 * 10 000 has 25 000 steps.
 */
export class StepBuilder {
  readonly steps: StepDraft[] = [];
  phase: Phase = 'service-at-risk';
  readonly stopOps: ActionOp[];
  readonly startOps: ActionOp[];
  readonly upgradeOps: ActionOp[];
  readonly configureOps: ActionOp[];
  private readonly probeOps: ActionOp[];
  private readonly functionalOps = new Map<TestStage, ActionOp[]>();

  constructor(readonly ctx: BuilderContext) {
    const { service, edition } = ctx;
    this.stopOps = [
      { op: 'gate', state: 'closed' },
      { op: 'drain', service, maxWaitMs: ctx.drainMs },
      { op: 'stop', service, timeoutMs: ctx.stopTimeoutMs },
    ];
    this.startOps = [
      { op: 'start', service },
      { op: 'waitHealthy', service, timeoutMs: ctx.healthTimeoutMs },
      { op: 'gate', state: 'open' },
    ];
    this.probeOps = [{ op: 'probe', service, ...ctx.probe }];
    this.upgradeOps = [this.installOp(), { op: 'activate', service, edition: edition.name }];
    this.configureOps = [{ op: 'configure', service, edition: edition.name, env: { ...ctx.env } }];
  }

  installOp(): ActionOp {
    const { service, edition } = this.ctx;
    return { op: 'install', service, edition: edition.name, sha256: edition.sha256, size: edition.size };
  }

  push(s: StepSpec): StepDraft {
    const step: StepDraft = { phase: this.phase, leavesRotation: [], rejoinsRotation: [], ...s };
    this.steps.push(step);
    return step;
  }

  stop(
    key: string,
    title: string,
    seedStep: number | null,
    group: number | null,
    servers: string[],
    extra: Partial<PlanStep> = {},
  ) {
    return this.push({
      key,
      kind: 'stop',
      title,
      seedStep,
      group,
      performedBy: ENGINEER,
      servers,
      ops: this.stopOps,
      leavesRotation: servers,
      ...extra,
    });
  }

  start(key: string, seedStep: number | null, g: ServerGroup, extra: Partial<PlanStep> = {}) {
    return this.push({
      key,
      kind: 'start',
      title: `Start all services on server group ${g.index}`,
      seedStep,
      group: g.index,
      performedBy: ENGINEER,
      servers: ids(g),
      ops: this.startOps,
      rejoinsRotation: ids(g),
      ...extra,
    });
  }

  upgrade(key: string, seedStep: number | null, g: ServerGroup, title?: string) {
    return this.push({
      key,
      kind: 'upgrade',
      title:
        title ?? `Upgrade service components on server group ${g.index} to edition ${this.ctx.edition.name}`,
      seedStep,
      group: g.index,
      performedBy: ENGINEER,
      servers: ids(g),
      ops: this.upgradeOps,
    });
  }

  configure(key: string, seedStep: number | null, g: ServerGroup) {
    return this.push({
      key,
      kind: 'configure',
      title: `Configure service components on server group ${g.index}`,
      seedStep,
      group: g.index,
      performedBy: ENGINEER,
      servers: ids(g),
      // Each group gets its own env object: nothing in a plan is shared with the caller.
      ops: [
        {
          op: 'configure',
          service: this.ctx.service,
          edition: this.ctx.edition.name,
          env: { ...this.ctx.env },
        },
      ],
    });
  }

  /**
   * A functionality test step. With a test machine it runs one functionalTest op there, through
   * the load balancer; without one, a local probe on each tested server (all in rotation).
   */
  test(
    key: string,
    title: string,
    seedStep: number | null,
    group: number | null,
    tested: string[],
    stage: TestStage,
    extra: Partial<PlanStep> = {},
  ) {
    const t = this.ctx.tests;
    return this.push({
      key,
      kind: 'test',
      title,
      seedStep,
      group,
      performedBy: TESTERS,
      servers: t ? [t.testMachine] : tested,
      ops: t ? this.functionalTestOps(stage, t) : this.probeOps,
      ...extra,
    });
  }

  private functionalTestOps(stage: TestStage, t: ResolvedTests): ActionOp[] {
    let ops = this.functionalOps.get(stage);
    if (!ops) {
      const from = this.ctx.fromEdition?.name;
      const to = this.ctx.edition.name;
      const probes = t.probes.map((p) =>
        p.kind === 'version' ? { ...p, expect: versionExpect(p.expect, stage, from, to) } : p,
      );
      ops = [{ op: 'functionalTest', baseUrl: t.baseUrl, probes, timeoutMs: t.timeoutMs }];
      this.functionalOps.set(stage, ops);
    }
    return ops;
  }

  dbUpgrade(designated: string, command: string, group: number | null, extra: Partial<PlanStep> = {}) {
    return this.push({
      key: 'db-upgrade',
      kind: 'db-upgrade',
      title: `Run the database upgrade command "${command}" once, on server ${designated}${
        group === null ? '' : ` (server group ${group})`
      }`,
      seedStep: 5,
      group: null,
      performedBy: ENGINEER,
      servers: [designated],
      ops: [{ op: 'command', service: this.ctx.service, command, timeoutMs: DB_UPGRADE_TIMEOUT_MS }],
      ...extra,
    });
  }

  signOff(seedStep: number) {
    return this.push({
      key: 'sign-off',
      kind: 'sign-off',
      title: 'Customer verification and sign-off',
      seedStep,
      group: null,
      performedBy: SIGNERS,
      servers: [],
      ops: [],
    });
  }

  /**
   * The pre-upgrade requirements Rollgate checks itself, in the seed's order of concern: files in
   * place first (so a slow download never eats into the window), then backups from the cheapest to
   * the one the rollback of a major upgrade depends on, then the repository and the test machine.
   */
  preparation(r: ResolvedUpgrade, groups: ServerGroup[]): void {
    const saved = this.phase;
    this.phase = 'preparation';
    const all = groups.flatMap(ids);
    const p = r.preparation;
    const label = p.backupLabel ?? '';
    const prep = (key: string, gate: ReadinessGate, title: string, servers: string[], ops: ActionOp[]) =>
      this.push({
        key,
        kind: 'prepare',
        gate,
        title,
        seedStep: null,
        group: null,
        performedBy: ENGINEER,
        servers,
        ops,
      });
    if (p.stage) {
      prep(
        'prep.stage',
        'installation-files',
        `Stage edition ${r.edition.name} on every server (download, verify the sha256, unpack side by side)`,
        all,
        [this.installOp()],
      );
    }
    if (p.fileBackup) {
      prep(
        'prep.file-backup',
        'file-backup',
        `Back up the service directories of every server (${label})`,
        all,
        [{ op: 'backupFiles', service: r.service, label }],
      );
    }
    if (p.snapshots.length > 0) {
      prep(
        'prep.snapshots',
        'snapshots',
        `Take a snapshot of ${plural(p.snapshots.length, 'server')}`,
        p.snapshots,
        [{ op: 'command', service: r.service, command: SNAPSHOT_COMMAND, timeoutMs: HOOK_TIMEOUT_MS }],
      );
    }
    if (p.databaseBackup) {
      prep(
        'prep.database-backup',
        'database-backup',
        `Back up the database on server ${r.designated} and verify it restores (${label})`,
        [r.designated],
        [{ op: 'dbBackup', service: r.service, label, verify: true, timeoutMs: DB_BACKUP_TIMEOUT_MS }],
      );
    }
    if (p.repositoryCheck !== undefined) {
      prep(
        'prep.repository',
        'repository',
        `Check the repository ("${p.repositoryCheck}") on server ${r.designated}`,
        [r.designated],
        [{ op: 'command', service: r.service, command: p.repositoryCheck, timeoutMs: HOOK_TIMEOUT_MS }],
      );
    }
    if (r.tests) {
      this.test(
        'prep.test',
        'Functionality tests before the upgrade starts, from the test machine via the load balancer',
        null,
        null,
        all,
        'before',
        { gate: 'test-machine' },
      );
    }
    this.phase = saved;
  }

  /** The steps with their final indexes. */
  build(): PlanStep[] {
    return this.steps.map((s, index) => ({ index, ...s }));
  }
}

export const ids = (g: ServerGroup): string[] => g.servers.map((s) => s.id);

/**
 * Backstops run on every compiled plan: the input checks should make them unreachable. If one
 * fires, the compiler is wrong, and a wrong plan must never reach the engine. `pools` (server ids per
 * load-balancer pool, default none) makes the simulation check the capacity floor per pool too.
 */
export function assertPlanSound(
  plan: Plan,
  initiallyOut: string[] = [],
  pools: readonly (readonly string[])[] = [],
): Plan {
  const internal = [...checkOps(plan), ...simulateRotation(plan, { initiallyOut, pools }).issues];
  if (internal.length > 0) throw new PlanValidationError(internal);
  return plan;
}

/** Every op must pass the schema the agent checks before it runs anything. */
export function checkOps(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const keys = new Set<string>();
  // Steps share op lists or repeat the same few ops: each distinct list and op is parsed once.
  const validLists = new Set<ActionOp[]>();
  const valid = new Set<string>();
  for (const step of plan.steps) {
    if (keys.has(step.key)) {
      issues.push({
        code: 'INTERNAL_DUPLICATE_KEY',
        message: `Step key ${step.key} is used twice.`,
        hint: 'This is a Rollgate bug; please report it with the fleet you planned.',
      });
    }
    keys.add(step.key);
    for (const list of [step.ops, ...Object.values(step.opsByServer ?? {})]) {
      if (validLists.has(list)) continue;
      let listValid = true;
      for (const op of list) {
        const key = JSON.stringify(op);
        if (valid.has(key)) continue;
        const res = actionOpSchema.safeParse(op);
        if (res.success) valid.add(key);
        else {
          listValid = false;
          issues.push({
            code: 'INTERNAL_OP_INVALID',
            message: `Step ${step.key} has an op agents would reject (${op.op}): ${firstMessage(res.error)}.`,
            hint: 'This is a Rollgate bug; please report it with the input you planned.',
          });
        }
      }
      if (listValid) validLists.add(list);
    }
  }
  return issues;
}

export function firstMessage(err: { issues: { message: string }[] }): string {
  return err.issues[0]?.message ?? 'invalid';
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * "server group 2", "server groups 2 and 3", "server groups 2, 4 and 5"; three or more consecutive
 * groups become a range ("server groups 2-4 and 6"), so the title of a step naming thousands of
 * groups stays one short line. `indexes` is ascending.
 */
export function groupsPhrase(indexes: number[]): string {
  if (indexes.length === 1) return `server group ${indexes[0]}`;
  const parts: string[] = [];
  for (let a = 0; a < indexes.length;) {
    let b = a;
    while (b + 1 < indexes.length && indexes[b + 1] === indexes[b]! + 1) b++;
    if (b - a >= 2) parts.push(`${indexes[a]}-${indexes[b]}`);
    else for (let k = a; k <= b; k++) parts.push(String(indexes[k]));
    a = b + 1;
  }
  if (parts.length === 1) return `server groups ${parts[0]}`;
  return `server groups ${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/** The "number of servers × minutes" basis text of the announced window. */
export function seedBasis(servers: number, minutesPerServer: number): string {
  return `${plural(servers, 'server')} × ${minutesPerServer} min${
    minutesPerServer === UPGRADE_DEFAULTS.minutesPerServer ? ' (seed default)' : ''
  }`;
}
