// The demo's steady trickle of requests through HAProxy, so the console has traffic to show while
// an edition rolls out. Only counters are kept (the demo runs for days), and at most `maxInFlight`
// requests are open at once: a request due while that many are still open is counted as failed
// rather than queued, so a stalled backend cannot grow memory.
import { Agent, request } from 'node:http';

export interface SteadyLoadOptions {
  /** http:// URL to GET, e.g. the HAProxy frontend. */
  url: string;
  /** Requests per second; default 5. */
  ratePerSec?: number;
  /** Deadline per request; default 5000 ms. */
  timeoutMs?: number;
  /** Most requests open at once; default 32. */
  maxInFlight?: number;
}

export interface SteadyLoadCounts {
  sent: number;
  /** Answers below 500. */
  ok: number;
  /** 5xx answers, socket errors, timeouts and requests not sent because too many were open. */
  failed: number;
}

export interface SteadyLoad {
  start(): void;
  /** Stops sending and waits for the open requests (at most timeoutMs). */
  stop(): Promise<SteadyLoadCounts>;
  counts(): SteadyLoadCounts;
}

export function createSteadyLoad(opts: SteadyLoadOptions): SteadyLoad {
  const url = new URL(opts.url);
  if (url.protocol !== 'http:') throw new Error(`steady load: only http:// URLs, got ${opts.url}`);
  const rate = opts.ratePerSec ?? 5;
  if (!(rate > 0 && rate <= 1000))
    throw new Error(`steady load: ratePerSec must be in (0, 1000], got ${rate}`);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxInFlight = opts.maxInFlight ?? 32;
  // Keep-alive, closing idle sockets before HAProxy's 10 s keep-alive timeout does (as browsers
  // do), so a request never races HAProxy closing its connection.
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight, timeout: 4000, scheduling: 'fifo' });
  const counts: SteadyLoadCounts = { sent: 0, ok: 0, failed: 0 };
  const open = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;

  function fire(): void {
    counts.sent++;
    if (open.size >= maxInFlight) {
      counts.failed++;
      return;
    }
    const done = new Promise<void>((resolve) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (ok) counts.ok++;
        else counts.failed++;
        resolve();
      };
      const req = request(url, { agent, timeout: timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => settle((res.statusCode ?? 500) < 500));
        res.on('error', () => settle(false));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => settle(false));
      req.end();
    });
    open.add(done);
    void done.then(() => open.delete(done));
  }

  return {
    start() {
      if (timer) return;
      timer = setInterval(fire, 1000 / rate);
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await Promise.race([Promise.all(open), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      agent.destroy();
      return { ...counts };
    },
    counts: () => ({ ...counts }),
  };
}
