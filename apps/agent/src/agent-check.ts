// HAProxy agent-check: a TCP port where HAProxy connects every `agent-inter`, reads ONE line and
// acts on it at once (configuration manual, "agent-check"). It carries the same decision as
// GET /gate, split into HAProxy's two independent words:
//
//   admin word (the coordinator's wish)   ready = in rotation, drain = no new sessions (running
//                                          ones finish); never "maint": that would pause HAProxy's
//                                          health checks and hide a service that comes back broken.
//   health word (the local services)      up = healthy, down #<why> = marked DOWN at once. Only
//                                          said when it agrees with GET /gate: "up" only when the
//                                          gate is open, because HAProxy's "up" overrides its own
//                                          HTTP check; with the wish closed and the service healthy
//                                          nothing is said, and the /gate check (503) decides.
//
//   wish open,   healthy    "ready up"                  the gate is open: (re-)admitted at once
//   wish closed, healthy    "drain"                     no new sessions from the next check on
//   wish open,   unhealthy  "ready down #<reason>"      DOWN at once; back when healthy
//   wish closed, unhealthy  "drain down #<reason>"
//
// HAProxy keeps the last answer while the agent is unreachable (a failed agent connection is not
// an error), so restarting the agent changes nothing; only the agent can undo what it said.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@rollgate/logger';
import { evaluateGate, type ServiceHealthView } from './gate';
import type { GateWish } from './state-store';

/** The longest reason put after '#': HAProxy shows it in its logs and check description. */
const MAX_REASON = 200;

/**
 * Pure: the line (with its "\n") the agent-check answers, from the same inputs and the same
 * evaluateGate as GET /gate, so the two never disagree: the line says "up" exactly when the gate
 * answers 200.
 */
export function agentCheckLine(wish: GateWish, services: ServiceHealthView[]): string {
  if (evaluateGate(wish, services).open) return 'ready up\n';
  const admin = wish === 'open' ? 'ready' : 'drain';
  // Health alone: the gate as if the coordinator wanted the server in rotation.
  const health = evaluateGate('open', services);
  if (health.open) return `${admin}\n`;
  // One line: no CR/LF (the line would end early), no other control characters.
  const reason = health.reason.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, MAX_REASON);
  return `${admin} down #${reason}\n`;
}

export interface AgentCheckServerOptions {
  /** Address to bind; default '0.0.0.0' (HAProxy connects from its own host). */
  host?: string;
  /** Port to bind (gate.agentCheckPort); 0 picks a free one (tests). */
  port: number;
  /** The current line; called on every connection, so it must be cheap (no I/O). */
  line: () => string;
  log: Logger;
  /** A connection that has not gone away this long after the answer is destroyed; default 5000 ms. */
  idleTimeoutMs?: number;
}

export interface AgentCheckServer {
  /** Resolves with the bound port once listening. */
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
}

/** Answers every connection with one line, then closes it. */
export function createAgentCheckServer(opts: AgentCheckServerOptions): AgentCheckServer {
  const host = opts.host ?? '0.0.0.0';
  const sockets = new Set<Socket>();
  let lastLine: string | undefined;

  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {
      // HAProxy resetting a connection it has read from is not our problem.
    });
    // Read whatever HAProxy sends (agent-send) and ignore it: closing with unread data would send
    // a RST, which can make the peer drop our answer before reading it.
    sock.on('data', () => {});
    sock.setTimeout(opts.idleTimeoutMs ?? 5000, () => sock.destroy());
    const line = opts.line();
    if (line !== lastLine) {
      opts.log.info({ previous: lastLine?.trim(), line: line.trim() }, 'agent-check answer changed');
      lastLine = line;
    }
    sock.end(line);
  });

  return {
    start() {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(opts.port, host, () => {
          server.off('error', onError);
          const port = (server.address() as AddressInfo).port;
          opts.log.info({ host, port }, 'agent-check listening');
          resolve({ port });
        });
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
