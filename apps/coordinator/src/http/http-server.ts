import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { appRouter, type ApiContext, type ApiServices, type Principal } from '@rollgate/api';
import type { Logger } from '@rollgate/logger';
import { clientAddress, DEFAULT_PROXY_TRUST, withRequestOrigin, type ProxyTrust } from './request-origin';
import type { CoordinatorMetrics } from '../watching/metrics';
import type { Readiness } from '../watching/readiness';
import { EDITION_UPLOAD_PATH, handleEditionUpload } from '../editions/artifact-upload-route';

/** Request body caps, bytes (docs/adr/0020). */
export interface BodyLimits {
  /** Anonymous calls, and every `auth.*` and `portal.*` call; default 16 KiB. */
  anonymous: number;
  /** Signed-in calls other than an edition upload; default 1 MiB. */
  signedIn: number;
  /** A signed-in `editions.upload` alone (a base64 archive of up to 64 MiB); default 90 MiB. */
  upload: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = {
  anonymous: 16 * 1024,
  signedIn: 1024 * 1024,
  upload: 90 * 1024 * 1024,
};

export interface HttpServerOptions {
  /** Default 127.0.0.1: listen elsewhere only behind TLS termination (see README). */
  host?: string;
  /** Default 7400; 0 picks a free port. */
  port?: number;
  services: ApiServices;
  log: Logger;
  /** Whose X-Forwarded-For is believed; default loopback peers, one hop (the console). */
  proxyTrust?: ProxyTrust;
  /**
   * Host header names the API answers to (lower case, no port), against DNS rebinding; `*` answers
   * to any. Default: localhost, 127.0.0.1, ::1.
   */
  allowedHosts?: string[];
  /** Body caps; defaults in DEFAULT_BODY_LIMITS. */
  bodyLimits?: Partial<BodyLimits>;
  /** Serves /metrics from its registry and times every API call into it; default: no /metrics. */
  metrics?: Pick<CoordinatorMetrics, 'registry' | 'apiCall'>;
  /** Answers /readyz (503 with the reason when not ready); default: /readyz answers 200 like /healthz. */
  readiness?: { check(): Promise<Readiness> };
}

/** A signed-in caller, as the auth service answers for a bearer token. */
type SignedIn = NonNullable<Awaited<ReturnType<ApiServices['auth']['authenticate']>>>;

/** Procedures whose calls carry a password or a link token: never batched, always the small cap. */
const isSensitive = (procedure: string) => procedure.startsWith('auth.') || procedure.startsWith('portal.');

const kib = (n: number) => (n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n / 1024} KiB`);

/** What is still coming of a refused request's body is read and dropped up to this, then cut off. */
const DISCARD_MAX = 64 * 1024 * 1024;

/**
 * A tRPC-shaped error, so tRPC clients (the CLI, the console) show the message as it is. The rest
 * of the request's body is dropped as it arrives (never kept), so the client, still sending, reads
 * the answer instead of a broken pipe; past DISCARD_MAX the connection is cut.
 */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  // JSON-RPC numbers as @trpc/server uses them.
  const jsonRpc = { BAD_REQUEST: -32600, PAYLOAD_TOO_LARGE: -32413, MISDIRECTED: -32600 }[code] ?? -32600;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: { message, code: jsonRpc, data: { code, httpStatus: status } } }));
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_MAX) req.destroy();
  });
  req.resume();
}

/** The Host header's name, lower case, without port or IPv6 brackets. */
function hostName(host: string | undefined): string | null {
  if (!host) return null;
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : null;
  }
  return h.replace(/:\d+$/, '');
}

/**
 * Reads a body up to `limit` bytes, stopping at the first byte beyond it: null then, and nothing
 * past the limit was kept.
 */
function readCapped(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Procedure names, the only values the API latency's `procedure` label takes besides batch and other. */
const PROCEDURES = new Set(Object.keys(appRouter._def.procedures));

/** tRPC over HTTP at /trpc for the console and the CLI, plus /healthz, /readyz and /metrics. */
export function createHttpServer(opts: HttpServerOptions) {
  const trust = opts.proxyTrust ?? DEFAULT_PROXY_TRUST;
  const limits: BodyLimits = { ...DEFAULT_BODY_LIMITS, ...opts.bodyLimits };
  const allowed = new Set(opts.allowedHosts ?? ['localhost', '127.0.0.1', '::1']);
  // What the request's checks found out, for the tRPC context (no second session lookup).
  const seen = new WeakMap<IncomingMessage, { from: string; token: string | null; user: SignedIn | null }>();

  const bearer = (req: IncomingMessage): string | null => {
    const header = req.headers.authorization;
    return typeof header === 'string' && /^Bearer [A-Za-z0-9_-]{20,200}$/.test(header)
      ? header.slice(7)
      : null;
  };

  const handlerOptions = {
    router: appRouter,
    basePath: '/trpc/',
    createContext: async ({ req }: { req: IncomingMessage }): Promise<ApiContext> => {
      const known = seen.get(req);
      const from = known?.from ?? clientAddress(req.socket.remoteAddress, undefined, trust);
      const token = known ? known.token : bearer(req);
      const user = known ? known.user : token ? await opts.services.auth.authenticate(token) : null;
      const principal: Principal = user ?? { kind: 'anonymous' };
      return {
        actor: user ? user.user.username : 'anonymous',
        principal,
        from,
        token,
        services: opts.services,
      };
    },
    onError: ({ error, path }: { error: { code: string }; path?: string }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') opts.log.error({ err: error, path }, 'api error');
    },
  };
  // Bodies other than uploads were read (capped) before tRPC sees them; an upload streams into
  // tRPC, which stops reading at its cap.
  const trpc = createHTTPHandler(handlerOptions);
  const trpcUpload = createHTTPHandler({ ...handlerOptions, maxBodySize: limits.upload });

  function tooLarge(req: IncomingMessage, res: ServerResponse, procedure: string, limit: number): void {
    refuse(
      req,
      res,
      413,
      'PAYLOAD_TOO_LARGE',
      `The request body is larger than ${kib(limit)}, the most "${procedure}" takes${
        limit === limits.anonymous ? ' (anonymous, sign-in and portal calls)' : ''
      }. Nothing was done.`,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    // Like /healthz, these two answer whatever the Host header (a scraper names the address it
    // scrapes); they carry counts and states, never a secret or an id (docs/adr/0030).
    if (req.url === '/readyz') {
      const r = opts.readiness ? await opts.readiness.check() : ({ ready: true } as const);
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(r.ready ? { ready: true } : { ready: false, reason: r.reason }));
      return;
    }
    if (req.url === '/metrics' && opts.metrics) {
      const registry = opts.metrics.registry;
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text);
      return;
    }
    const host = hostName(req.headers.host);
    if (!allowed.has('*') && (host === null || !allowed.has(host))) {
      refuse(
        req,
        res,
        421,
        'MISDIRECTED',
        `This coordinator does not answer to the host name "${(req.headers.host ?? '').slice(0, 100)}" (a guard against DNS rebinding). If it is one of its names, add it to ROLLGATE_ALLOWED_HOSTS.`,
      );
      return;
    }
    // Streamed edition uploads (docs/adr/0036): the body goes to disk, so no body cap applies here;
    // the artifact store's limit (ROLLGATE_MAX_EDITION_BYTES) does.
    if (req.url === EDITION_UPLOAD_PATH || req.url?.startsWith(`${EDITION_UPLOAD_PATH}?`)) {
      const from = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trust);
      const token = bearer(req);
      const user = token ? await opts.services.auth.authenticate(token) : null;
      const ctx: ApiContext = {
        actor: user ? user.user.username : 'anonymous',
        principal: user ?? { kind: 'anonymous' },
        from,
        token,
        services: opts.services,
      };
      await withRequestOrigin(from, () => handleEditionUpload(req, res, ctx, opts.log));
      return;
    }
    if (!req.url?.startsWith('/trpc/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the API lives under /trpc/');
      return;
    }
    const from = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trust);
    const url = new URL(req.url, 'http://coordinator');
    let procedures: string[];
    try {
      procedures = decodeURIComponent(url.pathname.slice('/trpc/'.length)).split(',');
    } catch {
      procedures = [url.pathname];
    }
    const batched = procedures.length > 1 || url.searchParams.has('batch');
    const sensitive = procedures.find(isSensitive);
    if (batched && sensitive) {
      refuse(
        req,
        res,
        400,
        'BAD_REQUEST',
        `"${sensitive.slice(0, 64)}" cannot be batched: send each sign-in and portal call as a request of its own.`,
      );
      return;
    }
    const token = bearer(req);
    const user = token ? await opts.services.auth.authenticate(token) : null;
    seen.set(req, { from, token, user });
    const upload = user !== null && !batched && procedures[0] === 'editions.upload';
    const limit = upload ? limits.upload : user === null || sensitive ? limits.anonymous : limits.signedIn;
    const procedure = procedures.join(',').slice(0, 100);
    if (opts.metrics) {
      const metrics = opts.metrics;
      const label = batched ? 'batch' : PROCEDURES.has(procedures[0]!) ? procedures[0]! : 'other';
      const t0 = performance.now();
      res.once('finish', () => metrics.apiCall(label, res.statusCode, (performance.now() - t0) / 1000));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit) return tooLarge(req, res, procedure, limit);
      if (!upload) {
        const body = await readCapped(req, limit);
        if (body === null) return tooLarge(req, res, procedure, limit);
        // tRPC's node adapter takes a body that was already read from `req.body`.
        (req as IncomingMessage & { body?: string }).body = body;
      }
    }
    // Everything this call writes to the audit log says from where (request-origin.ts).
    await withRequestOrigin(from, () => (upload ? trpcUpload : trpc)(req, res));
  }

  let server: Server | undefined;
  let boundPort = 0;
  return {
    port: () => boundPort,
    start(): Promise<number> {
      server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          opts.log.error({ err }, 'api request failed');
          if (!res.headersSent)
            refuse(req, res, 500, 'INTERNAL_SERVER_ERROR', 'The coordinator failed; see its log.');
          else res.destroy();
        });
      });
      const host = opts.host ?? '127.0.0.1';
      const port = opts.port ?? 7400;
      return new Promise((resolve, reject) => {
        server!.once('error', (err) =>
          reject(new Error(`cannot listen for the API on ${host}:${port}: ${err.message}`)),
        );
        server!.listen(port, host, () => {
          // `once` above took the listen error; an accept that fails later is logged, not thrown.
          server!.on('error', (err) => opts.log.warn({ err: err.message }, 'API: accept failed'));
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
