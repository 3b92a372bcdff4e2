// A small open-loop HTTP load generator for the no-request-lost tests and the bench. Requests are
// scheduled on a fixed-rate clock, not sent one after another: if the target stalls, the requests
// due meanwhile are still sent (and show up as errors or latency), they are not silently skipped.
import { Agent, request, type IncomingMessage } from 'node:http';

export interface LoadGeneratorOptions {
  /** http:// URL to GET, e.g. the HAProxy frontend. */
  url: string;
  /** Requests per second, on a fixed-rate schedule. */
  ratePerSec: number;
  /** Reuse connections (HTTP keep-alive); default true. false sends `connection: close` on each request. */
  keepAlive?: boolean;
  /**
   * Deadline per request from the moment it is due (waiting for a free socket included); a
   * request past it is aborted and counted as an error. Default 5000 ms.
   */
  timeoutMs?: number;
  /** Most sockets open at once; default max(64, ratePerSec / 4): room for 250 ms of stall at full rate. */
  maxSockets?: number;
  /** Called for every finished request, e.g. to time when a server stops getting new ones. */
  onResult?: (r: LoadResult) => void;
}

export interface LoadResult {
  /** When the request was due (ms since epoch). */
  startedAt: number;
  /** When it finished (ms since epoch). */
  finishedAt: number;
  /** HTTP status; null when the request failed without an answer. */
  status: number | null;
  /** The body's `edition` field, or the first 40 characters of the body; null on error. */
  key: string | null;
  /** The body's `server` field when it has one (which backend answered), else null. */
  server?: string | null;
  /** The error message when status is null. */
  error?: string;
}

export interface LoadReport {
  /** Requests sent (every one that was due between start and stop). */
  sent: number;
  ok2xx: number;
  non2xx: number;
  /** Requests with no HTTP answer: socket errors, resets, timeouts. */
  errors: number;
  /** Up to 5 distinct error messages. */
  errorSamples: string[];
  /** Errors by kind: the errno code (ECONNRESET, ECONNREFUSED...) or "timeout". */
  errorsByKind: Record<string, number>;
  /** Answers per HTTP status. */
  byStatus: Record<string, number>;
  /** Answers per `edition` field of the JSON body (or the first 40 characters of the body). */
  byBody: Record<string, number>;
  /** From start() to stop(), ms. */
  durationMs: number;
  /** Answered requests (2xx and others) per second, from start() to the last answer (>= durationMs). */
  achievedRps: number;
  targetRps: number;
  /** Latency of answered requests, ms. */
  latencyMs: { p50: number; p99: number; max: number };
  /** How far the generator itself fell behind its schedule at worst, ms (its own event loop lag). */
  maxScheduleLagMs: number;
}

export interface LoadGenerator {
  start(): void;
  /** Stops sending, waits for the requests still running (at most timeoutMs), and reports. */
  stop(): Promise<LoadReport>;
}

function serverOf(body: string): string | null {
  try {
    const j = JSON.parse(body) as unknown;
    if (j && typeof j === 'object' && 'server' in j) return String((j as { server: unknown }).server);
  } catch {
    // not JSON: no server to name
  }
  return null;
}

function keyOf(body: string): string {
  try {
    const j = JSON.parse(body) as unknown;
    if (j && typeof j === 'object' && 'edition' in j) return String((j as { edition: unknown }).edition);
  } catch {
    // not JSON: the raw body below
  }
  return body.slice(0, 40);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] ?? 0) * 10) / 10;
}

