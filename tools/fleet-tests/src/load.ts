// Load on every frontend of the fleet at once: one open-loop keep-alive generator per frontend
// (@rollgate/lb/testing), bounded in rate and in time (it stops itself at `maxMs` whatever the
// test does), and one verdict over all of them: requests sent, answered 2xx, failed by status and
// by error kind.
import { createLoadGenerator, type LoadReport } from '@rollgate/lb/testing';

export interface FleetLoadOptions {
  /** Requests per second on EACH frontend; default 60. */
  ratePerSec?: number;
  /** The generators stop themselves after this long, ms; default 100000. */
  maxMs?: number;
  /** Path requested; default '/'. */
  path?: string;
  /**
   * A request not answered this long after it was due counts as failed, ms; default 15000. Slow is
   * not lost: on a busy 2-core machine p99 reached 4 s with nothing wrong.
   */
  timeoutMs?: number;
}

export interface FleetLoadReport {
  /** Frontend name (the role) → its generator's report. */
  byFrontend: Record<string, LoadReport>;
  sent: number;
  ok: number;
  /** Every request that did not get a 2xx: answered with another status, or not answered. */
  failed: number;
  /** Failed requests per frontend, by HTTP status and by error kind: `{ web: { '503': 2, ECONNRESET: 1 } }`. */
  failures: Record<string, Record<string, number>>;
}

export interface FleetLoad {
  /** Stops every generator (if still running), waits for the requests in flight, and reports. */
  stop(): Promise<FleetLoadReport>;
}

/** Starts a bounded keep-alive load on every frontend (role → base URL). */
export function loadEveryFrontend(frontends: Record<string, string>, opts: FleetLoadOptions = {}): FleetLoad {
  const rate = opts.ratePerSec ?? 60;
  const path = opts.path ?? '/';
  const generators = Object.entries(frontends).map(
    ([name, url]) =>
      [
        name,
        createLoadGenerator({
          url: `${url}${path}`,
          ratePerSec: rate,
          keepAlive: true,
          timeoutMs: opts.timeoutMs ?? 15_000,
          // Room for every request of a few slow seconds: queueing for a socket would add its own delay.
          maxSockets: Math.max(64, rate * 4),
        }),
      ] as const,
  );
  for (const [, g] of generators) g.start();
  let reports: Promise<[string, LoadReport][]> | undefined;
  const stopAll = () =>
    (reports ??= Promise.all(
      generators.map(async ([name, g]) => [name, await g.stop()] as [string, LoadReport]),
    ));
  const cap = setTimeout(() => void stopAll(), opts.maxMs ?? 100_000);
  return {
    async stop() {
      clearTimeout(cap);
      const byFrontend = Object.fromEntries(await stopAll());
      const failures: Record<string, Record<string, number>> = {};
      let sent = 0;
      let ok = 0;
      for (const [name, r] of Object.entries(byFrontend)) {
        sent += r.sent;
        ok += r.ok2xx;
        const f: Record<string, number> = { ...r.errorsByKind };
        for (const [status, n] of Object.entries(r.byStatus)) if (!status.startsWith('2')) f[status] = n;
        if (Object.keys(f).length > 0) failures[name] = f;
      }
      return { byFrontend, sent, ok, failed: sent - ok, failures };
    },
  };
}

/** One line for the test output: per frontend sent / 2xx / failures, and the answers per edition. */
export function describeLoad(label: string, r: FleetLoadReport): string {
  const per = Object.entries(r.byFrontend)
    .map(
      ([name, x]) =>
        `${name}: sent ${x.sent}, 2xx ${x.ok2xx}, non-2xx ${x.non2xx}, errors ${x.errors}, p99 ${x.latencyMs.p99} ms, by edition ${JSON.stringify(x.byBody)}`,
    )
    .join('; ');
  return `[${label}] ${r.sent} requests, ${r.failed} failed ${JSON.stringify(r.failures)} — ${per}`;
}
