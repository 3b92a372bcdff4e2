// HAProxy agent-check: a TCP port where HAProxy connects every `agent-inter`, reads ONE line and
// acts on it at once (configuration manual, "agent-check"). It carries the coordinator's wish and
// nothing of the agent's own view of the service's health (docs/adr/0017):
//
//   wish open     "ready up"     administrative state READY (cancels a drain), agent health UP
//   wish closed   "drain up"     administrative state DRAIN: no new sessions, running ones finish
//
// Never "down": health comes from HAProxy's own check of the service, so a busy, blocked or
// restarting agent (or one whose probe was late once) cannot take a healthy service out. "up" is
// neutral (measured on HAProxy 2.6: a server whose HTTP check fails stays DOWN whatever the agent
// says, because HAProxy marks a server UP only when both its check and its agent agree), and it is
// needed: an agent "down" said once (by an older agent) stays until an agent says "up". Never
// "maint" either: that would pause HAProxy's health checks and hide a service that comes back
// broken.
//
// HAProxy keeps the last answer while the agent is unreachable (a failed agent connection is not
// an error), so a dead or restarting agent changes nothing; only the agent can undo what it said.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@rollgate/logger';
import type { GateWish } from './state-store';

/**
 * Pure: the line (with its "\n") the agent-check answers: the coordinator's wish alone, never the
 * agent's view of the service's health (see the top of this file).
 */
export function agentCheckLine(wish: GateWish): string {
  return wish === 'open' ? 'ready up\n' : 'drain up\n';
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
          // An accept that fails later (e.g. out of descriptors) is logged, not an uncaught error.
          server.on('error', (err) => opts.log.warn({ err: err.message }, 'agent-check: accept failed'));
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
