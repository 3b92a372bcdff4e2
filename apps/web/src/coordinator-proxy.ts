/**
 * Forwards the console's tRPC calls to the coordinator, so the browser talks to one origin only.
 * Status codes and bodies pass through untouched; when the coordinator cannot be reached the answer
 * is a tRPC-shaped error, so the console's tRPC client shows a clear message instead of a parse error.
 * Subscriptions (a GET asking for `text/event-stream`) stream through as the coordinator writes
 * them: no timeout (a live run is watched for as long as it lasts) and nothing that buffers.
 *
 * Credentials: the session cookie (HttpOnly, set by app/api/session) becomes `Authorization: Bearer`
 * upstream; no cookie is ever forwarded, and no token is ever put in a response. The customer portal's
 * procedures (`portal.*`) carry their link's token in the input and nothing else: a session is never
 * attached to them. Sign-in and bootstrap are not reachable here (their answer holds a token the page
 * must not see): the console signs in through app/api/session.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { clearSessionCookie, clientAddress, isPlainLoopback, sameOrigin, sessionToken } from './session';

/** The client the coordinator's audit log records for calls from the console (beside the user). */
export const CONSOLE_ACTOR = 'web:console';

/** Procedures the browser may not call through the proxy: their answers carry bearer tokens. */
const BLOCKED = new Set(['auth.login', 'auth.bootstrap']);

/** The portal's procedures: their only credential is the token in their input. */
export function isPortalProcedure(procedure: string): boolean {
  return procedure.startsWith('portal.');
}

export interface ProxyOptions {
  /** Coordinator base URL, e.g. `http://127.0.0.1:7400`; `/trpc/<procedure>` is appended. */
  coordinatorUrl: string;
  /**
   * How long the coordinator may take to answer, ms. Default 15000. Not applied to subscriptions
   * (SSE), which last as long as the browser watches.
   */
  timeoutMs?: number;
  /** The fetch to use. Default: the global fetch (tests pass their own). */
  fetch?: typeof fetch;
}

// A procedure path is dot-separated identifiers (`upgrade.status`). Anything else (slashes, `..`,
// encoded characters) is refused, so the proxy can never reach another path of the coordinator.
const PROCEDURE_PATH = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

// Only what tRPC needs goes upstream: cookies and the browser's other headers stay here.
// last-event-id: an EventSource that reconnects says where it stopped.
const FORWARDED_REQUEST_HEADERS = ['content-type', 'accept', 'trpc-accept', 'last-event-id'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'vary'];

/** A subscription over Server-Sent Events: what tRPC's httpSubscriptionLink (an EventSource) sends. */
export function isEventStreamRequest(request: Request): boolean {
  return request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/event-stream');
}

type ErrorKey =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_SUPPORTED'
  | 'BAD_GATEWAY'
  | 'GATEWAY_TIMEOUT'
  | 'FORBIDDEN'
  | 'PAYLOAD_TOO_LARGE';

/**
 * Body caps, bytes, as the coordinator's (docs/adr/0020): a request without a session and every
 * portal call 16 KiB; a signed-in call 1 MiB. The base64 `editions.upload` gets no more here: the
 * console streams archives through its upload route (forwardEditionUpload), so it never buffers one.
 */
export const PROXY_BODY_LIMITS = { anonymous: 16 * 1024, signedIn: 1024 * 1024 };

