import {
  appNameSchema,
  editionNameSchema,
  safeName,
  sha256Schema,
  type Edition,
  type ServerRef,
} from './fleet';
import { actionOpSchema, describeOp, type ActionOp } from './ops';
import {
  PHASE_LABEL,
  PlanValidationError,
  type Performer,
  type Phase,
  type Plan,
  type PlanIssue,
  type PlanStep,
  type ServerGroup,
} from './plan';
import { compareIds, formServerGroups, simulateRotation } from './groups';

// Re-exported so the compiler's whole API can be imported from one module.
export { formServerGroups } from './groups';

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

/** Defaults of the optional fields of {@link MinorUpgradeInput}. */
export const MINOR_UPGRADE_DEFAULTS = Object.freeze({
  drainMs: 30_000,
  stopTimeoutMs: 60_000,
  healthTimeoutMs: 120_000,
  /** The seed's notice figure: "number of servers x 10 minutes". */
  minutesPerServer: 10,
  signOff: true,
  /** Other server groups a group's "test the rest" step probes (see {@link MinorUpgradeInput.testGroups}). */
  testGroups: 4,
});

/** A schema step may rebuild indexes; ten minutes is generous without hiding a hung command. */
export const DB_UPGRADE_TIMEOUT_MS = 10 * 60_000;

const MAX_MS = 24 * 3600 * 1000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface MinorUpgradeInput {
  /** The cluster being upgraded; every server must belong to it. */
  cluster: string;
  /** The managed service (application) on the agents, e.g. 'demo-app'. */
  service: string;
  /** The servers of the cluster. */
  servers: ServerRef[];
  /**
   * The edition to roll out. When it declares `dbUpgradeCommand`, the plan runs it once (seed step
   * 5). In a minor upgrade the old edition keeps serving from the same database while the command
   * runs, so the change must be backward compatible; anything else needs a major upgrade.
   */
  toEdition: Edition;
  /** How long a server may finish in-flight work after leaving rotation, ms. Default 30000. */
  drainMs?: number;
  /** How long the service may take to stop, ms. Default 60000. */
  stopTimeoutMs?: number;
  /** How long a started service may take to report healthy, ms. Default 120000. */
  healthTimeoutMs?: number;
  /**
   * The functionality test; fields left out take their defaults:
   * `{ path: '/health', expectStatus: 200, expectBodyContains: '', timeoutMs: 10000 }`.
   */
  probe?: Partial<ProbeOptions>;
  /** Minutes per server for the announced "service at risk" window. Default 10 (the seed's figure). */
  minutesPerServer?: number;
  /** Include the final customer verification and sign-off step. Default true. */
  signOff?: boolean;
  /** Environment overrides carried into the new edition's configuration. Default {}. */
  env?: Record<string, string>;
  /**
   * How many other server groups the functionality test after each group's stop probes (seed
   * steps 2 and 7). Default 4. A fleet with no more other groups than this tests all of them, as
   * the seed does; a larger fleet tests the nearest groups in upgrade order (the ones just
   * upgraded and the ones next to go: both editions side by side), so the plan grows linearly
   * with the fleet instead of quadratically. The cross-check and the final test still probe
   * every server they name (seed steps 11 and 13).
   */
  testGroups?: number;
}

interface Resolved {
  cluster: string;
  service: string;
  edition: Edition;
  drainMs: number;
  stopTimeoutMs: number;
  healthTimeoutMs: number;
  probe: ProbeOptions;
  minutesPerServer: number;
  signOff: boolean;
  env: Record<string, string>;
  testGroups: number;
}

