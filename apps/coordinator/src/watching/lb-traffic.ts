// What a cluster's HAProxy balancers have served, per edition, and how many requests failed: read
// from HAProxy's own counters (`show stat`), so the console can show a rollout losing nothing
// without the coordinator being in the request path (docs/adr/0037).
import { lbConfigOf, resolveLbTargets, targetsOf, type LbBalancer, type LbConfig } from '@rollgate/domain';
import type { LbTrafficView } from '@rollgate/api';
import type { ServerRecord } from '@rollgate/engine';
import { createHaproxyRuntime } from '@rollgate/lb';

/** One row of `show stat` with the counters the traffic view needs. */
export interface StatCounters {
  backend: string;
  /** A server's name, or "BACKEND" for the backend's own totals. */
  name: string;
  /** Answers with a status below 500 (hrsp_1xx..4xx). */
  answered: number;
  /** 5xx answers (hrsp_5xx): on BACKEND rows this includes the 502/503/504 HAProxy itself sent. */
  http5xx: number;
}

/**
 * Parses `show stat` for the per-status answer counters. Served counts answers, not sessions
 * (stot), because stot also counts connection retries to a server that refused them.
 */
export function parseStatCounters(text: string): StatCounters[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0];
  if (!header?.startsWith('# ')) {
    throw new Error(`not a "show stat" answer: ${JSON.stringify((header ?? '').slice(0, 80))}`);
  }
  const col = new Map(
    header
      .slice(2)
      .split(',')
      .map((name, i) => [name, i]),
  );
  const num = (f: string[], name: string) => {
    const i = col.get(name);
    const n = i === undefined ? NaN : Number(f[i]);
    return Number.isFinite(n) ? n : 0;
  };
  return lines.slice(1).flatMap((line) => {
    const f = line.split(',');
    const name = f[col.get('svname') ?? 1] ?? '';
    if (name === 'FRONTEND') return [];
    return [
      {
        backend: f[col.get('pxname') ?? 0] ?? '',
        name,
        answered: num(f, 'hrsp_1xx') + num(f, 'hrsp_2xx') + num(f, 'hrsp_3xx') + num(f, 'hrsp_4xx'),
        http5xx: num(f, 'hrsp_5xx'),
      },
    ];
  });
}

export interface LbTrafficOptions {
  /** Per runtime API exchange; default 2000 ms. */
  timeoutMs?: number;
}

/** Reads every balancer of `stored` and sums the counters per server and per edition. */
export async function readLbTraffic(
  cluster: string,
  stored: unknown,
  servers: readonly ServerRecord[],
  now: number,
  opts: LbTrafficOptions = {},
): Promise<LbTrafficView> {
  const empty = { cluster, at: now, editions: [], servers: [], failed: 0 };
  if (stored === null || stored === undefined) {
    return { ...empty, error: `cluster ${cluster} has no load balancer configured (lb configure)` };
  }
  const config: LbConfig = lbConfigOf(stored);
  if (config.mode !== 'haproxy-runtime') {
    return { ...empty, error: `cluster ${cluster}'s load balancer has no HAProxy runtime API to read` };
  }
  const resolution = resolveLbTargets(
    config,
    servers.map((s) => ({ id: s.id, role: s.role, services: s.services.map((x) => x.name) })),
  );
  const backends = new Set(config.pools.map((p) => p.backend));
  const errors: string[] = [];
  const rows: StatCounters[] = [];
  await Promise.all(
    config.balancers.map(async (b: LbBalancer) => {
      try {
        const rt = createHaproxyRuntime({ ...b.runtime, timeoutMs: opts.timeoutMs ?? 2000 });
        rows.push(...parseStatCounters(await rt.raw('show stat')).filter((r) => backends.has(r.backend)));
      } catch (err) {
        errors.push(`${b.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  const sum = (backend: string, name: string, pick: (r: StatCounters) => number) =>
    rows.filter((r) => r.backend === backend && r.name === name).reduce((n, r) => n + pick(r), 0);
  const perServer = servers.flatMap((s) =>
    targetsOf(config, resolution, s.id).map((t) => {
      const service =
        s.services.find((x) => x.name === config.pools.find((p) => p.name === t.pool)?.service) ??
        s.services[0];
      return {
        serverId: s.id,
        haproxyServer: `${t.backend}/${t.server}`,
        edition: service?.activeEdition ?? null,
        served: sum(t.backend, t.server, (r) => r.answered),
        http5xx: sum(t.backend, t.server, (r) => r.http5xx),
      };
    }),
  );
  const byEdition = new Map<string, number>();
  for (const s of perServer) {
    const key = s.edition ?? 'unknown';
    byEdition.set(key, (byEdition.get(key) ?? 0) + s.served);
  }
  return {
    cluster,
    at: now,
    editions: [...byEdition].map(([edition, served]) => ({ edition, served })),
    servers: perServer,
    failed: [...backends].reduce((n, be) => n + sum(be, 'BACKEND', (r) => r.http5xx), 0),
    error: errors.length > 0 ? errors.join('; ') : null,
  };
}
