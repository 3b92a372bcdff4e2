import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createServer, type Server } from 'node:http';
import { appRouter, type ApiServices } from '@rollgate/api';
import type { Logger } from '@rollgate/logger';

export interface HttpServerOptions {
  /** Default 127.0.0.1: the API has no authentication yet, so it stays on loopback unless told. */
  host?: string;
  /** Default 7400; 0 picks a free port. */
  port?: number;
  services: ApiServices;
  log: Logger;
}

const ACTOR = /^[\w.@:+-]{1,128}$/;

/** tRPC over HTTP at /trpc for the console and the CLI, plus /healthz. */
export function createHttpServer(opts: HttpServerOptions) {
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    // An edition upload is a base64 archive of up to 64 MiB; anything larger is refused unread.
    maxBodySize: 90 * 1024 * 1024,
    createContext: ({ req }) => {
      const header = req.headers['x-rollgate-actor'];
      const actor = typeof header === 'string' && ACTOR.test(header) ? header : 'anonymous';
      return { actor, services: opts.services };
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
          trpc(req, res);
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
