import { unservedPools } from './capacity-floor';
import { besideOwner } from './lb-config';
import type { ActionOpKind } from './ops';
import type { ServerRef } from './fleet';
import type { Plan, PlanIssue, ServerGroup } from './plan';

// The floor's live twin is public with this module, its compile-time counterpart.
export { liveCapacityBreach, unservedPools } from './capacity-floor';
export type { FloorBreach, FloorBreachCode, FloorServer, LiveFloorInput } from './capacity-floor';

/**
 * Plain code-unit order. `localeCompare` would depend on the ICU data and locale of the process, and
 * the same fleet must always yield the same groups on every coordinator and in every test.
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Forms the server groups an upgrade takes out of rotation one at a time: group k holds the k-th
 * server (by id) of every role (roles by name), so each group has at most one server per role and
 * the rest of the fleet always keeps every role it has a second server for. There are as many groups
 * as the largest role has servers; later groups lack the roles that ran out.
 *
 * Group indexes are 1-based, like the seed's "server group 1". The input is not validated here
 * (duplicates and foreign clusters are the compiler's business); the order of the input does not
 * matter.
 */
export function formServerGroups(
  servers: ServerRef[],
  pools: readonly (readonly string[])[] = [],
): ServerGroup[] {
  const byRole = new Map<string, ServerRef[]>();
  for (const s of servers) {
    const list = byRole.get(s.role);
    if (list) list.push(s);
    else byRole.set(s.role, [s]);
  }
  const roles = [...byRole.keys()].sort(compareIds);
  const sorted = roles.map((r) => [...(byRole.get(r) ?? [])].sort((a, b) => compareIds(a.id, b.id)));
  const count = Math.max(0, ...sorted.map((l) => l.length));
  const groups: ServerGroup[] = [];
  for (let k = 0; k < count; k++) {
    const members: ServerRef[] = [];
    for (const list of sorted) {
      const s = list[k];
      if (s) members.push(s);
    }
    groups.push({ index: k + 1, servers: members });
  }
  if (pools.length > 0) keepEveryPoolServed(groups, pools);
  return groups;
}

/** The first pool (of at least two servers) that a group holds whole, or null. */
export function poolEmptiedBy(
  group: ServerGroup,
  pools: readonly (readonly string[])[],
): readonly string[] | null {
  const ids = new Set(group.servers.map((s) => s.id));
  return pools.find((p) => p.length >= 2 && p.every((id) => ids.has(id))) ?? null;
}

/**
 * Load-balancer pools need not follow roles (a pool of one service may span roles): a group that
 * holds every server of a pool would leave that pool empty while it is out. Such a group swaps one
 * of the pool's servers with a server of the same role in another group, so groups keep one
 * server per role; a swap is kept only if neither group then empties a pool. What cannot be fixed
 * is reported by validateUpgradeInput (CAPACITY_POOL_EMPTY).
 */
function keepEveryPoolServed(groups: ServerGroup[], pools: readonly (readonly string[])[]): void {
  for (const g of groups) {
    for (let guard = 0; guard < pools.length; guard++) {
      const pool = poolEmptiedBy(g, pools);
      if (!pool) break;
      let swapped = false;
      for (const id of [...pool].sort(compareIds).reverse()) {
        const i = g.servers.findIndex((s) => s.id === id);
        const mine = g.servers[i]!;
        for (const other of groups) {
          if (other === g) continue;
          const j = other.servers.findIndex((s) => s.role === mine.role);
          if (j < 0) continue;
          const theirs = other.servers[j]!;
          g.servers[i] = theirs;
          other.servers[j] = mine;
          if (!poolEmptiedBy(g, pools) && !poolEmptiedBy(other, pools)) {
            swapped = true;
            break;
          }
          g.servers[i] = mine;
          other.servers[j] = theirs;
        }
        if (swapped) break;
      }
      if (!swapped) break;
    }
  }
}

/** Where the fleet stands after one plan step, as far as the load balancer is concerned. */
export interface RotationSnapshot {
  stepIndex: number;
  stepKey: string;
  /** Servers out of rotation at the worst moment of the step (after its leaves, before its rejoins). */
  outOfRotation: string[];
  /** Groups with at least one server out of rotation at that moment. */
  groupsOut: number[];
}

export interface SimulateRotationOptions {
  /**
   * Servers already out of rotation when the plan starts (a rollback after a failed upgrade).
   * Their gates are not closed again, so steps do not declare them in `leavesRotation`. Default [].
   */
  initiallyOut?: readonly string[];
  /** Server ids per load-balancer pool: each keeps a server in rotation, like each role. Default []. */
  pools?: readonly (readonly string[])[];
}

export interface RotationSimulation {
  snapshots: RotationSnapshot[];
  /** Empty when the plan respects the capacity floor. */
  issues: PlanIssue[];
}

/**
 * Ops that interrupt or change the running service: they may only run on a server the load balancer
 * no longer sends users to. `install` is absent on purpose: editions are installed side by side.
 */
