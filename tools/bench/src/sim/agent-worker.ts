// A load-generator process: many simulated agents, each with its own gRPC channel (its own HTTP/2
// connection, as real agents on separate hosts have), speaking the real protocol: Hello → Welcome,
// heartbeats at the interval the coordinator asks for, RunAction answered ACCEPTED then SUCCEEDED,
// and, on request, LogBatch streams (50 lines a message) with stream ids and seqs, kept within a
// window of unacknowledged lines like the real agent's shipper and honouring HTTP/2 back-pressure.
// With `reconnect`, a lost stream is re-dialled exactly as the real agent does (connection.ts):
// the agent's own jittered back-off module, the same reset rule and Welcome timeout, the same
// grpc-js channel back-off; each outage is recorded for the reconnect-storm test.
//
// Driven by its parent over IPC (see sim-pool.ts): every request carries an id and gets one reply.
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
// The real agent's back-off, not a copy: a storm measured with another back-off would prove nothing.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { createBackoff, type Backoff } from '@rollgate/agent/src/coordinator/backoff';
import {
  CAPABILITIES,
  loadAgentProtocol,
  type AgentMessage,
  type AgentServiceClient,
  type CoordinatorMessage__Output,
  createLogBatchEncoder,
} from '@rollgate/protocol';

export type WorkerRequest =
  | {
      t: 'connect';
      address: string;
      cluster: string;
      agents: { id: string; role: string }[];
      /** Hellos in flight at once in this worker (a reconnect storm, but not a SYN flood). */
      concurrency: number;
      /** Re-dial a lost stream with the agent's back-off (default false: the benches measure one connect). */
      reconnect?: boolean;
    }
  | { t: 'outages' }
  | { t: 'logs'; agents: number; batch: number; window: number; messageBytes: number }
  | { t: 'logs-stop' }
  | { t: 'counters' }
  | { t: 'close' };

export interface ConnectResult {
  connected: number;
  failed: number;
  errors: string[];
  /** ms from the connect request to each agent's Welcome. */
  welcomeMs: number[];
}

export interface Counters {
  /** Lines the coordinator acknowledged as stored (LogAck), summed over agents. */
  acked: number;
  /** Lines sent. */
  sent: number;
  /** RunActions received / answered. */
  actions: number;
  /** Times a write had to wait for 'drain' (HTTP/2 flow control pushed back). */
  drains: number;
  /** Streams that ended unexpectedly. */
  ended: number;
  rss: number;
}

/** One lost stream of one agent, from the loss to the next Welcome. Times are epoch ms. */
export interface Outage {
  id: string;
  lostAt: number;
  /** null while it is still reconnecting. */
  backAt: number | null;
  /** Connection attempts made (each after one back-off delay). */
  attempts: number;
  /** The back-off delays drawn, ms, in order. */
  delays: number[];
}

type Call = grpc.ClientDuplexStream<AgentMessage, CoordinatorMessage__Output>;

// The same rules as the real agent's connection (apps/agent/src/coordinator/connection.ts defaults).
const RESET_AFTER_MS = 10_000;
const WELCOME_TIMEOUT_MS = 10_000;

interface SimAgent {
  id: string;
  role: string;
  client: AgentServiceClient;
  call?: Call;
  heartbeat?: NodeJS.Timeout;
  seq: number;
  // logs
  streamId: string;
  logSeq: number;
  ackedSeq: number;
  logging: boolean;
  waiting?: () => void;
  reconnect: boolean;
  backoff: Backoff;
  welcomedAt: number;
  outage?: Outage;
}

const protocol = loadAgentProtocol();
const Service = protocol.rollgate.agent.v1.AgentService;
// The real client, except that a message already encoded (the logs bench's LogBatches, see
// @rollgate/protocol's log-batch-encoder) goes out as its bytes.
const Client = grpc.makeGenericClientConstructor(
  {
    ...Service.service,
    Connect: {
      ...Service.service.Connect,
      requestSerialize: (m: AgentMessage | Buffer) =>
        Buffer.isBuffer(m) ? m : Service.service.Connect.requestSerialize(m),
    },
  },
  'AgentService',
) as unknown as typeof Service;
const agents: SimAgent[] = [];
const counters = { acked: 0, sent: 0, actions: 0, drains: 0, ended: 0 };
const outages: Outage[] = [];
let closing = false;

function send(a: SimAgent, msg: AgentMessage): boolean {
  if (!a.call) return false;
  return a.call.write(msg);
}