/**
 * Compiles the seed's "Minor upgrade procedure" for one cluster into a plan, generalised from two
 * server groups to N:
 *
 * for each group i: stop gi → test the rest through the load balancer → upgrade gi → configure gi →
 * (after group 1 only, when the edition declares one: the database upgrade command) → start gi;
 * then the cross-check (stop g1, test the rest, start g1), the final test on every server, and the
 * customer's sign-off.
 *
 * Departures from the seed, on purpose:
 * - Each group is started right after it is configured (steps `gN.start`, `seedStep: null`). The seed
 *   never starts its groups, yet tests them through the load balancer afterwards and, at step 10,
 *   stops group 1 while group 2 has never been started: that would take the whole service down.
 * - Groups beyond the second reuse the seed numbers of group 2 (6 stop, 7 test, 8 upgrade,
 *   9 configure): they are more repetitions of the seed's "second group" block.
 * - The database upgrade runs on one designated server: the first server of group 1 (its first role
 *   by name). By then that server runs the new edition and is configured, yet it is still out of
 *   rotation, so the command never competes with user traffic on it.
 * - Every step is in the 'service-at-risk' phase, sign-off included: the seed's window ends after the
 *   sign-off, so completing that step is what moves the run to 'full-service-restored'.
 *
 * `PlanStep.index` is the step's position in `plan.steps` (0-based); the numbers shown to operators
 * are `index + 1`.
 *
 * @throws PlanValidationError with every issue found at once, each with what to do about it; in
 *   particular a role with a single server (code 'ROLE_SINGLE_SERVER'), because taking it out of
 *   rotation would stop the service: such a fleet needs a major upgrade with announced downtime.
 */
export function compileMinorUpgrade(input: MinorUpgradeInput): Plan {
  const { issues, members } = validateInput(input);
  const groups = formServerGroups(members);
  if (members.length > 0 && groups.length < 2) {
    issues.push({
      code: 'TOO_FEW_GROUPS',
      message: `Cluster "${input.cluster}" forms only ${groups.length} server group: a minor upgrade needs at least 2, one to serve while the other is upgraded.`,
      hint: 'Give every role at least two servers, or run a major upgrade with an announced downtime window.',
    });
  }
  if (issues.length > 0) throw new PlanValidationError(issues);

  const r = resolve(input);
  const steps = buildSteps(r, groups);
  const plan: Plan = {
    procedure: 'minor',
    cluster: r.cluster,
    service: r.service,
    toEdition: r.edition,
    groups,
    steps,
    maxOutOfRotation: Math.max(...groups.map((g) => g.servers.length)),
    window: {
      atRiskMinutes: members.length * r.minutesPerServer,
      downtimeMinutes: 0,
      basis: `${plural(members.length, 'server')} × ${r.minutesPerServer} min${
        r.minutesPerServer === MINOR_UPGRADE_DEFAULTS.minutesPerServer ? ' (seed default)' : ''
      }`,
    },
  };

  // Backstops: the input checks above should make these unreachable. If one fires, the compiler is
  // wrong, and a wrong plan must never reach the engine.
  const internal = [...checkOps(plan), ...simulateRotation(plan).issues];
  if (internal.length > 0) throw new PlanValidationError(internal);
  return plan;
}

