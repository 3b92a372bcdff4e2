import { z } from 'zod';
import { SAFE_NAME, TERMINAL_ACTION } from '@rollgate/domain';
import type { AgentBus, EngineStore } from '@rollgate/engine';
import type { Logger } from '@rollgate/logger';

/** Commands for agents whose streams another coordinator holds. */
export const AGENT_CHANNEL = 'rollgate_agent';
/** "Re-evaluate this run": sent to whichever coordinator leads it. */
export const RUN_CHANNEL = 'rollgate_run';

/**
 * What travels on AGENT_CHANNEL: ids and a short reason only (NOTIFY payloads are small); the
 * receiver reads the action itself from the database.
 */
const agentMessage = z.discriminatedUnion('k', [
  z.object({ k: z.literal('dispatch'), s: z.string().regex(SAFE_NAME), a: z.string().min(1).max(400) }),
  z.object({
    k: z.literal('cancel'),
    s: z.string().regex(SAFE_NAME),
    a: z.string().min(1).max(400),
    r: z.string().max(500),
  }),
  z.object({ k: z.literal('gate'), s: z.string().regex(SAFE_NAME), o: z.boolean(), r: z.string().max(500) }),
]);
type AgentMessage = z.infer<typeof agentMessage>;

export interface PeerBusOptions {
  /** This coordinator's gateway bus: the agents whose streams are held here. */
  local: AgentBus;
  store: EngineStore;
  /** This coordinator's id (ROLLGATE_COORDINATOR_ID), as recorded on the servers it holds. */
  coordinatorId: string;
  /** Sends a notification to every coordinator (pg NOTIFY); rejects when the database does. */
  publish: (channel: string, payload: string) => Promise<void>;
  log: Logger;
}

/**
 * The engine's AgentBus when several coordinators share one database. A command for an agent
 * connected here goes straight down its stream; one for an agent that the servers table records
 * as connected to another coordinator is published (NOTIFY), and every coordinator forwards it to
 * the agent if it holds that agent's stream. An agent that is connected nowhere gets it when it
 * reconnects (the engine resends outstanding actions).
 */
export function createPeerBus(opts: PeerBusOptions) {
  const { local, store, log } = opts;

  /** True when the agent's stream is held by a live peer, i.e. publishing can reach it. */
  async function heldByPeer(serverId: string): Promise<boolean> {
    const s = await store.getServer(serverId);
    return s?.status === 'connected' && !!s.coordinatorId && s.coordinatorId !== opts.coordinatorId;
  }

  /** False when the command cannot go out now; the agent gets it on reconnect (the engine resends). */
  async function publish(m: AgentMessage): Promise<boolean> {
    try {
      // Inside the try: the lookup fails while the database is away, and cancel() awaits nothing.
      if (!(await heldByPeer(m.s))) return false;
      await opts.publish(AGENT_CHANNEL, JSON.stringify(m));
      return true;
    } catch (err) {
      log.warn({ err, serverId: m.s }, 'could not publish a command to the peer coordinators');
      return false;
    }
  }

  const bus: AgentBus = {
    dispatch(serverId, action) {
      if (local.isConnected(serverId)) return local.dispatch(serverId, action);
      return publish({ k: 'dispatch', s: serverId, a: action.actionId });
    },
    cancel(serverId, actionId, reason) {
      if (local.isConnected(serverId)) return local.cancel(serverId, actionId, reason);
      void publish({ k: 'cancel', s: serverId, a: actionId, r: reason.slice(0, 500) });
    },
    setGate(serverId, open, reason) {
      if (local.isConnected(serverId)) return local.setGate(serverId, open, reason);
      return publish({ k: 'gate', s: serverId, o: open, r: reason.slice(0, 500) });
    },
    isConnected: (serverId) => local.isConnected(serverId),
  };

  /** A peer's command: forwarded when this coordinator holds the agent's stream, else ignored. */
  async function onAgentNotification(payload: string): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      raw = null;
    }
    const parsed = agentMessage.safeParse(raw);
    if (!parsed.success) {
      log.warn({ channel: AGENT_CHANNEL }, 'ignored a malformed peer command (another Rollgate version?)');
      return;
    }
    const m = parsed.data;
    if (!local.isConnected(m.s)) return;
    if (m.k === 'cancel') local.cancel(m.s, m.a, m.r);
    else if (m.k === 'gate') await local.setGate(m.s, m.o, m.r);
    else {
      const a = await store.getAction(m.a);
      if (!a || a.serverId !== m.s || TERMINAL_ACTION.includes(a.status)) return;
      await local.dispatch(m.s, {
        actionId: a.id,
        runId: a.runId,
        stepIndex: a.stepIndex,
        attempt: a.attempt,
        ops: a.ops,
      });
    }
  }

  return { bus, onAgentNotification };
}
