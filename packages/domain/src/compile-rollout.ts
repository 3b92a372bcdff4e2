import type { Edition, ServerRef } from './fleet';
import { compareIds } from './groups';
import { besideId } from './lb-config';
import type { ActionOp } from './ops';
import {
  PlanValidationError,
  type Plan,
  type PlanIssue,
  type PlanStep,
  type RolloutOptions,
  type ServerGroup,
} from './plan';
import {
  assertPlanSound,
  ENGINEER,
  issueList,
  validateEdition,
  validateName,
  validateServers,
  type Issues,
} from './compile-common';

/**
 * The edition manager's verbs as plans: `rollout` (grouped or atomic), `activation` (the seed's
 * simple activation: stop, deactivate, activate, start — with downtime) and `backout` (rolling the
 * previous edition out again, by the fast path when it is still installed everywhere).
 */

/** Defaults of {@link RolloutInput}'s optional fields (the seed's rolloutEdition parameters). */
export const ROLLOUT_DEFAULTS = Object.freeze({
  strategy: 'grouped' as const,
  groupSize: 1,
  reset: 'soft' as const,
  drainageIntervalSec: 30,
  stopTimeoutMs: 60_000,
  healthTimeoutMs: 120_000,
  /** The command a hard reset runs on each server to restart what hosts the application. */
  hardResetCommand: 'host-restart',
  minutesPerServer: 2,
});

export interface RolloutInput {
  cluster: string;
  service: string;
  servers: ServerRef[];
  toEdition: Edition;
  /** What the servers run now (recorded on the plan; a back-out rolls it out again). */
  fromEdition?: Edition;
  /** grouped (default) or atomic (half the cluster at a time, switched in one LB exchange). */
  strategy?: 'grouped' | 'atomic';
  /** Servers per group for the grouped strategy; default 1; at most the target's size. */
  groupSize?: number;
  /** soft (default): restart the application; hard: also run the servers' `host-restart` command. */
  reset?: 'soft' | 'hard';
  /** How long a server may finish in-flight requests after it leaves rotation; default 30 s. */
  drainageIntervalSec?: number;
  stopTimeoutMs?: number;
  healthTimeoutMs?: number;
  /**
   * Per server, the editions it has installed (from the agents' inventory). When the edition is
   * installed everywhere the plan takes the fast path: nothing is downloaded or staged.
   */
  installedOn?: Record<string, readonly string[]>;
  /** Environment overrides for the new edition's configuration (the rest is carried over). */
  env?: Record<string, string>;
  /**
   * Servers running a validation clone of the edition (their second instance): a rollout from
   * validation stops those instances at the end, so the clone is gone.
   */
  cloneOn?: string[];
  /**
   * A single-server target can run the new edition beside the old one (its agent has a beside
   * port, and the load balancer's runtime API can switch between them): it is rolled out side by
   * side instead of being refused. Default false.
   */
  beside?: boolean;
  /**
   * Server ids per load-balancer pool (floorPools of the cluster's LB configuration, as for the
   * upgrade compilers): no group, and neither atomic half, takes every server of a pool out of
   * rotation. Ids outside `servers` are ignored. Default: roles only.
   */
  pools?: string[][];
}

type Resolved = Required<Omit<RolloutInput, 'fromEdition' | 'installedOn' | 'beside' | 'cloneOn' | 'pools'>> &
  Pick<RolloutInput, 'fromEdition' | 'installedOn' | 'beside' | 'cloneOn' | 'pools'>;

function resolve(input: RolloutInput): Resolved {
  const d = ROLLOUT_DEFAULTS;
  return {
    ...input,
    strategy: input.strategy ?? d.strategy,
    groupSize: input.groupSize ?? d.groupSize,
    reset: input.reset ?? d.reset,
    drainageIntervalSec: input.drainageIntervalSec ?? d.drainageIntervalSec,
    stopTimeoutMs: input.stopTimeoutMs ?? d.stopTimeoutMs,
    healthTimeoutMs: input.healthTimeoutMs ?? d.healthTimeoutMs,
    env: { ...(input.env ?? {}) },
  };
}