function validateInput(input: MinorUpgradeInput): { issues: PlanIssue[]; members: ServerRef[] } {
  const issues: PlanIssue[] = [];
  const add = (code: string, message: string, hint: string) => issues.push({ code, message, hint });

  const cluster = safeName('cluster name').safeParse(input.cluster);
  if (!cluster.success) {
    add(
      'CLUSTER_NAME_INVALID',
      `Cluster name "${input.cluster}" is not valid: ${firstMessage(cluster.error)}.`,
      'Use the cluster name exactly as registered in Rollgate.',
    );
  }
  const service = appNameSchema.safeParse(input.service);
  if (!service.success) {
    add(
      'SERVICE_NAME_INVALID',
      `Service name "${input.service}" is not valid: ${firstMessage(service.error)}.`,
      'Use the managed service name configured on the agents, e.g. "demo-app".',
    );
  }

  // Servers: keep the first entry of each id that belongs to the cluster; everything else is reported.
  const servers = input.servers ?? [];
  if (servers.length === 0) {
    add(
      'NO_SERVERS',
      `No servers were given for cluster "${input.cluster}".`,
      "Register the cluster's servers (at least two of each role) before planning an upgrade.",
    );
  }
  const seen = new Map<string, number>();
  const members: ServerRef[] = [];
  for (const s of servers) {
    if (!s.id?.trim() || !s.role?.trim()) {
      add(
        'SERVER_INVALID',
        `A server has an empty ${!s.id?.trim() ? 'id' : 'role'} (${JSON.stringify(s)}).`,
        'Every server needs a non-empty id and role.',
      );
      continue;
    }
    const n = (seen.get(s.id) ?? 0) + 1;
    seen.set(s.id, n);
    if (n > 1) continue;
    if (s.cluster !== input.cluster) {
      add(
        'SERVER_WRONG_CLUSTER',
        `Server ${s.id} belongs to cluster "${s.cluster}", not "${input.cluster}".`,
        `Remove it from this plan; upgrade cluster "${s.cluster}" with a plan of its own.`,
      );
      continue;
    }
    members.push(s);
  }
  for (const [id, n] of [...seen].sort(([a], [b]) => compareIds(a, b))) {
    if (n > 1) {
      add(
        'DUPLICATE_SERVER_ID',
        `Server id "${id}" is listed ${n} times.`,
        'List each server once; two agents must never share an id.',
      );
    }
  }

  const byRole = new Map<string, string[]>();
  for (const s of members) {
    const list = byRole.get(s.role);
    if (list) list.push(s.id);
    else byRole.set(s.role, [s.id]);
  }
  for (const role of [...byRole.keys()].sort(compareIds)) {
    const ids = byRole.get(role) ?? [];
    if (ids.length === 1) {
      add(
        'ROLE_SINGLE_SERVER',
        `Role "${role}" has a single server (${ids.join('')}): taking it out of rotation would stop the service.`,
        `Add a second "${role}" server to cluster "${input.cluster}" so one can serve while the other is upgraded, or run a major upgrade with an announced downtime window.`,
      );
    }
  }

  const e = input.toEdition;
  const name = editionNameSchema.safeParse(e?.name);
  if (!name.success) {
    add(
      'EDITION_NAME_INVALID',
      `Edition name "${e?.name}" is not valid: ${firstMessage(name.error)}.`,
      'Rename the edition, e.g. "2.0" or "1.0.1_FIX".',
    );
  }
  if (!sha256Schema.safeParse(e?.sha256).success) {
    add(
      'EDITION_SHA256_INVALID',
      `Edition ${e?.name} has no valid sha256 (got "${e?.sha256}").`,
      "Give the 64 lowercase hex characters of the artifact's SHA-256, as printed by `sha256sum`.",
    );
  }
  if (!Number.isInteger(e?.size) || (e?.size ?? -1) < 0) {
    add(
      'EDITION_SIZE_INVALID',
      `Edition ${e?.name} has an invalid size (${e?.size}).`,
      'Give the artifact size in bytes as a whole number.',
    );
  }
  if (e?.dbUpgradeCommand !== undefined && !/^\S{1,64}$/.test(e.dbUpgradeCommand)) {
    add(
      'DB_UPGRADE_COMMAND_INVALID',
      `Edition ${e.name} declares an invalid database upgrade command "${e.dbUpgradeCommand}".`,
      "Give the name (1-64 characters, no spaces) of a command defined in the service's configuration on the agents, or leave it out.",
    );
  }

  const ms = (field: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= MAX_MS)) {
      add(
        'OPTION_INVALID',
        `${field} must be a whole number of milliseconds from ${min} to ${MAX_MS} (got ${v}).`,
        `Fix ${field} or leave it out to use the default.`,
      );
    }
  };
  ms('drainMs', input.drainMs, 0);
  ms('stopTimeoutMs', input.stopTimeoutMs, 1);
  ms('healthTimeoutMs', input.healthTimeoutMs, 1);
  ms('probe.timeoutMs', input.probe?.timeoutMs, 1);
  const p = input.probe;
  if (p?.path !== undefined && !(typeof p.path === 'string' && p.path.startsWith('/'))) {
    add(
      'OPTION_INVALID',
      `probe.path must start with '/' (got "${p.path}").`,
      'Give the path of the service\'s health or test endpoint, e.g. "/health".',
    );
  }
  if (
    p?.expectStatus !== undefined &&
    !(Number.isInteger(p.expectStatus) && p.expectStatus >= 100 && p.expectStatus <= 599)
  ) {
    add(
      'OPTION_INVALID',
      `probe.expectStatus must be an HTTP status from 100 to 599 (got ${p.expectStatus}).`,
      'Give the status a healthy service answers with, usually 200.',
    );
  }
  if (p?.expectBodyContains !== undefined && typeof p.expectBodyContains !== 'string') {
    add(
      'OPTION_INVALID',
      'probe.expectBodyContains must be text.',
      'Give the text a healthy answer contains, or "" to accept any body.',
    );
  }
  const tg = input.testGroups;
  if (tg !== undefined && !(Number.isInteger(tg) && tg >= 1)) {
    add(
      'OPTION_INVALID',
      `testGroups must be a whole number of at least 1 (got ${tg}).`,
      'Leave it out to test the 4 nearest other server groups after each group leaves rotation.',
    );
  }
  const m = input.minutesPerServer;
  if (m !== undefined && !(Number.isFinite(m) && m > 0)) {
    add(
      'OPTION_INVALID',
      `minutesPerServer must be a positive number (got ${m}).`,
      "Leave it out to use the seed's 10 minutes per server.",
    );
  }
  for (const [k, v] of Object.entries(input.env ?? {})) {
    if (!ENV_NAME.test(k) || typeof v !== 'string') {
      add(
        'OPTION_INVALID',
        `env entry "${k}" is not valid.`,
        'Environment names are letters, digits and "_" (not starting with a digit), and values are text.',
      );
    }
  }
  return { issues, members };
}

