// The agent's Prometheus metrics (issue 16 item 3, docs/adr/0030) and the small HTTP server that
// serves them on `metrics.port` (off unless the config names one; loopback unless it names a host).
// One registry per agent. Labels take bounded values only: op kinds, the configured service names,
// health states.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HealthState } from './gate';

const HEALTH_STATES: readonly HealthState[] = ['healthy', 'unhealthy', 'stopped', 'unknown'];
const OP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** What the gauges read at scrape time. */
export interface AgentGaugeSource {
  /** The gate as HAProxy's health check sees it (open = 200). */
  gateOpen(): boolean;
  /** The coordinator's wish for the gate. */
  gateWishOpen(): boolean;
  /** Whether the stream to a coordinator is up. */
  connected(): boolean;
  /** Each configured service's health. */
  services(): { name: string; state: HealthState }[];
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;

export function createAgentMetrics(source: AgentGaugeSource, opts: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'rollgate_agent_' });
    // prom-client names three gauges `*_total` (active handles, requests, resources), which
    // `promtool check metrics` flags: a gauge must not look like a counter. Left out.
    for (const m of registry.getMetricsAsArray())
      if (m.name.endsWith('_total') && !(m instanceof Counter)) registry.removeSingleMetric(m.name);
  }

  new Gauge({
    name: 'rollgate_agent_gate_open',
    help: 'Whether the gate answers open (1) or closed (0) to the load balancer.',
    registers: [registry],
    collect() {
      this.set(source.gateOpen() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rollgate_agent_gate_wish_open',
    help: "The coordinator's wish for the gate: open (1) or closed (0).",
    registers: [registry],
    collect() {
      this.set(source.gateWishOpen() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rollgate_agent_connected',
    help: 'Whether the stream to a coordinator is up (1) or not (0).',
    registers: [registry],
    collect() {
      this.set(source.connected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rollgate_agent_service_health',
    help: "Each configured service's health: 1 for its current state, 0 for the others.",
    labelNames: ['service', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of source.services()) {
        for (const state of HEALTH_STATES) this.set({ service: s.name, state }, s.state === state ? 1 : 0);
      }
    },
  });
  const ops = new Histogram({
    name: 'rollgate_agent_op_duration_seconds',
    help: 'How long an op of an action took, by op kind and result (ok, error).',
    labelNames: ['op', 'result'],
    buckets: OP_BUCKETS,
    registers: [registry],
  });
  const staged = new Counter({
    name: 'rollgate_agent_bytes_staged_total',
    help: 'Archive bytes received from the coordinator for staging editions.',
    registers: [registry],
  });
  const reconnects = new Counter({
    name: 'rollgate_agent_reconnects_total',
    help: 'Times the agent was welcomed again after its first connection (reconnects and fail-overs).',
    registers: [registry],
  });

  let welcomed = false;
  return {
    registry,
    opFinished: (op: string, ok: boolean, seconds: number) =>
      ops.observe({ op, result: ok ? 'ok' : 'error' }, seconds),
    bytesStaged: (n: number) => staged.inc(n),
    welcomed() {
      if (welcomed) reconnects.inc();
      welcomed = true;
    },
  };
}

export interface MetricsServerOptions {
  registry: Registry;
  /** Default 127.0.0.1: the metrics carry no secret, but there is no reason to publish them further. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
}

/** GET /metrics in Prometheus text format; everything else 404. */
export function createMetricsServer(opts: MetricsServerOptions) {
  let server: Server | undefined;
  return {
    start(): Promise<{ port: number }> {
      server = createServer((req, res) => {
        if (req.method !== 'GET' || req.url !== '/metrics') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics');
          return;
        }
        opts.registry.metrics().then(
          (text) =>
            res
              .writeHead(200, { 'content-type': opts.registry.contentType, 'cache-control': 'no-store' })
              .end(text),
          (err: unknown) =>
            res
              .writeHead(500, { 'content-type': 'text/plain' })
              .end(`metrics failed: ${(err as Error).message}`),
        );
      });
      const host = opts.host ?? '127.0.0.1';
      return new Promise((resolve, reject) => {
        server!.once('error', (err) =>
          reject(new Error(`cannot listen for metrics on ${host}:${opts.port}: ${err.message}`)),
        );
        server!.listen(opts.port, host, () => {
          const addr = server!.address();
          resolve({ port: typeof addr === 'object' && addr ? addr.port : opts.port });
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