function validate(
  input: RolloutInput,
  r: Resolved,
  procedure: Plan['procedure'],
): { issues: Issues; members: ServerRef[] } {
  const issues = issueList();
  validateName(issues, input.cluster, input.service);
  const members = validateServers(issues, input.cluster, input.servers, procedure);
  validateEdition(issues, input.toEdition, 'EDITION', 'Edition');
  if (input.fromEdition && input.fromEdition.name === input.toEdition?.name) {
    issues.add(
      'SAME_EDITION',
      `Edition ${input.toEdition.name} is already the active edition of cluster "${input.cluster}".`,
      'Choose another edition to roll out, or nothing needs doing.',
    );
  }
  if (!Number.isInteger(r.groupSize) || r.groupSize < 1) {
    issues.add(
      'GROUP_SIZE_INVALID',
      `groupSize must be a whole number of at least 1 (got ${input.groupSize}).`,
      'Leave it out to roll out one server at a time.',
    );
  } else if (members.length > 0 && r.groupSize > members.length) {
    issues.add(
      'GROUP_SIZE_TOO_LARGE',
      `groupSize ${r.groupSize} exceeds the ${members.length} servers of cluster "${input.cluster}".`,
      `Use a groupSize from 1 to ${members.length}; a group is the set of servers taken out of rotation together.`,
    );
  }
  if (!(
    Number.isInteger(r.drainageIntervalSec) &&
    r.drainageIntervalSec >= 0 &&
    r.drainageIntervalSec <= 3600
  )) {
    issues.add(
      'DRAINAGE_INTERVAL_INVALID',
      `drainageInterval must be 0-3600 seconds (got ${input.drainageIntervalSec}).`,
      'Leave it out for the default of 30 s.',
    );
  }
  return { issues, members };
}

/** Servers ordered so that consecutive ones are of different roles: a1, s1, a2, s2, … */
function interleaveByRole(members: ServerRef[]): ServerRef[] {
  const byRole = new Map<string, ServerRef[]>();
  for (const s of [...members].sort((a, b) => compareIds(a.id, b.id))) {
    const list = byRole.get(s.role);
    if (list) list.push(s);
    else byRole.set(s.role, [s]);
  }
  const roles = [...byRole.keys()].sort(compareIds);
  const out: ServerRef[] = [];
  for (let i = 0; out.length < members.length; i++) {
    for (const role of roles) {
      const s = byRole.get(role)![i];
      if (s) out.push(s);
    }
  }
  return out;
}

/** A group that takes every server of a role out would stop the service: say which and what to do. */
function checkGroupsKeepEveryRole(
  issues: Issues,
  groups: ServerGroup[],
  members: ServerRef[],
  cluster: string,
): void {
  const total = new Map<string, number>();
  for (const s of members) total.set(s.role, (total.get(s.role) ?? 0) + 1);
  for (const g of groups) {
    const out = new Map<string, number>();
    for (const s of g.servers) out.set(s.role, (out.get(s.role) ?? 0) + 1);
    for (const [role, n] of out) {
      if (n >= (total.get(role) ?? 0)) {
        issues.add(
          'GROUP_EMPTIES_ROLE',
          `Group ${g.index} (${g.servers.map((s) => s.id).join(', ')}) would take every "${role}" server of cluster "${cluster}" out of rotation at once.`,
          (total.get(role) ?? 0) === 1
            ? members.length === 1
              ? `A single server is rolled out without a lost request only side by side: give its agent a beside port (services[].beside.port) and the cluster's load balancer a runtime API (rollgate lb configure --socket ...); or accept downtime with a simple activation.`
              : `Role "${role}" has a single server: add a server to it, or accept downtime with a simple activation.`
            : 'Use a smaller groupSize.',
        );
        return;
      }
    }
  }
}

