import type { ActionRecord, AgentBus, Clock, DispatchAction, EngineStore, Fence, RunRecord } from './ports';
import type { Emit } from './run-log';

export interface DispatchContext {
  store: Pick<EngineStore, 'markDispatched' | 'updateAction'>;
  bus: Pick<AgentBus, 'dispatch'>;
  clock: Clock;
  emit: Emit;
  fenceOf: (runId: string) => Fence | undefined;
}

/** An action as it travels to its agent. */
export const toWire = (a: ActionRecord): DispatchAction => ({
  actionId: a.id,
  runId: a.runId,
  stepIndex: a.stepIndex,
  attempt: a.attempt,
  ops: a.ops,
});

/**
 * Sends actions to their agents, then records the pending ones that went out as dispatched in
 * one statement for the whole batch (a step's fan-out is one write, not one per server).
 */
export type Dispatch = (run: RunRecord, list: ActionRecord[]) => Promise<void>;

export function createDispatch({ store, bus, clock, emit, fenceOf }: DispatchContext): Dispatch {
  return async (run, list) => {
    const sent: ActionRecord[] = [];
    for (const a of list)
      if ((await bus.dispatch(a.serverId, toWire(a))) && a.status === 'pending') sent.push(a);
    if (sent.length === 0) return;
    const at = clock.now();
    const fence = fenceOf(run.id);
    const moved = new Set<string>();
    if (store.markDispatched) {
      for (const id of await store.markDispatched(
        sent.map((a) => a.id),
        at,
        fence,
      ))
        moved.add(id);
    } else {
      for (const a of sent)
        if (await store.updateAction(a.id, ['pending'], { status: 'dispatched', dispatchedAt: at }, fence))
          moved.add(a.id);
    }
    for (const a of sent) {
      if (!moved.has(a.id)) continue;
      emit(run.id, 'actionDispatched', a.id, {
        serverId: a.serverId,
        stepIndex: a.stepIndex,
        actionId: a.id,
      });
    }
  };
}