function onMessage(a: SimAgent, m: CoordinatorMessage__Output): void {
  if (m.body === 'runAction' && m.runAction) {
    counters.actions++;
    const id = m.runAction.actionId;
    send(a, { actionUpdate: { actionId: id, status: 'ACTION_STATUS_ACCEPTED', atMs: Date.now() } });
    send(a, { actionUpdate: { actionId: id, status: 'ACTION_STATUS_SUCCEEDED', atMs: Date.now() } });
  } else if (m.body === 'logAck' && m.logAck) {
    const up = Number(m.logAck.upToSeq);
    if (up > a.ackedSeq) {
      counters.acked += up - a.ackedSeq;
      a.ackedSeq = up;
      const w = a.waiting;
      a.waiting = undefined;
      w?.();
    }
  }
}

function connectOne(a: SimAgent, address: string, cluster: string, t0: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const md = new grpc.Metadata();
    md.set('x-rollgate-agent-id', a.id);
    const call = a.client.Connect(md);
    a.call = call;
    let welcomed = false;
    const welcomeTimer = setTimeout(() => call.cancel(), WELCOME_TIMEOUT_MS);
    call.on('data', (m: CoordinatorMessage__Output) => {
      if (!welcomed && m.body === 'welcome' && m.welcome) {
        welcomed = true;
        clearTimeout(welcomeTimer);
        a.welcomedAt = Date.now();
        const every = m.welcome.heartbeatIntervalMs || 5000;
        // Spread heartbeats over the interval, as independent hosts would be.
        const startIn = Math.floor(Math.random() * every);
        a.heartbeat = setTimeout(() => {
          a.heartbeat = setInterval(() => {
            a.seq++;
            send(a, { heartbeat: { seq: a.seq, sentAtMs: Date.now(), gate: 'GATE_STATE_OPEN' } });
          }, every);
        }, startIn);
        resolve(performance.now() - t0);
        return;
      }
      onMessage(a, m);
    });
    call.on('error', (err: Error) => {
      if (!welcomed) reject(err);
    });
    call.on('status', () => {
      clearTimeout(welcomeTimer);
      if (a.heartbeat) clearInterval(a.heartbeat);
      if (a.call === call) a.call = undefined;
      // A stream that ended cleanly before any Welcome emits no 'error': fail the attempt here.
      if (!welcomed) reject(new Error('stream ended before Welcome'));
      else if (!closing) {
        counters.ended++;
        if (a.reconnect) lost(a, address, cluster);
      }
    });
    call.write({
      hello: {
        agentId: a.id,
        agentVersion: 'bench-sim',
        capabilities: [CAPABILITIES.opsV1, CAPABILITIES.logAck],
        hostname: a.id,
        cluster,
        role: a.role,
        services: [
          {
            name: 'app',
            installedEditions: ['1.0'],
            activeEdition: '1.0',
            health: 'SERVICE_HEALTH_HEALTHY',
            activeConnections: 0,
          },
        ],
        gateUrl: `http://${a.id}.invalid:7070/gate`,
        gate: 'GATE_STATE_OPEN',
        journaled: [],
      },
    });
  });
}

function lost(a: SimAgent, address: string, cluster: string): void {
  const lasted = Date.now() - a.welcomedAt;
  a.outage = { id: a.id, lostAt: Date.now(), backAt: null, attempts: 0, delays: [] };
  outages.push(a.outage);
  if (lasted > RESET_AFTER_MS) a.backoff.reset();
  retryLater(a, address, cluster);
}

function retryLater(a: SimAgent, address: string, cluster: string): void {
  if (closing || !a.outage) return;
  const delay = a.backoff.next();
  a.outage.delays.push(delay);
  setTimeout(() => {
    if (closing || !a.outage) return;
    a.outage.attempts++;
    connectOne(a, address, cluster, performance.now()).then(
      () => {
        if (a.outage) a.outage.backAt = Date.now();
        a.outage = undefined;
      },
      () => retryLater(a, address, cluster),
    );
  }, delay);
}