/** The pools restricted to the target's servers (sorted, deduplicated); empty pools dropped. */
function poolsOf(input: RolloutInput, members: ServerRef[]): string[][] {
  const ids = new Set(members.map((s) => s.id));
  return (input.pools ?? [])
    .map((p) => [...new Set(p.filter((id) => ids.has(id)))].sort(compareIds))
    .filter((p) => p.length > 0);
}

/** The first pool the group holds whole, or null. */
function poolHeldBy(group: ServerGroup, pools: readonly string[][]): string[] | null {
  const ids = new Set(group.servers.map((s) => s.id));
  return pools.find((p) => p.every((id) => ids.has(id))) ?? null;
}

/**
 * Groups (or atomic halves) are formed by role; load-balancer pools need not follow roles (a pool
 * of one service may span roles, a server may be in two pools). A group holding every server of a
 * pool swaps one of them with a server of the same role in another group, so every group keeps its
 * role counts (and the role floor still holds); a swap is kept only if neither group then holds a
 * pool whole. For two atomic halves, "neither half holds a pool whole" is "each half keeps a server
 * of every pool". Groups are tried in order and the search is bounded by servers × groups per pool.
 */
function keepEveryPoolServed(groups: ServerGroup[], pools: readonly string[][]): void {
  for (const g of groups) {
    for (let guard = 0; guard < pools.length; guard++) {
      const pool = poolHeldBy(g, pools);
      if (!pool) break;
      let swapped = false;
      for (const id of [...pool].reverse()) {
        const i = g.servers.findIndex((s) => s.id === id);
        const mine = g.servers[i]!;
        for (const other of groups) {
          if (other === g) continue;
          for (let j = 0; j < other.servers.length && !swapped; j++) {
            const theirs = other.servers[j]!;
            if (theirs.role !== mine.role) continue;
            g.servers[i] = theirs;
            other.servers[j] = mine;
            if (!poolHeldBy(g, pools) && !poolHeldBy(other, pools)) swapped = true;
            else {
              g.servers[i] = mine;
              other.servers[j] = theirs;
            }
          }
          if (swapped) break;
        }
        if (swapped) break;
      }
      if (!swapped) break;
    }
  }
}

/**
 * The pool floor, in words: a single-server pool cannot keep a server while its server is rolled
 * out; a group (or half) that still holds a pool whole after the swaps is refused with what to do.
 */
function checkGroupsKeepEveryPool(
  issues: Issues,
  groups: ServerGroup[],
  pools: readonly string[][],
  r: Resolved,
): void {
  const single = pools.filter((p) => p.length === 1);
  for (const [id] of single) {
    issues.add(
      'CAPACITY_POOL_EMPTY',
      `The load-balancer pool of ${id} has a single server: rolling ${id} out would leave that pool without a server${r.strategy === 'atomic' ? ', and the atomic strategy needs a server of every pool in each half' : ''}.`,
      'Add a server to the pool (rollgate lb configure --pool), or accept downtime with a simple activation.',
    );
  }
  if (single.length > 0) return;
  for (const g of groups) {
    const pool = poolHeldBy(g, pools);
    if (!pool) continue;
    const what = r.strategy === 'atomic' ? `Half ${g.index}` : `Group ${g.index}`;
    issues.add(
      'CAPACITY_POOL_EMPTY',
      `${what} (${g.servers.map((s) => s.id).join(', ')}) holds every server of the load-balancer pool of ${pool.join(', ')}: taking it out would leave that pool without a server.`,
      r.strategy === 'atomic'
        ? 'Each half must keep a server of every pool: give the pool a server of a role with a second server, use --strategy grouped, or split the pool by role (rollgate lb configure --pool).'
        : `Use a groupSize below ${pool.length} (the pool's servers), or give the pool a server of a role with a second server (rollgate lb configure --pool).`,
    );
    return;
  }
}