const size = (n: number) => (n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n / 1024} KiB`);

/**
 * The body, read up to `limit` bytes: null as soon as one more byte arrives (the rest is never
 * read, so a huge body costs the console no memory).
 */
export async function readCappedBody(request: Request, limit: number): Promise<ArrayBuffer | null> {
  if (!request.body) return new ArrayBuffer(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body.buffer;
}

/** The error body tRPC's client understands (`{ error: { message, code, data } }`). */
function trpcError(status: number, code: ErrorKey, message: string, path: string): Response {
  // JSON-RPC numbers as @trpc/server uses them.
  const jsonRpc = {
    BAD_REQUEST: -32600,
    UNAUTHORIZED: -32001,
    NOT_FOUND: -32004,
    METHOD_NOT_SUPPORTED: -32005,
    FORBIDDEN: -32003,
    PAYLOAD_TOO_LARGE: -32413,
    BAD_GATEWAY: -32603,
    GATEWAY_TIMEOUT: -32603,
  }[code];
  return Response.json(
    { error: { message, code: jsonRpc, data: { code, httpStatus: status, path } } },
    { status, headers: { 'cache-control': 'no-store' } },
  );
}

function rootCause(err: unknown): { name: string; message: string } {
  let cur: unknown = err;
  for (let i = 0; i < 8; i++) {
    const next = (cur as { cause?: unknown } | null)?.cause;
    if (next === undefined || next === null) break;
    cur = next;
  }
  const e = cur as { name?: unknown; message?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(cur),
  };
}

/** Who is calling, as the coordinator must hear it: the console, the session's bearer, the browser's address. */
function upstreamHeaders(request: Request, token: string | null): Headers {
  const headers = new Headers({ 'x-rollgate-actor': CONSOLE_ACTOR });
  if (token) headers.set('authorization', `Bearer ${token}`);
  const from = clientAddress(request);
  if (from) headers.set('x-forwarded-for', from);
  return headers;
}

export async function forwardToCoordinator(
  request: Request,
  procedure: string,
  opts: ProxyOptions,
): Promise<Response> {
  if (!PROCEDURE_PATH.test(procedure)) {
    return trpcError(404, 'NOT_FOUND', `No procedure "${procedure}".`, procedure);
  }
  if (request.method !== 'GET' && request.method !== 'POST') {
    return trpcError(
      405,
      'METHOD_NOT_SUPPORTED',
      `Method ${request.method} is not supported; use GET or POST.`,
      procedure,
    );
  }
  if (BLOCKED.has(procedure)) {
    return trpcError(
      403,
      'FORBIDDEN',
      `"${procedure}" is not available through the console's API proxy; sign in on the /login page.`,
      procedure,
    );
  }
  if (request.method === 'POST' && !sameOrigin(request)) {
    return trpcError(
      403,
      'FORBIDDEN',
      `A cross-origin request to "${procedure}" was refused: use the console's own pages.`,
      procedure,
    );
  }
  const base = opts.coordinatorUrl.replace(/\/+$/, '');
  const target = `${base}/trpc/${procedure}${new URL(request.url).search}`;
  const portal = isPortalProcedure(procedure);
  const token = portal ? null : sessionToken(request);
  const headers = upstreamHeaders(request, token);
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  let body: ArrayBuffer | undefined;
  if (request.method === 'POST') {
    const limit = token === null ? PROXY_BODY_LIMITS.anonymous : PROXY_BODY_LIMITS.signedIn;
    const declared = Number(request.headers.get('content-length') ?? 0);
    const read = declared > limit ? null : await readCappedBody(request, limit);
    if (read === null) {
      return trpcError(
        413,
        'PAYLOAD_TOO_LARGE',
        `The request body is larger than ${size(limit)}, the most "${procedure}" takes${
          token === null ? ' without a session' : ''
        }. Nothing was sent to the coordinator.`,
        procedure,
      );
    }
    body = read;
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const stream = isEventStreamRequest(request);
  // The browser going away (navigation, closed tab) cancels the upstream call too. A stream has no
  // deadline: the timeout's signal would also cut its body off mid-run.
  const signal = stream ? request.signal : AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]);
  const doFetch = opts.fetch ?? fetch;

  let upstream: Response;
  try {
    upstream = await doFetch(target, {
      method: request.method,
      headers,
      body,
      signal,
      cache: 'no-store',
      redirect: 'manual',
    });
  } catch (err) {
    const cause = rootCause(err);
    if (cause.name === 'TimeoutError') {
      return trpcError(
        504,
        'GATEWAY_TIMEOUT',
        `The coordinator at ${base} did not answer within ${Math.round(timeoutMs / 1000)} s.`,
        procedure,
      );
    }
    return trpcError(
      502,
      'BAD_GATEWAY',
      `Cannot reach the coordinator at ${base}: ${cause.message}. Start it with \`npm start\`, or point COORDINATOR_URL at it.`,
      procedure,
    );
  }

  const responseHeaders = new Headers({ 'cache-control': 'no-store' });
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) responseHeaders.set(name, value);
  }
  if ((upstream.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    // no-transform: Next's response compression leaves the stream alone (a gzip stream would hold
    // events back until a block fills); X-Accel-Buffering: no asks a reverse proxy in front not to buffer.
    responseHeaders.set('cache-control', 'no-cache, no-transform');
    responseHeaders.set('x-accel-buffering', 'no');
  }
  // The coordinator no longer knows this session (expired, signed out elsewhere, or not a session
  // at all): drop the cookie, so the sign-in page starts clean.
  if (token && upstream.status === 401) {
    responseHeaders.append('set-cookie', clearSessionCookie({ secure: !isPlainLoopback(request) }));
  }
  return new Response(upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: responseHeaders,
  });
}

