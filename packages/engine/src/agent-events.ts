import {
  besideOwner,
  canTransitionAction,
  isTerminalRun,
  RESULT_KIND_OF_OP,
  type ActionStatus,
} from '@rollgate/domain';
import { toWire, type Dispatch } from './dispatch';
import type { Engine } from './engine-types';
import type { LeaseKeeper } from './leases';
import { StaleLeaseError, type AgentBus, type Clock, type EngineStore } from './ports';
import type { Emit } from './run-log';
import type { RunQueue } from './run-queue';

export interface AgentEventsContext {
  store: Pick<EngineStore, 'getAction' | 'getOutstandingActions' | 'getRun' | 'updateAction'>;
  bus: Pick<AgentBus, 'dispatch'>;
  clock: Clock;
  emit: Emit;
  queue: Pick<RunQueue, 'serial'>;
  leases: Pick<LeaseKeeper, 'leadsNow' | 'lead' | 'lost'>;
  dispatch: Dispatch;
  kick: (runId: string) => Promise<void>;
  /** Tells the coordinator that leads a run to evaluate it now; default nothing. */
  notifyLeader: ((runId: string) => void) | undefined;
}

export type AgentEvents = Pick<Engine, 'onActionUpdate' | 'onAgentConnected' | 'onAgentLost'>;

/**
 * What agents tell the engine: action updates (accepted only from the action's own server), a
 * stream that opens (outstanding actions are sent again) or closes.
 */
export function createAgentEvents(ctx: AgentEventsContext): AgentEvents {
  const { store, bus, clock, emit, queue, leases, dispatch, kick, notifyLeader } = ctx;
  return {
    async onActionUpdate(u) {
      const action = await store.getAction(u.actionId);
      // An agent is trusted with its own server only (docs/adr/0018): action ids are predictable,
      // so the id alone proves nothing about who may report on it.
      if (!action) return `there is no action ${u.actionId}`;
      // A second instance has no agent of its own: its server's agent answers for it.
      if (action.serverId !== u.serverId && besideOwner(action.serverId) !== u.serverId) {
        return `action ${u.actionId} belongs to server ${action.serverId}, not to ${u.serverId}`;
      }
      const terminalReport = u.status === 'succeeded' || u.status === 'failed' || u.status === 'cancelled';
      // Progress that changes nothing (each op's RUNNING after the first, a resent ACCEPTED) is not
      // queued behind the run's evaluations: the result that follows it waits on that queue.
      if (!terminalReport && action.status !== 'pending' && !canTransitionAction(action.status, u.status)) {
        return null;
      }
      const refusal = await queue.serial(action.runId, async (): Promise<string | null> => {
        const current = await store.getAction(u.actionId);
        if (!current) return `there is no action ${u.actionId}`;
        if (current.status === 'pending' && !u.sentToSender) {
          return `action ${u.actionId} has not been sent to ${u.serverId} yet`;
        }
        const results = u.results ?? [];
        const producers = current.ops.filter((op) => RESULT_KIND_OF_OP[op.op] !== undefined).length;
        for (const r of results) {
          if (!current.ops.some((op) => RESULT_KIND_OF_OP[op.op] === r.kind)) {
            return `action ${u.actionId} has no op that produces a "${r.kind}" result`;
          }
        }
        if (results.length > producers) {
          return `action ${u.actionId} has ${producers} op(s) that produce a result, not ${results.length}`;
        }
        const terminal = u.status === 'succeeded' || u.status === 'failed' || u.status === 'cancelled';
        const from: ActionStatus[] = (
          ['pending', 'dispatched', 'accepted', 'running'] as ActionStatus[]
        ).filter((s) => s !== u.status && (terminal || ['pending', 'dispatched', 'accepted'].includes(s)));
        // Lazily committed: the agent's journal repeats a report a coordinator crash lost, and the
        // step's own end (completeStep) is an ordinary commit that flushes this one with it.
        const updated = await store.updateAction(
          u.actionId,
          from,
          {
            status: u.status,
            error: u.reason || null,
            ...(terminal ? { finishedAt: u.atMs || clock.now() } : {}),
            // Every result the ops produced is kept, in op order.
            ...(terminal && results.length > 0 ? { results } : {}),
          },
          undefined,
          { lazyCommit: true },
        );
        if (!updated) return null; // a duplicate or late report: the action already moved on
        const ids = { serverId: current.serverId, stepIndex: current.stepIndex, actionId: current.id };
        if (u.status === 'succeeded') emit(current.runId, 'actionSucceeded', current.id, ids);
        else if (u.status === 'failed' || u.status === 'cancelled')
          emit(current.runId, 'actionFailed', `${current.serverId}: ${u.reason || u.status}`, ids);
        else if (u.status === 'accepted')
          emit(current.runId, 'actionAccepted', current.id, { ...ids, level: 'debug' });
        return null;
      });
      if (refusal) return refusal;
      // Accepted / running change no step's outcome: only a finished action is worth an evaluation
      // now (the tick looks at every running run anyway). At fan-out, 1000 ACCEPTEDs would
      // otherwise each read the step's 1000 actions.
      if (u.status !== 'succeeded' && u.status !== 'failed' && u.status !== 'cancelled') return null;
      // The agent's report is a fact whoever leads (stored unfenced above); the leader decides on it.
      if (leases.leadsNow(action.runId)) await kick(action.runId);
      else notifyLeader?.(action.runId);
      return null;
    },

    async onAgentConnected(serverId) {
      const outstanding = await store.getOutstandingActions(serverId);
      for (const runId of new Set(outstanding.map((a) => a.runId))) {
        emit(
          runId,
          'agentBack',
          `${serverId}: resending its outstanding actions (its journal answers any it already ran)`,
          {
            serverId,
          },
        );
      }
      for (const a of outstanding) {
        await queue
          .serial(a.runId, async () => {
            const run = await store.getRun(a.runId);
            if (!run || isTerminalRun(run.status)) return;
            if (await leases.lead(a.runId)) {
              await dispatch(run, [a]);
            } else if (a.status !== 'pending') {
              // Led elsewhere: resend what its leader already released (the agent's journal answers
              // a repeat); a pending action is the leader's to release (e.g. after a drain).
              await bus.dispatch(a.serverId, toWire(a));
            } else {
              notifyLeader?.(a.runId);
            }
          })
          .catch((err: unknown) => {
            if (err instanceof StaleLeaseError) leases.lost(a.runId, err.message, err.token);
            else throw err;
          });
      }
    },

    async onAgentLost(serverId) {
      const outstanding = await store.getOutstandingActions(serverId);
      for (const runId of new Set(outstanding.map((a) => a.runId))) {
        emit(
          runId,
          'agentLost',
          `${serverId}: waiting for it to reconnect; its journal will settle the action`,
          {
            serverId,
          },
        );
      }
    },
  };
}