function rolloutOps(r: Resolved, stage: boolean, gate: { leave: boolean; rejoin: boolean }): ActionOp[] {
  const { service, toEdition: e } = r;
  return [
    ...(gate.leave ? ([{ op: 'gate', state: 'closed' }] as ActionOp[]) : []),
    { op: 'drain', service, maxWaitMs: r.drainageIntervalSec * 1000 },
    { op: 'stop', service, timeoutMs: r.stopTimeoutMs },
    ...(stage
      ? ([{ op: 'install', service, edition: e.name, sha256: e.sha256, size: e.size }] as ActionOp[])
      : []),
    { op: 'activate', service, edition: e.name },
    { op: 'configure', service, edition: e.name, env: { ...r.env } },
    ...(r.reset === 'hard'
      ? ([
          { op: 'command', service, command: ROLLOUT_DEFAULTS.hardResetCommand, timeoutMs: r.stopTimeoutMs },
        ] as ActionOp[])
      : []),
    { op: 'start', service },
    { op: 'waitHealthy', service, timeoutMs: r.healthTimeoutMs },
    ...(gate.rejoin ? ([{ op: 'gate', state: 'open' }] as ActionOp[]) : []),
  ];
}

function base(
  r: Resolved,
  procedure: Plan['procedure'],
  groups: ServerGroup[],
  steps: PlanStep[],
  fastPath: boolean,
  maxOut: number,
  downtime: boolean,
): Plan {
  const servers = groups.reduce((n, g) => n + g.servers.length, 0);
  const rollout: RolloutOptions = {
    strategy: r.strategy,
    groupSize: r.groupSize,
    reset: r.reset,
    drainageIntervalSec: r.drainageIntervalSec,
    fastPath,
  };
  const minutes = Math.max(1, Math.ceil(servers * ROLLOUT_DEFAULTS.minutesPerServer));
  return {
    procedure,
    cluster: r.cluster,
    service: r.service,
    toEdition: r.toEdition,
    ...(r.fromEdition ? { fromEdition: r.fromEdition } : {}),
    groups,
    steps,
    maxOutOfRotation: maxOut,
    window: {
      atRiskMinutes: minutes,
      downtimeMinutes: downtime ? minutes : 0,
      basis: `${servers} servers × ${ROLLOUT_DEFAULTS.minutesPerServer} min (edition rollout)`,
    },
    rollout,
  };
}

/**
 * The preparation step that stages the edition on `servers` (download, sha256, unpack side by
 * side; not activated): the installation-files readiness gate. `where` finishes its title.
 */
function stageStep(r: Resolved, servers: string[], where: string): Omit<PlanStep, 'index'> {
  const e = r.toEdition;
  return {
    key: 'prep.stage',
    kind: 'prepare',
    gate: 'installation-files',
    title: `Distribute edition ${e.name} to ${where} (download, verify the sha256, unpack side by side; not activated)`,
    seedStep: null,
    group: null,
    phase: 'preparation',
    performedBy: ENGINEER,
    servers,
    ops: [{ op: 'install', service: r.service, edition: e.name, sha256: e.sha256, size: e.size }],
    leavesRotation: [],
    rejoinsRotation: [],
  };
}

/** The edition is on every server already (side by side): a back-out or a re-rollout needs no download. */
function installedEverywhere(r: Resolved, members: ServerRef[]): boolean {
  return !!r.installedOn && members.every((s) => r.installedOn![s.id]?.includes(r.toEdition.name));
}

/**
 * Rolls an edition out over a cluster without interruption.
 *
 * grouped: groups of `groupSize` servers (roles interleaved, so a group never empties a role), one
 * after the other; each server leaves rotation, drains, stops, activates the new edition (carrying
 * its configuration over), restarts (soft or hard), is checked healthy and rejoins.
 *
 * atomic: the first half of every role leaves rotation and is brought up on the new edition while
 * the second half serves the old one; then one load-balancer exchange puts the new half in and the
 * old half out, so from that instant every new request gets the new edition; then the second half
 * is updated and rejoins. Needs the load balancer's runtime API and at least two servers per role.
 */