/** The coordinator's streamed edition upload (docs/adr/0036). */
export const EDITION_UPLOAD_PATH = '/upload/edition';
/** The query fields the coordinator's upload reads: nothing else is passed on. */
const UPLOAD_FIELDS = ['app', 'name', 'description', 'dbUpgradeCommand', 'sha256', 'size'] as const;
/** The coordinator answers an upload with a small JSON document (the record, or an error). */
const UPLOAD_ANSWER_MAX = 64 * 1024;

export interface UploadProxyOptions {
  /** Coordinator base URL, e.g. `http://127.0.0.1:7400`; `/upload/edition` is appended. */
  coordinatorUrl: string;
  /**
   * How long the upload may go without a byte moving, ms. Default 60000. The upload as a whole has
   * no deadline: a large archive over a slow link takes as long as it takes.
   */
  idleTimeoutMs?: number;
}

/** The coordinator's answer, read whole (it is small): null when it is larger than it may be. */
function readAnswer(res: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    res.on('data', (c: Buffer) => {
      total += c.length;
      if (total > UPLOAD_ANSWER_MAX) {
        res.destroy();
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/**
 * `editions.uploadCheck` with the upload's fields, as the coordinator's upload route calls it: null
 * when the upload may go ahead, else the coordinator's refusal (or why it could not be asked).
 */
async function checkUpload(
  request: Request,
  query: URLSearchParams,
  opts: UploadProxyOptions,
): Promise<Response | null> {
  const input: Record<string, unknown> = Object.fromEntries(query);
  // A number when it is one, as the coordinator's route reads it; anything else is zod's to refuse.
  if (typeof input.size === 'string' && /^\d{1,16}$/.test(input.size)) input.size = Number(input.size);
  // The same request as a tRPC call from the page: forwardToCoordinator does the rest.
  const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json' });
  for (const name of ['cookie', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const checked = await forwardToCoordinator(
    new Request(new URL('/api/trpc/editions.uploadCheck', request.url), {
      method: 'POST',
      headers,
      body: JSON.stringify(input),
      signal: request.signal,
    }),
    'editions.uploadCheck',
    { coordinatorUrl: opts.coordinatorUrl },
  );
  if (checked.ok) await checked.body?.cancel();
  return checked.ok ? null : checked;
}

/**
 * A browser's edition upload (PUT, the raw .tar.gz) streamed on to the coordinator's
 * `PUT /upload/edition` chunk by chunk, with back-pressure: the console holds a stream buffer at
 * most, whatever the archive's size, and the coordinator enforces its limit
 * (ROLLGATE_MAX_EDITION_BYTES). As for the tRPC calls: the same-origin check, the session cookie as
 * the bearer token, the console as the actor, the browser's address; without a session nothing is
 * sent. The coordinator's answer (status and body) comes back as it is.
 */
export async function forwardEditionUpload(request: Request, opts: UploadProxyOptions): Promise<Response> {
  const path = 'editions.upload';
  if (request.method !== 'PUT') {
    return trpcError(405, 'METHOD_NOT_SUPPORTED', `Send the archive with PUT, not ${request.method}.`, path);
  }
  if (!sameOrigin(request)) {
    return trpcError(
      403,
      'FORBIDDEN',
      'A cross-origin upload was refused: use the console’s own pages.',
      path,
    );
  }
  const token = sessionToken(request);
  if (!token) {
    return trpcError(401, 'UNAUTHORIZED', 'Sign in to upload an edition. Nothing was uploaded.', path);
  }
  const declared = request.headers.get('content-length');
  if (declared === null || !/^\d{1,16}$/.test(declared)) {
    return trpcError(
      411,
      'BAD_REQUEST',
      'Send the archive with its Content-Length (a file, not a stream). Nothing was uploaded.',
      path,
    );
  }
  const base = opts.coordinatorUrl.replace(/\/+$/, '');
  const given = new URL(request.url).searchParams;
  const query = new URLSearchParams();
  for (const field of UPLOAD_FIELDS) {
    const value = given.get(field);
    if (value !== null) query.set(field, value);
  }
  // The coordinator's own check first (session, role, token scope, fields, a name already used),
  // as its upload route makes it: a refusal sent while the body is still streaming can be lost to
  // the connection's reset, this one cannot.
  const check = await checkUpload(request, query, opts);
  if (check) {
    // What the browser is still sending is read and dropped (up to its declared length), so it
    // gets to read the answer.
    void request.body?.pipeTo(new WritableStream()).catch(() => undefined);
    return check;
  }
  const target = new URL(`${base}${EDITION_UPLOAD_PATH}?${query}`);
  const headers = upstreamHeaders(request, token);
  headers.set('content-type', 'application/gzip');
  headers.set('content-length', declared);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  const secure = !isPlainLoopback(request);

  return new Promise<Response>((resolve) => {
    const body = request.body
      ? Readable.fromWeb(request.body as unknown as NodeReadableStream<Uint8Array>)
      : Readable.from([]);
    const upstream = send(target, { method: 'PUT', headers: Object.fromEntries(headers), timeout: idleMs });
    let settled = false;
    const finish = (answer: Response) => {
      if (settled) return;
      settled = true;
      request.signal.removeEventListener('abort', abort);
      resolve(answer);
    };
    // The browser went away: the coordinator sees its upload cut off and records nothing.
    const abort = () => {
      if (settled) return;
      upstream.destroy(new Error('the browser cancelled the upload'));
      body.destroy();
    };
    request.signal.addEventListener('abort', abort, { once: true });
    upstream.on('timeout', () => {
      upstream.destroy();
      body.destroy();
      finish(
        trpcError(
          504,
          'GATEWAY_TIMEOUT',
          `The upload to the coordinator at ${base} stalled for ${Math.round(idleMs / 1000)} s; nothing was recorded. Try again.`,
          path,
        ),
      );
    });
    upstream.on('error', (err) => {
      body.destroy();
      finish(
        trpcError(
          502,
          'BAD_GATEWAY',
          (err as { code?: string }).code === 'EPIPE' || (err as { code?: string }).code === 'ECONNRESET'
            ? `The coordinator at ${base} closed the connection before it took the whole archive (${rootCause(err).message}): it refuses an archive larger than its limit (ROLLGATE_MAX_EDITION_BYTES) at once, or it stopped. Nothing was recorded.`
            : `The upload to the coordinator at ${base} failed: ${rootCause(err).message}. Nothing was recorded; start the coordinator (\`npm start\`) or point COORDINATOR_URL at it, then try again.`,
          path,
        ),
      );
    });
    upstream.on('response', (res) => {
      readAnswer(res).then(
        (answer) => {
          // The answer may come before the whole body (a refusal is made before a byte is read):
          // what the browser still sends is read and dropped, so it gets to read the answer.
          body.unpipe(upstream);
          body.on('data', () => undefined);
          upstream.destroy();
          if (answer === null) {
            finish(
              trpcError(502, 'BAD_GATEWAY', `The coordinator at ${base} gave an oversized answer.`, path),
            );
            return;
          }
          const responseHeaders = new Headers({ 'cache-control': 'no-store' });
          const type = res.headers['content-type'];
          if (type) responseHeaders.set('content-type', type);
          if (res.statusCode === 401) responseHeaders.append('set-cookie', clearSessionCookie({ secure }));
          finish(
            new Response(new Uint8Array(answer), { status: res.statusCode ?? 502, headers: responseHeaders }),
          );
        },
        (err: unknown) =>
          finish(
            trpcError(
              502,
              'BAD_GATEWAY',
              `The coordinator's answer was cut off: ${rootCause(err).message}.`,
              path,
            ),
          ),
      );
    });
    body.on('error', (err) => upstream.destroy(err));
    body.pipe(upstream);
  });
}