function resolve(input: MinorUpgradeInput): Resolved {
  const d = MINOR_UPGRADE_DEFAULTS;
  return {
    cluster: input.cluster,
    service: input.service,
    edition: input.toEdition,
    drainMs: input.drainMs ?? d.drainMs,
    stopTimeoutMs: input.stopTimeoutMs ?? d.stopTimeoutMs,
    healthTimeoutMs: input.healthTimeoutMs ?? d.healthTimeoutMs,
    probe: {
      path: input.probe?.path ?? DEFAULT_PROBE.path,
      expectStatus: input.probe?.expectStatus ?? DEFAULT_PROBE.expectStatus,
      expectBodyContains: input.probe?.expectBodyContains ?? DEFAULT_PROBE.expectBodyContains,
      timeoutMs: input.probe?.timeoutMs ?? DEFAULT_PROBE.timeoutMs,
    },
    minutesPerServer: input.minutesPerServer ?? d.minutesPerServer,
    signOff: input.signOff ?? d.signOff,
    env: { ...(input.env ?? {}) },
    testGroups: input.testGroups ?? d.testGroups,
  };
}

const ENGINEER: Performer[] = ['engineer'];
const TESTERS: Performer[] = ['engineer', 'administrator'];
// The issue asks for the customer's sign-off; the seed has the administrator verify with them.
const SIGNERS: Performer[] = ['customer', 'administrator'];