export function compileRollout(input: RolloutInput, procedure: 'rollout' | 'backout' = 'rollout'): Plan {
  const r = resolve(input);
  const { issues, members } = validate(input, r, procedure);
  const ordered = interleaveByRole(members);
  if (issues.length === 0 && members.length === 1 && r.beside)
    return compileBeside(r, members[0]!, procedure, poolsOf(input, members));
  let groups: ServerGroup[] = [];
  const pools = poolsOf(input, members);
  if (issues.length === 0) {
    if (r.strategy === 'grouped') {
      for (let i = 0; i < ordered.length; i += r.groupSize) {
        groups.push({ index: groups.length + 1, servers: ordered.slice(i, i + r.groupSize) });
      }
    } else {
      // Atomic: every role split in halves (the first ceil(n/2) of each role go first).
      const first: ServerRef[] = [];
      const second: ServerRef[] = [];
      const byRole = new Map<string, ServerRef[]>();
      for (const s of ordered) byRole.set(s.role, [...(byRole.get(s.role) ?? []), s]);
      for (const list of byRole.values()) {
        const half = Math.ceil(list.length / 2);
        first.push(...list.slice(0, half));
        second.push(...list.slice(half));
      }
      groups = [
        { index: 1, servers: first },
        { index: 2, servers: second },
      ];
    }
    checkGroupsKeepEveryRole(issues, groups, members, input.cluster);
    if (issues.length === 0 && pools.length > 0) {
      keepEveryPoolServed(groups, pools);
      checkGroupsKeepEveryPool(issues, groups, pools, r);
    }
  }
  if (issues.length > 0) throw new PlanValidationError(issues as PlanIssue[]);

  const fastPath = installedEverywhere(r, members);
  const all = ordered.map((s) => s.id);
  const steps: Omit<PlanStep, 'index'>[] = [];
  const e = r.toEdition;
  if (!fastPath) steps.push(stageStep(r, all, `every server`));
  const ids = (g: ServerGroup) => g.servers.map((s) => s.id);
  const verb = procedure === 'backout' ? 'Back out to' : 'Roll out';
  if (r.strategy === 'grouped') {
    const ops = rolloutOps(r, false, { leave: true, rejoin: true });
    for (const g of groups) {
      steps.push({
        key: `g${g.index}.rollout`,
        kind: 'upgrade',
        title: `${verb} edition ${e.name} on group ${g.index} (${ids(g).join(', ')}): quiesce, drain, stop, activate, ${r.reset} reset, start, rejoin`,
        seedStep: null,
        group: g.index,
        phase: 'service-at-risk',
        performedBy: ENGINEER,
        servers: ids(g),
        ops,
        leavesRotation: ids(g),
        rejoinsRotation: ids(g),
      });
    }
  } else {
    const [g1, g2] = groups as [ServerGroup, ServerGroup];
    steps.push({
      key: 'half1.prepare',
      kind: 'upgrade',
      title: `Bring half 1 (${ids(g1).join(', ')}) up on edition ${e.name} out of rotation, while half 2 serves ${r.fromEdition?.name ?? 'the old edition'}`,
      seedStep: null,
      group: 1,
      phase: 'service-at-risk',
      performedBy: ENGINEER,
      servers: ids(g1),
      ops: rolloutOps(r, false, { leave: true, rejoin: false }),
      leavesRotation: ids(g1),
      rejoinsRotation: [],
    });
    steps.push({
      key: 'switch',
      kind: 'switch',
      title: `Switch: half 1 in, half 2 out, in one load-balancer exchange (every new request gets ${e.name} from here on)`,
      seedStep: null,
      group: null,
      phase: 'service-at-risk',
      performedBy: ENGINEER,
      servers: [],
      ops: [],
      leavesRotation: ids(g2),
      rejoinsRotation: ids(g1),
    });
    steps.push({
      key: 'half2.update',
      kind: 'upgrade',
      title: `Update half 2 (${ids(g2).join(', ')}) to edition ${e.name} and put it back in rotation`,
      seedStep: null,
      group: 2,
      phase: 'service-at-risk',
      performedBy: ENGINEER,
      servers: ids(g2),
      // Half 2 already left rotation at the switch: its gate is closed, only the update remains.
      ops: rolloutOps(r, false, { leave: true, rejoin: true }),
      leavesRotation: [],
      rejoinsRotation: ids(g2),
    });
  }
  if (r.cloneOn && r.cloneOn.length > 0) {
    const clone = ordered.filter((s) => r.cloneOn!.includes(s.id)).map((s) => s.id);
    steps.push({
      key: 'clone.stop',
      kind: 'upgrade',
      title: `Remove the validation clone: stop the second instances of ${e.name} beside ${clone.join(', ')} (the target itself serves ${e.name} now)`,
      seedStep: null,
      group: null,
      phase: 'service-at-risk',
      performedBy: ENGINEER,
      servers: clone,
      ops: [{ op: 'stopBeside', service: r.service, timeoutMs: r.stopTimeoutMs }],
      leavesRotation: [],
      rejoinsRotation: [],
    });
  }
  const maxOut = r.strategy === 'atomic' ? Math.max(...groups.map((g) => g.servers.length)) : r.groupSize;
  const plan = base(
    r,
    procedure,
    groups,
    steps.map((s, index) => ({ index, ...s })),
    fastPath,
    maxOut,
    false,
  );
  return assertPlanSound(plan, [], pools);
}

