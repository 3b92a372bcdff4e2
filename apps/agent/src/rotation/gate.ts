// The gate a load balancer polls for this server: open only when the coordinator wants the server
// in rotation AND every managed service is healthy (the health monitor's view, with its fall/rise
// hysteresis). A server whose service is down takes itself out of rotation even if the coordinator
// is unreachable; a server the coordinator drained stays out even though it is healthy. Only the
// gate health mode makes HAProxy poll it (docs/adr/0017): there a dead agent takes its server out,
// which is why the default configuration checks the service itself instead.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@rollgate/logger';
import type { GateWish } from './state-store';

export type HealthState = 'healthy' | 'unhealthy' | 'stopped' | 'unknown';

export interface ServiceHealthView {
  name: string;
  state: HealthState;
  /** Why it is not healthy, e.g. "connect ECONNREFUSED 127.0.0.1:8081". */
  detail: string;
}

export interface GateDecision {
  open: boolean;
  /** One line: "open", "closed by coordinator", "demo-app unhealthy: ...". */
  reason: string;
}

/** Pure: the effective gate from the coordinator's wish and each service's health. */
export function evaluateGate(wish: GateWish, services: ServiceHealthView[]): GateDecision {
  const reasons: string[] = [];
  if (wish !== 'open') reasons.push('closed by coordinator');
  for (const s of services) {
    if (s.state === 'healthy') continue;
    const why =
      s.state === 'stopped'
        ? 'not running'
        : s.state === 'unknown'
          ? 'health not checked yet'
          : s.detail || 'health check failed';
    reasons.push(`${s.name} unhealthy: ${why}`);
  }
  return reasons.length === 0 ? { open: true, reason: 'open' } : { open: false, reason: reasons.join('; ') };
}

export interface GateServerOptions {
  /** Address to bind; default '0.0.0.0'. */
  host?: string;
  /** Port to bind; 0 picks a free one (tests). */
  port: number;
  /** Current decision; called on every request, so it must be cheap (no I/O). */
  decide: () => GateDecision;
  /** JSON for GET /status. */
  status: () => unknown;
  log: Logger;
}

export interface GateServer {
  /** Resolves with the bound port once listening. */
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
}

/** HTTP gate: GET /gate → 200 "open" | 503 "<reason>"; GET /status → JSON. */
export function createGateServer(opts: GateServerOptions): GateServer {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    if (path === '/gate') {
      const d = opts.decide();
      // no-store: a cached 200 in some proxy must never keep a drained server in rotation.
      res.writeHead(d.open ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(d.open ? 'open\n' : `${d.reason}\n`);
      return;
    }
    if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(`${JSON.stringify(opts.status(), null, 2)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /gate or GET /status\n');
  });
  // Load balancers poll often; short keep-alive keeps their sockets cheap without holding stop().
  server.keepAliveTimeout = 5_000;

  return {
    start() {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
          server.off('error', onError);
          // An accept that fails later (e.g. out of descriptors) is logged, not an uncaught error.
          server.on('error', (err) => opts.log.warn({ err: err.message }, 'gate: accept failed'));
          const port = (server.address() as AddressInfo).port;
          opts.log.info({ host: opts.host ?? '0.0.0.0', port }, 'gate listening');
          resolve({ port });
        });
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