function buildSteps(r: Resolved, groups: ServerGroup[]): PlanStep[] {
  const { service, edition } = r;
  // The op lists that do not vary per group are built once and shared by their steps, like the
  // performer lists: a plan is data, never mutated, and a fleet of 10 000 has 25 000 steps.
  const stopOps: ActionOp[] = [
    { op: 'gate', state: 'closed' },
    { op: 'drain', service, maxWaitMs: r.drainMs },
    { op: 'stop', service, timeoutMs: r.stopTimeoutMs },
  ];
  const startOps: ActionOp[] = [
    { op: 'start', service },
    { op: 'waitHealthy', service, timeoutMs: r.healthTimeoutMs },
    { op: 'gate', state: 'open' },
  ];
  const testOps: ActionOp[] = [{ op: 'probe', service, ...r.probe }];
  const upgradeOps: ActionOp[] = [
    { op: 'install', service, edition: edition.name, sha256: edition.sha256, size: edition.size },
    { op: 'activate', service, edition: edition.name },
  ];

  const ids = (g: ServerGroup) => g.servers.map((s) => s.id);
  const others = (i: number) => groups.filter((g) => g.index !== i);
  const allIds = groups.flatMap(ids);
  // Group indexes are 1..groups.length in order (formServerGroups), so a neighbour is found by index.
  const byIndex = (index: number) => groups[index - 1];

  const steps: Omit<PlanStep, 'index'>[] = [];
  const push = (
    s: Omit<PlanStep, 'index' | 'phase' | 'leavesRotation' | 'rejoinsRotation'> & Partial<PlanStep>,
  ) =>
    steps.push({ phase: 'service-at-risk' satisfies Phase, leavesRotation: [], rejoinsRotation: [], ...s });

  const stop = (key: string, title: string, seedStep: number, g: ServerGroup) =>
    push({
      key,
      kind: 'stop',
      title,
      seedStep,
      group: g.index,
      performedBy: ENGINEER,
      servers: ids(g),
      ops: stopOps,
      leavesRotation: ids(g),
    });
  const start = (key: string, seedStep: number | null, g: ServerGroup) =>
    push({
      key,
      kind: 'start',
      title: `Start all services on server group ${g.index}`,
      seedStep,
      group: g.index,
      performedBy: ENGINEER,
      servers: ids(g),
      ops: startOps,
      rejoinsRotation: ids(g),
    });
  const testOthers = (key: string, title: string, seedStep: number, g: ServerGroup, tested: ServerGroup[]) =>
    push({
      key,
      kind: 'test',
      title,
      seedStep,
      group: g.index,
      performedBy: TESTERS,
      servers: tested.flatMap(ids),
      ops: testOps,
    });
  /**
   * The groups tested while group i is out: all others when they are at most `testGroups`, else
   * the `testGroups` nearest in upgrade order (i-1, i+1, i-2, i+2, …), listed by index. In the
   * middle of the run that is the groups just upgraded and the ones next to go, so each group is
   * probed on the old edition before its turn and on the new one after it.
   */
  const sampleFor = (i: number): ServerGroup[] => {
    if (groups.length - 1 <= r.testGroups) return others(i);
    const picked: ServerGroup[] = [];
    for (let d = 1; picked.length < r.testGroups && d < groups.length; d++) {
      for (const j of [i - d, i + d]) {
        const gj = byIndex(j);
        if (gj && picked.length < r.testGroups) picked.push(gj);
      }
    }
    return picked.sort((a, b) => a.index - b.index);
  };
  const testedPhrase = (tested: ServerGroup[]) => {
    const phrase = groupsPhrase(tested.map((o) => o.index));
    const rest = groups.length - 1;
    return tested.length < rest
      ? `${phrase} (the nearest ${tested.length} of the ${rest} other groups)`
      : phrase;
  };

  for (const g of groups) {
    const i = g.index;
    const first = i === 1;
    const tested = sampleFor(i);
    stop(`g${i}.stop`, `Stop services on server group ${i}`, first ? 1 : 6, g);
    testOthers(
      `g${i}.test-others`,
      `Functionality tests against ${testedPhrase(tested)} via the load balancer`,
      first ? 2 : 7,
      g,
      tested,
    );
    push({
      key: `g${i}.upgrade`,
      kind: 'upgrade',
      title: `Upgrade service components on server group ${i} to edition ${edition.name}`,
      seedStep: first ? 3 : 8,
      group: i,
      performedBy: ENGINEER,
      servers: ids(g),
      ops: upgradeOps,
    });
    push({
      key: `g${i}.configure`,
      kind: 'configure',
      title: `Configure service components on server group ${i}`,
      seedStep: first ? 4 : 9,
      group: i,
      performedBy: ENGINEER,
      servers: ids(g),
      ops: [{ op: 'configure', service, edition: edition.name, env: { ...r.env } }],
    });
    const designated = g.servers[0];
    if (first && edition.dbUpgradeCommand !== undefined && designated) {
      push({
        key: 'db-upgrade',
        kind: 'db-upgrade',
        title: `Run the database upgrade command "${edition.dbUpgradeCommand}" once, on server ${designated.id} (server group 1)`,
        seedStep: 5,
        group: null,
        performedBy: ENGINEER,
        servers: [designated.id],
        ops: [
          { op: 'command', service, command: edition.dbUpgradeCommand, timeoutMs: DB_UPGRADE_TIMEOUT_MS },
        ],
      });
    }
    start(`g${i}.start`, null, g);
  }

  const g1 = groups[0];
  if (g1) {
    stop('verify.stop-g1', 'Stop all services on server group 1', 10, g1);
    // The cross-check is one step: it probes every other group, however large the fleet.
    const rest = others(1);
    testOthers(
      'verify.test-others',
      `Functionality tests against ${groupsPhrase(rest.map((o) => o.index))} alone via the load balancer`,
      11,
      g1,
      rest,
    );
    start('verify.start-g1', 12, g1);
  }
  push({
    key: 'final-test',
    kind: 'test',
    title: 'Final functionality tests via the load balancer',
    seedStep: 13,
    group: null,
    performedBy: TESTERS,
    servers: allIds,
    ops: testOps,
  });
  if (r.signOff) {
    push({
      key: 'sign-off',
      kind: 'sign-off',
      title: 'Customer verification and sign-off',
      seedStep: 14,
      group: null,
      performedBy: SIGNERS,
      servers: [],
      ops: [],
    });
  }
  return steps.map((s, index) => ({ index, ...s }));
}

