import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { appRouter, type ApiContext, type ApiServices, type Principal } from '@rollgate/api';
import type { Logger } from '@rollgate/logger';
import { withRequestOrigin } from './request-origin';

export interface HttpServerOptions {
  /** Default 127.0.0.1: listen elsewhere only behind TLS termination (see README). */
  host?: string;
  /** Default 7400; 0 picks a free port. */
  port?: number;
  services: ApiServices;
  log: Logger;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** An IPv4 or IPv6 address as a proxy would put it in X-Forwarded-For. */
const FORWARDED = /^[0-9A-Fa-f:.]{2,45}$/;

/** The caller's address: the socket's, or, from a proxy on this machine (the console), the one it forwards. */
function clientAddress(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const forwarded = req.headers['x-forwarded-for'];
  const first = typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : '';
  return LOOPBACK.has(peer) && FORWARDED.test(first) ? first : peer;
}

/** tRPC over HTTP at /trpc for the console and the CLI, plus /healthz. */
export function createHttpServer(opts: HttpServerOptions) {
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    // An edition upload is a base64 archive of up to 64 MiB; anything larger is refused unread.
    maxBodySize: 90 * 1024 * 1024,
    createContext: async ({ req }): Promise<ApiContext> => {
      const from = clientAddress(req);
      const header = req.headers.authorization;
      const token =
        typeof header === 'string' && /^Bearer [A-Za-z0-9_-]{20,200}$/.test(header) ? header.slice(7) : null;
      const user = token ? await opts.services.auth.authenticate(token) : null;
      const principal: Principal = user ?? { kind: 'anonymous' };
      return {
        actor: user ? user.user.username : 'anonymous',
        principal,
        from,
        token,
        services: opts.services,
      };
    },
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') opts.log.error({ err: error, path }, 'api error');
    },
  });
  let server: Server | undefined;
  let boundPort = 0;
  return {
    port: () => boundPort,
    start(): Promise<number> {
      server = createServer((req, res) => {
        if (req.url === '/healthz') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
          return;
        }
        if (req.url?.startsWith('/trpc/')) {
          // Everything this call writes to the audit log says from where (request-origin.ts).
          withRequestOrigin(clientAddress(req), () => trpc(req, res));
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the API lives under /trpc/');
      });
      const host = opts.host ?? '127.0.0.1';
      const port = opts.port ?? 7400;
      return new Promise((resolve, reject) => {
        server!.once('error', (err) =>
          reject(new Error(`cannot listen for the API on ${host}:${port}: ${err.message}`)),
        );
        server!.listen(port, host, () => {
          const addr = server!.address();
          boundPort = typeof addr === 'object' && addr ? addr.port : port;
          resolve(boundPort);
        });
      });
    },
    stop(): Promise<void> {
      return new Promise((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