async function connect(req: Extract<WorkerRequest, { t: 'connect' }>): Promise<ConnectResult> {
  const t0 = performance.now();
  const result: ConnectResult = { connected: 0, failed: 0, errors: [], welcomeMs: [] };
  const todo = req.agents.map((x): SimAgent => ({
    id: x.id,
    role: x.role,
    client: new Client(req.address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.keepalive_time_ms': 20_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // As the real agent: grpc-js's own subchannel back-off within the same bounds as ours.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 10_000,
    }),
    seq: 0,
    streamId: randomBytes(8).toString('hex'),
    logSeq: 0,
    ackedSeq: 0,
    logging: false,
    reconnect: req.reconnect ?? false,
    backoff: createBackoff(),
    welcomedAt: 0,
  }));
  let next = 0;
  const lane = async () => {
    while (next < todo.length) {
      const a = todo[next++]!;
      agents.push(a);
      // One retry: a connection refused under a burst is what a real agent's back-off absorbs.
      for (let attempt = 1; ; attempt++) {
        try {
          result.welcomeMs.push(await connectOne(a, req.address, req.cluster, t0));
          result.connected++;
          break;
        } catch (err) {
          if (attempt < 3) {
            await new Promise((r) => setTimeout(r, 200 * attempt));
            continue;
          }
          result.failed++;
          if (result.errors.length < 5) result.errors.push(`${a.id}: ${(err as Error).message}`);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, req.concurrency) }, lane));
  return result;
}

// ---------------------------------------------------------------- logs

/** Distinct messages, cycled: real output does not compress like one repeated line would. */
let logEncoder = createLogBatchEncoder([]);
let logMessages = 1;

async function logLoop(a: SimAgent, batch: number, window: number): Promise<void> {
  while (a.logging && a.call) {
    if (a.logSeq - a.ackedSeq + batch > window) {
      // The shipper keeps at most `window` unacknowledged lines: wait for a LogAck.
      await new Promise<void>((r) => (a.waiting = r));
      continue;
    }
    const now = Date.now();
    const picks: { line: number; atMs: number; seq: number }[] = new Array(batch);
    for (let k = 0; k < batch; k++) {
      const seq = ++a.logSeq;
      picks[k] = { line: seq % logMessages, atMs: now, seq };
    }
    counters.sent += batch;
    const bytes = logEncoder.encode(a.streamId, picks) as unknown as AgentMessage;
    if (!a.call.write(bytes)) {
      counters.drains++;
      await new Promise<void>((r) => a.call?.once('drain', r) ?? r());
    } else if (counters.sent % (batch * 64) === 0) {
      // Let acks and heartbeats in now and then.
      await new Promise((r) => setImmediate(r));
    }
  }
}

function startLogs(req: Extract<WorkerRequest, { t: 'logs' }>): { agents: number } {
  logMessages = 1024;
  logEncoder = createLogBatchEncoder(
    Array.from({ length: logMessages }, (_, i) => ({
      level: 'LOG_LEVEL_INFO' as const,
      code: 'RG0190I',
      message: `service output ${i} ${randomBytes(req.messageBytes).toString('base64')}`.slice(
        0,
        req.messageBytes,
      ),
    })),
  );
  const chosen = agents.filter((a) => a.call).slice(0, req.agents);
  for (const a of chosen) {
    a.logging = true;
    void logLoop(a, req.batch, req.window);
  }
  return { agents: chosen.length };
}

function stopLogs(): void {
  for (const a of agents) {
    a.logging = false;
    const w = a.waiting;
    a.waiting = undefined;
    w?.();
  }
}

function readCounters(): Counters {
  return { ...counters, rss: process.memoryUsage.rss() };
}

async function closeAll(): Promise<void> {
  closing = true;
  stopLogs();
  for (const a of agents) {
    if (a.heartbeat) clearInterval(a.heartbeat);
    try {
      a.call?.end();
    } catch {
      // already gone
    }
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const a of agents) {
    a.call?.cancel();
    a.client.close();
  }
}

process.on('message', (raw: { id: number; req: WorkerRequest }) => {
  const { id, req } = raw;
  const reply = (result: unknown, error?: string) => process.send?.({ id, result, error });
  (async () => {
    switch (req.t) {
      case 'connect':
        return connect(req);
      case 'logs':
        return startLogs(req);
      case 'logs-stop':
        return stopLogs();
      case 'counters':
        return readCounters();
      case 'outages':
        return outages;
      case 'close':
        await closeAll();
        setImmediate(() => process.exit(0));
        return null;
    }
  })().then(
    (r) => reply(r ?? null),
    (err: unknown) => reply(null, (err as Error).message),
  );
});
// The parent died: do not linger with thousands of sockets open.
process.on('disconnect', () => process.exit(0));