const DISRUPTIVE: ReadonlySet<ActionOpKind> = new Set<ActionOpKind>([
  'stop',
  'activate',
  'configure',
  'start',
]);

/**
 * Walks a plan step by step, tracking which servers are out of rotation, and reports every place it
 * would break the capacity floor:
 * - more servers out than `maxOutOfRotation`, or servers of more than one group out at once;
 * - a role with no server left in rotation;
 * - a disruptive op (stop, activate, configure, start) on a server still in rotation;
 * - a functionality test against a server out of rotation (tests go through the load balancer);
 * - `leavesRotation` / `rejoinsRotation` that disagree with the step's gate ops;
 * - a server still out of rotation when the plan ends (nothing may be left drained silently).
 *
 * Steps with `allowsDowntime` are exempt from the capacity floors: that is what an announced downtime
 * is. The one-group-at-a-time rule applies only to plans whose `maxOutOfRotation` is at most one
 * group (a major upgrade declares the whole fleet: after its downtime, group 1 serves alone while
 * the others are upgraded). Servers of a step run in parallel, so the check assumes the worst case:
 * every leave of a step happens before any of its rejoins.
 *
 * A server whose only ops in a step are functionality tests may be outside the plan's groups: it is
 * a test machine, testing through the load balancer, and never leaves or joins rotation.
 */
