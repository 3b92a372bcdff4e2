// The agents' enrolment endpoint (docs/adr/0013): HTTPS with the coordinator's CA-issued server
// certificate. POST /v1/enrol takes a join token (no client certificate yet); POST /v1/renew needs
// the agent's current certificate on the connection (mTLS). Failed attempts are rate limited per
// address. Bodies and answers never reach the log: they hold the token's secret or a certificate.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { enrolRequestSchema, renewRequestSchema } from '@rollgate/domain';
import type { Logger } from '@rollgate/logger';
import type { z } from 'zod';
import type { AgentCa } from './agent-ca';
import { IdentityError, type AgentIdentity } from './agent-identity';
import { createRateLimiter, type RateLimiter } from '../http/rate-limit';

export interface EnrolmentServerOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 7402. */
  port?: number;
  ca: AgentCa;
  identity: AgentIdentity;
  log: Logger;
  /**
   * Failed attempts per address before it is refused for the rest of the window; default 10. A
   * success does not reset the count: a renewing agent must not wipe a brute force's record.
   */
  rateLimit?: number;
  /** The rate limit's window, ms; default 300000 (5 min). */
  rateWindowMs?: number;
  now?: () => number;
}

const MAX_BODY = 16 * 1024;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new IdentityError(400, `the request body is over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new IdentityError(400, 'the request body is not JSON');
  }
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body);
  if (!r.success) {
    throw new IdentityError(
      400,
      `bad request: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}

export function createEnrolmentServer(opts: EnrolmentServerOptions) {
  const { identity, log } = opts;
  const now = opts.now ?? Date.now;
  const limiter: RateLimiter = createRateLimiter({
    limit: opts.rateLimit ?? 10,
    windowMs: opts.rateWindowMs ?? 300_000,
    now,
  });
  let server: Server | undefined;
  let boundPort = 0;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const from = req.socket.remoteAddress ?? 'unknown';
    const key = `enrol:${from}`;
    const wait = limiter.retryAfterMs(key);
    if (wait > 0) {
      const s = Math.ceil(wait / 1000);
      send(
        res,
        429,
        { error: `too many failed enrolment attempts from ${from}: try again in ${s} s` },
        { 'retry-after': String(s) },
      );
      return;
    }
    try {
      if (req.method !== 'POST' || (req.url !== '/v1/enrol' && req.url !== '/v1/renew')) {
        throw new IdentityError(404, 'unknown endpoint: POST /v1/enrol or /v1/renew');
      }
      const body = await readJson(req);
      if (req.url === '/v1/enrol') {
        send(res, 200, await identity.enrol(parse(enrolRequestSchema, body), from));
      } else {
        const socket = req.socket as TLSSocket;
        const cert = socket.getPeerCertificate();
        if (!socket.authorized || !cert?.subject?.CN) {
          throw new IdentityError(
            401,
            "renewal needs the agent's current certificate (mTLS): enrol again with a join token",
          );
        }
        const peer = {
          commonName: String(cert.subject.CN),
          serial: cert.serialNumber,
          validTo: Date.parse(cert.valid_to),
        };
        send(res, 200, await identity.renew(peer, parse(renewRequestSchema, body), from));
      }
    } catch (err) {
      if (err instanceof IdentityError) {
        if (err.status !== 404) limiter.fail(key);
        log.warn({ from, path: req.url, status: err.status, why: err.message }, 'enrolment refused');
        send(res, err.status, { error: err.message });
        return;
      }
      log.error({ err, from, path: req.url }, 'enrolment failed');
      send(res, 500, { error: 'internal error: see the coordinator log' });
    }
  }

  return {
    port: () => boundPort,
    async start(): Promise<number> {
      server = createServer(
        {
          key: opts.ca.server.keyPem,
          cert: opts.ca.server.certPem,
          ca: [opts.ca.caCertPem],
          // Asked for, not required: enrolment comes without one; renewal checks socket.authorized.
          requestCert: true,
          rejectUnauthorized: false,
          minVersion: 'TLSv1.2',
        },
        (req, res) => void handle(req, res),
      );
      server.headersTimeout = 10_000;
      server.requestTimeout = 15_000;
      const address = `${opts.host ?? '127.0.0.1'}:${opts.port ?? 7402}`;
      boundPort = await new Promise<number>((resolve, reject) => {
        server!.once('error', (err) =>
          reject(new Error(`cannot listen for enrolments on ${address}: ${err.message}`)),
        );
        server!.listen(opts.port ?? 7402, opts.host ?? '127.0.0.1', () => {
          // `once` above took the listen error; an accept that fails later is logged, not thrown.
          server!.on('error', (err) => log.warn({ err: err.message }, 'enrolment: accept failed'));
          const a = server!.address();
          resolve(typeof a === 'object' && a ? a.port : 0);
        });
      });
      return boundPort;
    },
    async stop() {
      if (!server) return;
      const s = server;
      server = undefined;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