/**
 * A single server, side by side: the new edition starts on the server's beside port next to the
 * running one; one load-balancer exchange moves traffic to it; the server's own instance drains,
 * switches edition and restarts; a second exchange moves traffic back; the second instance stops.
 * Every request is answered by one of the two instances.
 */
function compileBeside(
  r: Resolved,
  server: ServerRef,
  procedure: 'rollout' | 'backout',
  pools: string[][],
): Plan {
  const e = r.toEdition;
  const id = server.id;
  const twin = besideId(id);
  const fastPath = installedEverywhere(r, [server]);
  const steps: Omit<PlanStep, 'index'>[] = [];
  const common = { seedStep: null, phase: 'service-at-risk', performedBy: ENGINEER } as const;
  if (!fastPath) steps.push(stageStep(r, [id], `${id}`));
  steps.push(
    {
      ...common,
      key: 'beside.start',
      kind: 'upgrade',
      title: `Start edition ${e.name} on ${id} beside the running ${r.fromEdition?.name ?? 'edition'} (its beside port), and check it healthy`,
      group: 1,
      servers: [id],
      ops: [
        {
          op: 'startBeside',
          service: r.service,
          edition: e.name,
          env: { ...r.env },
          timeoutMs: r.healthTimeoutMs,
        },
      ],
      leavesRotation: [],
      rejoinsRotation: [],
    },
    {
      ...common,
      key: 'beside.in',
      kind: 'switch',
      title: `Switch: ${e.name} beside in, ${id} out, in one load-balancer exchange`,
      group: null,
      servers: [],
      ops: [],
      leavesRotation: [id],
      rejoinsRotation: [twin],
    },
    {
      ...common,
      key: 'beside.upgrade',
      kind: 'upgrade',
      title: `${procedure === 'backout' ? 'Back out' : 'Roll out'} edition ${e.name} on ${id} while ${e.name} answers beside it: drain, stop, activate, ${r.reset} reset, start`,
      group: 1,
      servers: [id],
      ops: rolloutOps(r, false, { leave: true, rejoin: false }),
      leavesRotation: [],
      rejoinsRotation: [],
    },
    {
      ...common,
      key: 'beside.out',
      kind: 'switch',
      title: `Switch back: ${id} in, the instance beside it out, in one load-balancer exchange`,
      group: null,
      servers: [],
      ops: [],
      leavesRotation: [twin],
      rejoinsRotation: [id],
    },
    {
      ...common,
      key: 'beside.stop',
      kind: 'upgrade',
      title: `Stop the instance beside ${id}`,
      group: 1,
      servers: [id],
      ops: [{ op: 'stopBeside', service: r.service, timeoutMs: r.stopTimeoutMs }],
      leavesRotation: [],
      rejoinsRotation: [],
    },
  );
  const plan = base(
    { ...r, strategy: 'grouped', groupSize: 1 },
    procedure,
    [{ index: 1, servers: [server] }],
    steps.map((s, index) => ({ index, ...s })),
    fastPath,
    1,
    false,
  );
  // Its pools keep a server throughout: the instance beside it serves in its place.
  return assertPlanSound({ ...plan, rollout: { ...plan.rollout!, beside: true } }, [], pools);
}