export function simulateRotation(
  plan: Pick<Plan, 'groups' | 'steps' | 'maxOutOfRotation'>,
  options: SimulateRotationOptions = {},
): RotationSimulation {
  const groupOf = new Map<string, number>();
  const roleOf = new Map<string, string>();
  for (const g of plan.groups) {
    for (const s of g.servers) {
      groupOf.set(s.id, g.index);
      roleOf.set(s.id, s.role);
    }
  }
  const roles = [...new Set(roleOf.values())].sort(compareIds);
  const roleSize = new Map<string, number>();
  for (const r of roleOf.values()) roleSize.set(r, (roleSize.get(r) ?? 0) + 1);
  const out = new Set<string>(options.initiallyOut ?? []);
  const largestGroup = Math.max(0, ...plan.groups.map((g) => g.servers.length));
  const oneGroupAtATime = plan.maxOutOfRotation <= largestGroup;
  const snapshots: RotationSnapshot[] = [];
  const issues: PlanIssue[] = [];
  const issue = (code: string, message: string, hint: string) => issues.push({ code, message, hint });
  // What follows from `out` is worked out again only when `out` changes: most steps (tests,
  // upgrades, configures) leave it as it was, and a plan has thousands of them.
  let derived: { sorted: string[]; groupsOut: number[]; emptyRoles: string[] } | null = null;
  // Servers whose second instance serves in their place (a single-server rollout side by side):
  // out of rotation themselves, but their role is still served.
  const besideServing = new Set<string>();
  const twinOwner = (id: string) => {
    const owner = besideOwner(id);
    return owner !== null && groupOf.has(owner) ? owner : null;
  };
  /** In rotation now: a server not out, or a twin serving in its server's place. */
  const isIn = (id: string) => {
    const owner = twinOwner(id);
    return owner === null ? !out.has(id) : besideServing.has(owner);
  };
  const derive = () => {
    const sorted = [...out].filter((id) => !besideServing.has(id)).sort(compareIds);
    const groupsOut = [...new Set(sorted.map((id) => groupOf.get(id) ?? 0))].sort((a, b) => a - b);
    // Count per role instead of scanning the fleet: compilation stays linear in servers.
    const outPerRole = new Map<string, number>();
    for (const id of sorted) {
      const r = roleOf.get(id);
      if (r !== undefined) outPerRole.set(r, (outPerRole.get(r) ?? 0) + 1);
    }
    const emptyRoles = roles.filter((role) => (roleSize.get(role) ?? 0) - (outPerRole.get(role) ?? 0) <= 0);
    return { sorted, groupsOut, emptyRoles };
  };

  for (const step of plan.steps) {
    const at = `Step ${step.index + 1} (${step.key})`;
    // Each unknown id once per step; no per-step set of the known ones (steps can name thousands).
    let unknown: Set<string> | null = null;
    const opsOf = (id: string) => step.opsByServer?.[id] ?? step.ops;
    for (const id of step.servers) {
      if (!groupOf.has(id) && !opsOf(id).every((op) => op.op === 'functionalTest'))
        (unknown ??= new Set()).add(id);
    }
    for (const list of [step.leavesRotation, step.rejoinsRotation]) {
      for (const id of list) if (!groupOf.has(id) && twinOwner(id) === null) (unknown ??= new Set()).add(id);
    }
    for (const id of unknown ?? []) {
      issue(
        'PLAN_UNKNOWN_SERVER',
        `${at} names server ${id}, which is in none of the plan's groups.`,
        'Recompile the plan from the current fleet.',
      );
    }

    // Each server's ops run in order; gate ops are what move it in and out of rotation. A switch
    // has no agent ops: the engine moves its servers at the load balancer in one exchange, so the
    // ones entering are in by the time the ones leaving are out.
    const switching = step.kind === 'switch';
    const closes: string[] = switching ? step.leavesRotation.filter(isIn) : [];
    const opens: string[] = switching ? step.rejoinsRotation.filter((id) => !isIn(id)) : [];
    if (switching) {
      for (const id of opens) {
        const owner = twinOwner(id);
        if (owner === null) out.delete(id);
        else besideServing.add(owner);
      }
      if (opens.length > 0) derived = null;
    }
    for (const id of switching ? [] : step.servers) {
      let serverOut = out.has(id);
      for (const op of opsOf(id)) {
        if (op.op === 'gate') {
          if (op.state === 'closed' && !serverOut) closes.push(id);
          if (op.state === 'open' && serverOut) opens.push(id);
          serverOut = op.state === 'closed';
        } else if (DISRUPTIVE.has(op.op) && !serverOut) {
          issue(
            'DISRUPTIVE_OP_IN_ROTATION',
            `${at} would ${op.op} the service on server ${id} while it is still in rotation.`,
            'Close its gate (take it out of rotation) and drain it first.',
          );
        } else if (op.op === 'probe' && serverOut) {
          issue(
            'TEST_OUT_OF_ROTATION',
            `${at} tests server ${id} through the load balancer while it is out of rotation.`,
            'Test only the servers in rotation, or start the server and open its gate first.',
          );
        }
      }
    }
    if (!sameSet(closes, step.leavesRotation)) {
      issue(
        'ROTATION_DECLARATION_MISMATCH',
        `${at} declares leavesRotation [${step.leavesRotation.join(', ')}] but its gate ops close [${closes.join(', ')}].`,
        'Make leavesRotation list exactly the servers whose gate the step closes.',
      );
    }
    if (!sameSet(opens, step.rejoinsRotation)) {
      issue(
        'ROTATION_DECLARATION_MISMATCH',
        `${at} declares rejoinsRotation [${step.rejoinsRotation.join(', ')}] but its gate ops open [${opens.join(', ')}].`,
        'Make rejoinsRotation list exactly the servers whose gate the step opens.',
      );
    }

    for (const id of closes) {
      const owner = twinOwner(id);
      if (owner === null) out.add(id);
      else besideServing.delete(owner);
    }
    if (closes.length > 0) derived = null;
    const { sorted, groupsOut, emptyRoles } = (derived ??= derive());
    snapshots.push({
      stepIndex: step.index,
      stepKey: step.key,
      outOfRotation: [...sorted],
      groupsOut: [...groupsOut],
    });

    if (!step.allowsDowntime) {
      if (sorted.length > plan.maxOutOfRotation) {
        issue(
          'CAPACITY_TOO_MANY_OUT',
          `${at} has ${sorted.length} servers out of rotation; the plan allows at most ${plan.maxOutOfRotation}.`,
          'Bring a group back into rotation before taking the next one out.',
        );
      }
      if (oneGroupAtATime && groupsOut.length > 1) {
        issue(
          'CAPACITY_SEVERAL_GROUPS_OUT',
          `${at} has servers of groups ${groupsOut.join(', ')} out of rotation at once.`,
          'Start the previous group and open its gates before stopping the next one.',
        );
      }
      // The live check (liveCapacityBreach) applies the same pool rule to the fleet as it is.
      for (const pool of unservedPools(options.pools ?? [], (id) => !out.has(id) || besideServing.has(id))) {
        issue(
          'CAPACITY_POOL_EMPTY',
          `${at} leaves no server of the pool of ${pool.join(', ')} in rotation: that backend would stop serving.`,
          'Keep at least one server of each load-balancer pool in rotation (groups are formed so), or move the step into an announced downtime phase.',
        );
      }
      for (const role of emptyRoles) {
        issue(
          'CAPACITY_ROLE_EMPTY',
          `${at} leaves no "${role}" server in rotation: the service would stop.`,
          `Keep at least one "${role}" server in rotation, or move the step into an announced downtime phase.`,
        );
      }
    }
    if (!switching) {
      for (const id of opens) out.delete(id);
      if (opens.length > 0) derived = null;
    }
  }

  if (besideServing.size > 0) {
    issue(
      'ROTATION_LEFT_BESIDE',
      `The plan ends with the second instance of ${[...besideServing].sort(compareIds).join(', ')} still in rotation.`,
      'Switch back to the server itself and stop the second instance before the plan ends.',
    );
  }
  if (out.size > 0) {
    issue(
      'ROTATION_LEFT_OUT',
      `The plan ends with ${[...out].sort(compareIds).join(', ')} still out of rotation.`,
      'Every server the plan takes out of rotation must be started and put back before it ends.',
    );
  }
  return { snapshots, issues };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 && b.length === 0) return true;
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}
