'use client';

import { useEffect, useState } from 'react';
import type { ConsoleClient } from '../api-types';
import { consoleClient } from '../trpc-client';
import { usePolled } from './hooks';
import { layoutTraffic, trafficPoints, type TrafficPoint, type TrafficSample } from './traffic-model';

type LbTraffic = Awaited<ReturnType<ConsoleClient['lb']['traffic']['query']>>;

/** Reads kept: 3 minutes at one a second. */
const KEEP = 180;
const COLOURS = ['#2563eb', '#16a34a', '#9333ea', '#0891b2', '#ca8a04'];
const FAILED = '#dc2626';

/** The chart itself, from points: requests served per edition and failed requests per second. */
export function TrafficChart({ points }: { points: readonly TrafficPoint[] }) {
  const t = layoutTraffic(points);
  return (
    <div className="chart-wrap" data-testid="traffic-chart">
      <svg
        width={t.width}
        height={t.height}
        viewBox={`0 0 ${t.width} ${t.height}`}
        role="img"
        aria-label="requests served per edition and failed requests, per second"
      >
        <line x1={0} x2={t.width} y1={t.height - 6} y2={t.height - 6} stroke="#94a3b8" />
        <text x={4} y={12} fontSize={10} fill="#64748b">
          {t.max}/s
        </text>
        {t.lines.map((l, i) => (
          <polyline
            key={l.edition}
            points={l.points}
            fill="none"
            stroke={COLOURS[i % COLOURS.length]}
            strokeWidth={2}
            data-edition={l.edition}
          />
        ))}
        <polyline
          points={t.failed.points}
          fill="none"
          stroke={FAILED}
          strokeWidth={2}
          strokeDasharray="4 3"
        />
      </svg>
      <div className="legend chart-legend">
        {t.lines.map((l, i) => (
          <span key={l.edition} data-edition={l.edition}>
            <span style={{ color: COLOURS[i % COLOURS.length] }}>■</span> edition {l.edition}:{' '}
            <strong>{l.total}</strong> served
          </span>
        ))}
        <span data-failed={t.failed.total}>
          <span style={{ color: FAILED }}>■</span> failed: <strong>{t.failed.total}</strong>
        </span>
      </div>
    </div>
  );
}

/**
 * The cluster's traffic through its HAProxy balancers while the page is open (lb.traffic, read
 * every second): nothing is drawn for a cluster without a runtime API to read.
 */
export function TrafficCard({ cluster }: { cluster: string }) {
  const client = consoleClient();
  const polled = usePolled<LbTraffic>(() => client.lb.traffic.query({ cluster }), 1000, cluster);
  const [samples, setSamples] = useState<TrafficSample[]>([]);
  const data = polled.data;
  useEffect(() => {
    if (!data || data.servers.length === 0) return;
    setSamples((s) => (s.at(-1)?.at === data.at ? s : [...s, data].slice(-KEEP)));
  }, [data]);
  if (!data || (data.servers.length === 0 && data.error)) return null;
  return (
    <section className="card" aria-labelledby="traffic-h">
      <h2 id="traffic-h">Traffic through the load balancer</h2>
      <p className="muted">
        Requests per second as HAProxy counts them for cluster {cluster}, each server under the edition it
        runs; failed requests are the 5xx answers of its backends, HAProxy&apos;s own included.
      </p>
      {data.error ? (
        <div className="alert alert-bad" role="alert">
          {data.error}
        </div>
      ) : null}
      {samples.length < 2 ? (
        <p className="empty">Reading HAProxy&apos;s counters…</p>
      ) : (
        <TrafficChart points={trafficPoints(samples)} />
      )}
    </section>
  );
}