export interface ValidationInput extends RolloutInput {
  /** Servers that run a second instance of the edition (the clone); default 1, at most the target's size. */
  cloneSize?: number;
}

/**
 * The seed's validation activation: the edition runs on a clone of the target, i.e. second
 * instances beside the current ones (each server's beside port) that form the cluster's
 * validation backend, while the target keeps serving its edition to everyone. Routing rules then
 * send a pilot subset there; `rollout` from validation moves the edition onto the target and
 * removes the clone. Nothing leaves rotation.
 */
export function compileValidation(input: ValidationInput): Plan {
  const r = resolve(input);
  const { issues, members } = validate(input, { ...r, groupSize: 1 }, 'validate');
  const size = input.cloneSize ?? 1;
  if (!Number.isInteger(size) || size < 1 || (members.length > 0 && size > members.length)) {
    issues.add(
      'CLONE_SIZE_INVALID',
      `cloneSize ${input.cloneSize} is not between 1 and the ${members.length} servers of cluster "${input.cluster}".`,
      `Use a clone size from 1 to ${members.length}: that many servers run ${input.toEdition?.name ?? 'the edition'} beside their current instance.`,
    );
  }
  if (issues.length > 0) throw new PlanValidationError(issues as PlanIssue[]);
  const clone = interleaveByRole(members).slice(0, size);
  const ids = clone.map((s) => s.id);
  const e = r.toEdition;
  const fastPath = installedEverywhere(r, clone);
  const steps: Omit<PlanStep, 'index'>[] = [];
  if (!fastPath) steps.push(stageStep(r, ids, `the clone's servers ${ids.join(', ')}`));
  steps.push({
    key: 'clone.start',
    kind: 'upgrade',
    title: `Start the validation clone: ${e.name} beside the running instance on ${ids.join(', ')} (the target keeps serving ${r.fromEdition?.name ?? 'its edition'})`,
    seedStep: null,
    group: 1,
    phase: 'service-at-risk',
    performedBy: ENGINEER,
    servers: ids,
    ops: [
      {
        op: 'startBeside',
        service: r.service,
        edition: e.name,
        env: { ...r.env },
        timeoutMs: r.healthTimeoutMs,
      },
    ],
    leavesRotation: [],
    rejoinsRotation: [],
  });
  const plan = base(
    r,
    'validate',
    [{ index: 1, servers: clone }],
    steps.map((s, index) => ({ index, ...s })),
    fastPath,
    0,
    false,
  );
  return assertPlanSound(plan);
}

/**
 * The seed's deactivation of a validation edition: the clone's second instances stop (on every
 * server that can run one: stopping one that is not there is a no-op). The target's active
 * edition is replaced by a rollout, never deactivated.
 */
