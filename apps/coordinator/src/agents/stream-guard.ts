// Who may hold an agent stream (docs/adr/0013): the gateway's Hello check, and a periodic re-check
// that closes streams whose certificate was revoked or expired since their Hello. A revocation on
// this coordinator closes the stream at once; one made on a peer coordinator is noticed here within
// `recheckMs` (the certificates live in the shared database).
import type { IdentityStore } from '@rollgate/engine';
import type { Logger } from '@rollgate/logger';
import type { AgentIdentity, PeerCert } from '../identity/agent-identity';

export interface StreamGuardOptions {
  store: IdentityStore;
  /** Absent when the coordinator runs with ROLLGATE_INSECURE_AGENTS: every Hello is accepted, flagged insecure. */
  identity?: AgentIdentity;
  log: Logger;
  /** How often open streams are re-checked, ms; default 10000. */
  recheckMs?: number;
  now?: () => number;
}

export function createStreamGuard(opts: StreamGuardOptions) {
  const now = opts.now ?? Date.now;
  const held = new Map<string, { serial: string; end: (why: string) => void }>();
  let timer: NodeJS.Timeout | undefined;

  async function recheck() {
    for (const [serverId, h] of [...held]) {
      if (await opts.identity!.stillValid(h.serial)) continue;
      held.delete(serverId);
      opts.log.warn({ serverId }, 'agent stream closed: its certificate was revoked or expired');
      h.end('the certificate was revoked or has expired: the agent must enrol again');
    }
  }

  return {
    /** The gateway's checkIdentity. */
    async check(
      peer: PeerCert | null,
      hello: { agentId: string; cluster: string; role: string },
      end: (why: string) => void,
    ): Promise<string | null> {
      if (!opts.identity) {
        await opts.store.setTransport(hello.agentId, 'insecure', now());
        return null;
      }
      const refusal = await opts.identity.checkPeer(peer, hello);
      if (refusal === null && peer) held.set(hello.agentId, { serial: peer.serial, end });
      return refusal;
    },
    /**
     * The gateway's checkArtifact (docs/adr/0018): the caller is its certificate's server (checked
     * on every call, revocation included), and one of that server's outstanding actions installs
     * the archive. Without identity (insecure), the request's agent id is taken at its word.
     */
    async checkArtifact(
      peer: PeerCert | null,
      agentId: string,
      sha256: string,
      outstanding: (serverId: string) => Promise<{ ops: readonly { op: string; sha256?: string }[] }[]>,
    ): Promise<string | null> {
      let serverId = agentId;
      if (opts.identity) {
        const who = await opts.identity.serverOf(peer);
        if ('refusal' in who) return who.refusal;
        serverId = who.serverId;
      }
      const actions = await outstanding(serverId);
      if (actions.some((a) => a.ops.some((op) => op.op === 'install' && op.sha256 === sha256))) return null;
      return `no action of server "${serverId}" installs ${sha256.slice(0, 12)}…: the coordinator serves an archive only to a server a run is installing it on`;
    },
    /** Closes the server's stream now (after a revocation here). */
    kick(serverId: string) {
      const h = held.get(serverId);
      if (!h) return;
      held.delete(serverId);
      opts.log.warn({ serverId }, 'agent stream closed: revoked');
      h.end('this agent was revoked: an operator must give it a new join token');
    },
    start() {
      if (!opts.identity || timer) return;
      const loop = () => {
        timer = setTimeout(() => {
          recheck()
            .catch((err: unknown) => opts.log.error({ err }, 'agent certificate re-check failed'))
            .finally(() => {
              if (timer) loop();
            });
        }, opts.recheckMs ?? 10_000);
        timer.unref();
      };
      loop();
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
