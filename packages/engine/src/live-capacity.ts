import { liveCapacityBreach, type PlanStep } from '@rollgate/domain';
import type { AgentBus, EngineStore, LoadBalancerPort, RunRecord } from './ports';
import { activeServers } from './run-records';

export interface LiveCapacityContext {
  store: Pick<EngineStore, 'openLedger' | 'listServers'>;
  bus: Pick<AgentBus, 'isConnected'>;
  lb: Pick<LoadBalancerPort, 'mode'> | undefined;
}

/** Why a step may not take its servers out of rotation yet, or null (re-read every tick). */
export type CapacityProblem = (run: RunRecord, step: PlanStep) => Promise<string | null>;

/**
 * Gathers the fleet as it is now for the domain's live capacity floor (liveCapacityBreach): the
 * open ledger, the cluster's servers with their agents and gates, the load balancer's pools.
 */
export function createLiveCapacity({ store, bus, lb }: LiveCapacityContext): CapacityProblem {
  return async (run, step) => {
    const leaving = activeServers(run, step.leavesRotation);
    if (leaving.length === 0) return null;
    const open = await store.openLedger();
    // Excluded servers are out of this run's pool: they no longer count against its budget.
    const alreadyOut = open.map((l) => l.serverId).filter((id) => !run.excluded.includes(id));
    const incoming = step.kind === 'switch' ? activeServers(run, step.rejoinsRotation) : [];
    const servers = await store.listServers({ cluster: run.plan.cluster });
    // Pools matter only outside a downtime (which may empty them, as it may a role).
    const pools = lb && !step.allowsDowntime ? ((await lb.mode(run.plan.cluster))?.pools ?? []) : [];
    const breach = liveCapacityBreach({
      servers: servers.map((s) => ({
        id: s.id,
        role: s.role,
        // A stream this coordinator holds right now is the fresher word on an agent than its
        // stored status (which a write racing a reconnect may have left stale).
        connected: s.status === 'connected' || bus.isConnected(s.id),
        agentStatus: s.status,
        gateOpen: s.gateOpen,
      })),
      leaving,
      incoming,
      alreadyOut,
      maxOutOfRotation: run.plan.maxOutOfRotation,
      allowsDowntime: step.allowsDowntime ?? false,
      pools,
    });
    return breach?.message ?? null;
  };
}
