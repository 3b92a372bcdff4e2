// The live run page's traffic chart, as pure functions: HAProxy's counters (lb.traffic) are
// cumulative, so the chart draws what changed between two reads, each server's requests counted
// under the edition it ran at the later read.

/** What the chart needs of one lb.traffic answer. */
export interface TrafficSample {
  at: number;
  servers: { haproxyServer: string; edition: string | null; served: number }[];
  failed: number;
}

/** Requests in the interval ending at `at`: served per edition, and failed. */
export interface TrafficPoint {
  at: number;
  /** The interval's length (reads are about a second apart, later when the coordinator is slow). */
  seconds: number;
  served: Record<string, number>;
  failed: number;
}

/** A counter that went down was reset (HAProxy restarted): the new value is all new. */
const delta = (before: number | undefined, now: number) =>
  before === undefined ? 0 : now >= before ? now - before : now;

export function trafficPoints(samples: readonly TrafficSample[]): TrafficPoint[] {
  const points: TrafficPoint[] = [];
  for (let i = 1; i < samples.length; i++) {
    const prev = samples[i - 1]!;
    const next = samples[i]!;
    const before = new Map(prev.servers.map((s) => [s.haproxyServer, s.served]));
    const served: Record<string, number> = {};
    for (const s of next.servers) {
      const key = s.edition ?? 'unknown';
      served[key] = (served[key] ?? 0) + delta(before.get(s.haproxyServer), s.served);
    }
    points.push({
      at: next.at,
      seconds: Math.max(0.001, (next.at - prev.at) / 1000),
      served,
      failed: delta(prev.failed, next.failed),
    });
  }
  return points;
}

export interface TrafficChartLayout {
  width: number;
  height: number;
  /** The highest rate drawn, requests per second (the y scale's top). */
  max: number;
  lines: { edition: string; points: string; total: number }[];
  failed: { points: string; total: number };
}

/**
 * Polylines over the points, oldest left; the y axis is requests per second from 0 to `max`. The
 * totals are requests, not rates.
 */
export function layoutTraffic(
  points: readonly TrafficPoint[],
  width = 560,
  height = 140,
): TrafficChartLayout {
  const editions = [...new Set(points.flatMap((p) => Object.keys(p.served)))].sort();
  const max = Math.ceil(
    Math.max(1, ...points.flatMap((p) => [...Object.values(p.served), p.failed].map((v) => v / p.seconds))),
  );
  const pad = 6;
  const x = (i: number) => (points.length <= 1 ? pad : pad + (i * (width - 2 * pad)) / (points.length - 1));
  const y = (v: number) => height - pad - (v * (height - 2 * pad)) / max;
  const line = (value: (p: TrafficPoint) => number) =>
    points.map((p, i) => `${x(i).toFixed(1)},${y(value(p) / p.seconds).toFixed(1)}`).join(' ');
  const sum = (value: (p: TrafficPoint) => number) => points.reduce((n, p) => n + value(p), 0);
  return {
    width,
    height,
    max,
    lines: editions.map((e) => ({
      edition: e,
      points: line((p) => p.served[e] ?? 0),
      total: sum((p) => p.served[e] ?? 0),
    })),
    failed: { points: line((p) => p.failed), total: sum((p) => p.failed) },
  };
}