export function compileDeactivation(input: RolloutInput): Plan {
  const r = resolve(input);
  const { issues, members } = validate(input, { ...r, groupSize: 1 }, 'deactivate');
  if (issues.length > 0) throw new PlanValidationError(issues as PlanIssue[]);
  const clone = interleaveByRole(members).filter((s) => r.cloneOn?.includes(s.id));
  if (clone.length === 0) {
    throw new PlanValidationError([
      {
        code: 'NOT_VALIDATING',
        message: `Edition ${r.toEdition.name} runs on no validation clone of cluster "${r.cluster}": there is nothing to deactivate.`,
        hint: 'See `rollgate edition status`; an ACTIVE edition is replaced by rolling another one out.',
      },
    ]);
  }
  const steps: PlanStep[] = [
    {
      index: 0,
      key: 'clone.stop',
      kind: 'upgrade',
      title: `Deactivate ${r.toEdition.name}: stop the validation clone's second instances beside ${clone.map((s) => s.id).join(', ')}`,
      seedStep: null,
      group: null,
      phase: 'service-at-risk',
      performedBy: ENGINEER,
      servers: clone.map((s) => s.id),
      ops: [{ op: 'stopBeside', service: r.service, timeoutMs: r.stopTimeoutMs }],
      leavesRotation: [],
      rejoinsRotation: [],
    },
  ];
  const plan = base(r, 'deactivate', [{ index: 1, servers: clone }], steps, true, 0, false);
  return assertPlanSound({
    ...plan,
    window: { atRiskMinutes: 0, downtimeMinutes: 0, basis: 'no change to the serving target' },
  });
}

/**
 * The seed's simple activation: stop every server, deactivate the current edition, activate the
 * new one, start — all at once. It has downtime (the plan says so in its window and phases);
 * use a rollout to avoid it.
 */
export function compileSimpleActivation(input: RolloutInput): Plan {
  const r = resolve({ ...input, strategy: 'grouped' });
  const { issues, members } = validate(input, { ...r, groupSize: 1 }, 'activation');
  if (issues.length > 0) throw new PlanValidationError(issues as PlanIssue[]);
  const all = interleaveByRole(members).map((s) => s.id);
  const fastPath = installedEverywhere(r, members);
  const e = r.toEdition;
  const steps: Omit<PlanStep, 'index'>[] = [];
  if (!fastPath) steps.push(stageStep(r, all, `every server`));
  steps.push({
    key: 'activate',
    kind: 'upgrade',
    title: `Stop every server, deactivate ${r.fromEdition?.name ?? 'the active edition'}, activate ${e.name}, start (SERVICE DOWNTIME)`,
    seedStep: null,
    group: null,
    phase: 'downtime',
    performedBy: ENGINEER,
    servers: all,
    ops: rolloutOps(r, false, { leave: true, rejoin: true }),
    leavesRotation: all,
    rejoinsRotation: all,
    allowsDowntime: true,
  });
  const groups: ServerGroup[] = [{ index: 1, servers: interleaveByRole(members) }];
  const plan = base(
    r,
    'activation',
    groups,
    steps.map((s, index) => ({ index, ...s })),
    fastPath,
    all.length,
    true,
  );
  return assertPlanSound(plan);
}

/**
 * Distribution without activation (the seed separates them): the edition is downloaded, checked
 * against its sha256 and unpacked side by side on every server of the target; nothing stops.
 */
export function compileDistribution(input: RolloutInput): Plan {
  const r = resolve(input);
  const { issues, members } = validate(input, { ...r, groupSize: 1 }, 'distribute');
  if (issues.length > 0) throw new PlanValidationError(issues as PlanIssue[]);
  const ordered = interleaveByRole(members);
  const e = r.toEdition;
  const steps: PlanStep[] = [
    {
      index: 0,
      key: 'distribute',
      kind: 'prepare',
      gate: 'installation-files',
      title: `Distribute edition ${e.name} to every server of cluster "${r.cluster}" (download, verify the sha256, unpack side by side; not activated)`,
      seedStep: null,
      group: null,
      phase: 'preparation',
      performedBy: ENGINEER,
      servers: ordered.map((s) => s.id),
      ops: [{ op: 'install', service: r.service, edition: e.name, sha256: e.sha256, size: e.size }],
      leavesRotation: [],
      rejoinsRotation: [],
    },
  ];
  const plan = base(
    r,
    'distribute',
    [{ index: 1, servers: ordered }],
    steps,
    installedEverywhere(r, members),
    0,
    false,
  );
  return assertPlanSound({
    ...plan,
    window: { atRiskMinutes: 0, downtimeMinutes: 0, basis: 'no service change' },
  });
}
