import { besideId } from './lb-config';

/**
 * The capacity floor at run time: the live twin of `simulateRotation` (groups.ts), which checks the
 * same rules on a compiled plan before it runs. Here the fleet is as it is now (agents lost, gates
 * closed, servers an earlier run left out), so a step that compiled fine may still have to wait.
 */

/** A server of the cluster as the floor sees it at this moment. */
export interface FloorServer {
  id: string;
  role: string;
  /** Its agent holds a stream now (or its stored status says so). */
  connected: boolean;
  /** The agent's stored status, named in a hold's reason ("agent lost"). */
  agentStatus: string;
  /** The agent reports its gate open (the load balancer may send it users). */
  gateOpen: boolean;
}

/** One step about to take servers out of rotation, and the fleet around it. */
export interface LiveFloorInput {
  /** Every server of the cluster. */
  servers: readonly FloorServer[];
  /** The servers the step takes out of rotation (those the run still works on). */
  leaving: readonly string[];
  /** A switch's incoming half: in rotation by the same exchange that takes `leaving` out. */
  incoming: readonly string[];
  /** Servers already out of rotation before the step (open ledger entries that count against the run). */
  alreadyOut: readonly string[];
  /** The plan's budget of servers out of rotation at once. */
  maxOutOfRotation: number;
  /** The step is inside an announced downtime: it may empty a role or a pool. */
  allowsDowntime: boolean;
  /** Server ids per load-balancer pool (docs/adr/0026); each must keep a server, like each role. */
  pools: readonly (readonly string[])[];
}

export type FloorBreachCode = 'CAPACITY_TOO_MANY_OUT' | 'CAPACITY_ROLE_EMPTY' | 'CAPACITY_POOL_EMPTY';

/** Why the step must wait; codes are those simulateRotation reports for the same rule at compile time. */
export interface FloorBreach {
  code: FloorBreachCode;
  message: string;
}

/**
 * The pools (non-empty) none of whose servers is in rotation. One rule for both twins: the
 * compile-time simulation and the live check differ only in what "in rotation" means.
 */
export function unservedPools(
  pools: readonly (readonly string[])[],
  inRotation: (id: string) => boolean,
): (readonly string[])[] {
  return pools.filter((pool) => pool.length > 0 && !pool.some(inRotation));
}

/**
 * Whether a step may take its servers out of rotation now: the first rule it would break, or null.
 * Never more than `maxOutOfRotation` out at once; outside a downtime, never the last serving server
 * of a role or of a load-balancer pool. A server counts as serving when it is not out, its agent is
 * connected and its gate is open (or it enters by this step's switch); a leaving server whose
 * second instance enters in its place leaves nothing unserved.
 */
export function liveCapacityBreach(input: LiveFloorInput): FloorBreach | null {
  const { servers, leaving, incoming } = input;
  if (leaving.length === 0) return null;
  const out = new Set(input.alreadyOut);
  for (const s of leaving) out.add(s);
  // A switch puts its incoming half in by the same exchange that takes the other half out.
  for (const s of incoming) out.delete(s);
  if (out.size > input.maxOutOfRotation) {
    return {
      code: 'CAPACITY_TOO_MANY_OUT',
      message: `${out.size} servers would be out of rotation (${[...out].join(', ')}); at most ${input.maxOutOfRotation} may be`,
    };
  }
  // The announced downtime of a major upgrade (or a database restore) may empty a role.
  if (input.allowsDowntime) return null;
  const serving = (s: FloorServer) =>
    !out.has(s.id) && s.connected && (s.gateOpen || incoming.includes(s.id));
  const roles = new Set(servers.filter((s) => leaving.includes(s.id)).map((s) => s.role));
  for (const role of roles) {
    const others = servers.filter((s) => s.role === role && !leaving.includes(s.id));
    // A server whose second instance takes its place (single-server rollout) leaves none unserved.
    const servedBeside = servers
      .filter((s) => s.role === role && leaving.includes(s.id))
      .every((s) => incoming.includes(besideId(s.id)));
    if (!others.some(serving) && !servedBeside) {
      // Why each of the others does not count, so a hold that lasts can be diagnosed from the log.
      const why = others
        .map((s) => {
          const reason = out.has(s.id)
            ? 'out of rotation'
            : !s.connected
              ? `agent ${s.agentStatus}`
              : 'gate closed';
          return `${s.id}: ${reason}`;
        })
        .join('; ');
      return {
        code: 'CAPACITY_ROLE_EMPTY',
        message: `no other healthy "${role}" server is in rotation${why ? ` (${why})` : ''}, so taking ${leaving.join(', ')} out would stop the service`,
      };
    }
  }
  // The same floor per load-balancer pool: a server in several pools leaves every one of them.
  const byId = new Map(servers.map((s) => [s.id, s]));
  const touched = input.pools.filter((pool) => pool.some((id) => leaving.includes(id)));
  const inRotation = (id: string) => {
    const s = byId.get(id);
    return !!s && !leaving.includes(id) && serving(s);
  };
  for (const pool of unservedPools(touched, inRotation)) {
    const going = pool.filter((id) => leaving.includes(id));
    if (going.every((id) => incoming.includes(besideId(id)))) continue;
    return {
      code: 'CAPACITY_POOL_EMPTY',
      message: `no other healthy server of the pool of ${pool.join(', ')} is in rotation, so taking ${going.join(', ')} out would leave that pool without a server`,
    };
  }
  return null;
}