export function createLoadGenerator(opts: LoadGeneratorOptions): LoadGenerator {
  const url = new URL(opts.url);
  if (url.protocol !== 'http:')
    throw new Error(`load generator: only http:// URLs are supported, got ${opts.url}`);
  if (!(opts.ratePerSec > 0))
    throw new Error(`load generator: ratePerSec must be > 0, got ${opts.ratePerSec}`);
  const keepAlive = opts.keepAlive ?? true;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const rate = opts.ratePerSec;
  const maxSockets = opts.maxSockets ?? Math.max(64, Math.ceil(rate / 4));
  // fifo: every pooled connection is reused in turn, and `timeout` closes one idle for 4 s, so the
  // client closes idle connections before HAProxy's keep-alive timeout (10 s) does, as browsers
  // do. Otherwise a request can race HAProxy closing an idle connection and die with ECONNRESET,
  // a keep-alive artefact that says nothing about the rollout under test.
  const agent = new Agent({
    keepAlive,
    maxSockets,
    maxFreeSockets: keepAlive ? maxSockets : 0,
    scheduling: 'fifo',
    timeout: 4000,
  });
  const path = `${url.pathname}${url.search}`;
  const headers = keepAlive ? {} : { connection: 'close' };
  // Tick often enough that a tick's batch stays small (no burst of more than ~10 ms of requests).
  const tickMs = Math.min(10, Math.max(1, Math.floor(1000 / rate)));

  let startedAt = 0;
  let stoppedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;
  let ok2xx = 0;
  let non2xx = 0;
  let errors = 0;
  let maxLag = 0;
  let lastFinishedAt = 0;
  const errorSamples: string[] = [];
  const errorsByKind: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  const byBody: Record<string, number> = {};
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();

  function fire(dueAt: number): void {
    sent++;
    const p = new Promise<void>((resolve) => {
      let done = false;
      const finish = (status: number | null, body: string, err?: Error & { code?: string }) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        const finishedAt = Date.now();
        lastFinishedAt = Math.max(lastFinishedAt, finishedAt);
        let key: string | null = null;
        if (status === null) {
          errors++;
          const kind = err?.code ?? (err?.message.startsWith('timeout') ? 'timeout' : 'error');
          errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
          const msg = `${kind}: ${err?.message ?? 'unknown error'}`;
          if (errorSamples.length < 5 && !errorSamples.includes(msg)) errorSamples.push(msg);
        } else {
          if (status >= 200 && status < 300) ok2xx++;
          else non2xx++;
          byStatus[status] = (byStatus[status] ?? 0) + 1;
          key = keyOf(body);
          byBody[key] = (byBody[key] ?? 0) + 1;
          latencies.push(finishedAt - dueAt);
        }
        opts.onResult?.({
          startedAt: dueAt,
          finishedAt,
          status,
          key,
          server: status === null ? null : serverOf(body),
          ...(err ? { error: err.message } : {}),
        });
        resolve();
      };
      const req = request(
        { host: url.hostname, port: url.port || 80, path, method: 'GET', agent, headers },
        (res: IncomingMessage) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (body.length < 4096) body += c;
          });
          res.on('end', () => finish(res.statusCode ?? 0, body));
          res.on('error', (e) => finish(null, '', e));
          res.on('aborted', () => finish(null, '', new Error('response aborted')));
        },
      );
      // The deadline runs from when the request was due, so time spent waiting for a socket counts.
      const deadline = setTimeout(
        () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)),
        Math.max(1, dueAt + timeoutMs - Date.now()),
      );
      req.on('error', (e) => finish(null, '', e));
      req.end();
    });
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
  }

  function tick(): void {
    const now = Date.now();
    const due = Math.floor(((now - startedAt) * rate) / 1000);
    // The oldest request due but not sent yet tells how late this tick is.
    if (due > sent) maxLag = Math.max(maxLag, now - (startedAt + (sent * 1000) / rate));
    while (sent < due) fire(startedAt + (sent * 1000) / rate);
  }

  return {
    start() {
      if (timer) return;
      startedAt = Date.now();
      timer = setInterval(tick, tickMs);
    },
    async stop() {
      if (timer) {
        tick();
        clearInterval(timer);
        timer = undefined;
      }
      stoppedAt = Date.now();
      await Promise.all([...inFlight]);
      agent.destroy();
      const durationMs = Math.max(1, stoppedAt - startedAt);
      // Answers per second until the last one came back: a target that falls behind stretches the
      // tail after stop(), which lowers this figure even though every request was eventually answered.
      const answeringMs = Math.max(durationMs, lastFinishedAt - startedAt);
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        sent,
        ok2xx,
        non2xx,
        errors,
        errorSamples,
        errorsByKind,
        byStatus,
        byBody,
        durationMs,
        achievedRps: Math.round(((ok2xx + non2xx) * 1000) / answeringMs),
        targetRps: rate,
        latencyMs: {
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          max: Math.round((sorted[sorted.length - 1] ?? 0) * 10) / 10,
        },
        maxScheduleLagMs: Math.round(maxLag),
      };
    },
  };
}