/** Every op must pass the schema the agent checks before it runs anything. */
function checkOps(plan: Plan): PlanIssue[] {
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
    if (validLists.has(step.ops)) continue;
    let listValid = true;
    for (const op of step.ops) {
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
    if (listValid) validLists.add(step.ops);
  }
  return issues;
}

function firstMessage(err: { issues: { message: string }[] }): string {
  return err.issues[0]?.message ?? 'invalid';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * "server group 2", "server groups 2 and 3", "server groups 2, 4 and 5"; three or more consecutive
 * groups become a range ("server groups 2-4 and 6"), so the title of a step naming thousands of
 * groups stays one short line. `indexes` is ascending.
 */
function groupsPhrase(indexes: number[]): string {
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

const PHASE_BANNER: Record<Phase, string> = {
  'service-at-risk': 'SERVICE AT RISK / LIMITED CAPABILITY WINDOW BEGINS',
  downtime: 'SERVICE DOWNTIME BEGINS',
  'limited-service-restored': 'LIMITED SERVICE RESTORED (SERVICE AT RISK / LIMITED CAPABILITY PERSISTS)',
  'full-service-restored': 'FULL SERVICE RESTORED (SERVICE AT RISK / LIMITED CAPABILITY ENDS)',
};

const PERFORMER_LABEL: Record<Performer, string> = {
  engineer: 'engineer',
  administrator: 'administrator',
  customer: 'customer',
};

/**
 * Plain-text rendering of a plan for the CLI and for pasting into a change request: the groups, the
 * announced window, then the steps under the seed's phase banners.
 */
export function describePlan(plan: Plan): string {
  const banner = (text: string) => `── ${text} ──`;
  const e = plan.toEdition;
  const lines: string[] = [
    `${plan.procedure === 'minor' ? 'Minor' : 'Major'} upgrade of ${plan.service} on cluster "${plan.cluster}" to edition ${e.name}` +
      ` (sha256 ${e.sha256.slice(0, 12)}…, ${e.size} bytes)`,
    `Server groups (at most ${plural(plan.maxOutOfRotation, 'server')} out of rotation at once):`,
    ...plan.groups.map(
      (g) => `  group ${g.index}: ${g.servers.map((s) => `${s.id} (${s.role})`).join(', ')}`,
    ),
    `Announce: ${PHASE_LABEL['service-at-risk']} for ${plan.window.atRiskMinutes} min (${plan.window.basis}); ` +
      (plan.window.downtimeMinutes > 0
        ? `${PHASE_LABEL.downtime.toLowerCase()} ${plan.window.downtimeMinutes} min inside it.`
        : 'no downtime.'),
    '',
  ];
  const width = String(plan.steps.length).length;
  let phase: Phase | null = null;
  for (const step of plan.steps) {
    if (step.phase !== phase) {
      lines.push(banner(PHASE_BANNER[step.phase]));
      phase = step.phase;
    }
    const facts = [
      step.seedStep === null ? 'added by Rollgate' : `seed step ${step.seedStep}`,
      ...(step.group === null ? [] : [`group ${step.group}`]),
      step.performedBy.map((p) => PERFORMER_LABEL[p]).join(' / '),
      step.servers.length > 0
        ? `on ${step.servers.join(', ')}`
        : step.kind === 'sign-off'
          ? "waits for the customer's decision"
          : 'no servers',
    ];
    lines.push(`${String(step.index + 1).padStart(width)}. ${step.title}`);
    const indent = ' '.repeat(width + 2);
    lines.push(`${indent}${facts.join(' · ')}`);
    if (step.ops.length > 0) lines.push(`${indent}${step.ops.map(describeOp).join(' → ')}`);
  }
  if (phase !== 'full-service-restored') {
    lines.push(
      banner(
        plan.procedure === 'minor'
          ? 'SERVICE AT RISK / LIMITED CAPABILITY WINDOW ENDS'
          : PHASE_BANNER['full-service-restored'],
      ),
    );
  }
  return lines.join('\n');
}
