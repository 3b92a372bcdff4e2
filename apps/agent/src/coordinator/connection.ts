// The agent's one bidirectional stream to the coordinator: Hello → Welcome, heartbeats, health
// reports, and reconnects with jittered exponential back-off when the stream ends.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@rollgate/logger';
import {
  type AgentMessage,
  type AgentServiceClient,
  type ArtifactChunk__Output,
  type CoordinatorMessage__Output,
  type HealthReport,
  type Heartbeat,
  type Hello,
  type ProtoGrpcType,
  type Welcome__Output,
} from '@rollgate/protocol';
import { loadAgentServiceClient } from './agent-service-client';
import { createBackoff, type BackoffOptions } from './backoff';
import { errorMessage } from '../lib/fs-util';
import { renewableSource } from './renewable-credentials';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';

export interface ConnectionOptions {
  /** host:port of the coordinator. */
  address: string;
  /**
   * Several coordinators sharing one database, in order of preference: each attempt after a
   * stream ended goes to the next one, so a dead coordinator costs one back-off, not a hang.
   * Default: [address].
   */
  addresses?: string[];
  /**
   * Channel credentials; default plaintext (grpc.credentials.createInsecure()). Credentials made by
   * renewableCredentials() (the agent's mTLS identity) are followed: when they are renewed, the
   * channels are rebuilt and the stream reconnects with the new certificate at once.
   */
  credentials?: grpc.ChannelCredentials;
  /** Loaded protocol; default: the bundle's embedded one, else loadAgentProtocol() (agent-service-client.ts). */
  protocol?: ProtoGrpcType;
  agentId: string;
  log: Logger;
  /** Built fresh for every connection attempt (inventory and journal change between attempts). */
  hello: () => Promise<Hello>;
  heartbeat: (seq: number) => Omit<Heartbeat, 'seq'>;
  healthReport: () => Promise<HealthReport>;
  /** After Welcome: adopt the gate wish, flush queued updates and logs. */
  onWelcome: (w: Welcome__Output) => Promise<void> | void;
  /** RunAction, CancelAction, SetGate. */
  onMessage: (m: CoordinatorMessage__Output) => void;
  /** Reconnect back-off; default base 200 ms, factor 2, cap 10 s, full jitter. */
  backoff?: BackoffOptions;
  /** A connection that lasted longer than this resets the back-off, ms; default 10_000. */
  resetAfterMs?: number;
  /** Give up on an attempt that got no Welcome within this, ms; default 10_000. */
  welcomeTimeoutMs?: number;
  /** Heartbeat interval when Welcome says 0, ms; default 5_000. */
  defaultHeartbeatMs?: number;
  /** Send a HealthReport at least every N heartbeats; default 10. */
  healthEveryHeartbeats?: number;
}

export interface Connection {
  start(): void;
  /** Half-closes the stream and closes the channel. */
  stop(): Promise<void>;
  /** Writes a message if connected (Welcome received); false when it was not sent. */
  send(msg: AgentMessage): boolean;
  sendHealthReport(): void;
  readonly state: ConnectionState;
  readonly connected: boolean;
  /** Streams an edition archive; cancelled when the signal aborts. */
  fetchArtifact(sha256: string, signal: AbortSignal): AsyncIterable<ArtifactChunk__Output>;
}

export function createConnection(opts: ConnectionOptions): Connection {
  const log = opts.log;
  const Client = opts.protocol?.rollgate.agent.v1.AgentService ?? loadAgentServiceClient();
  const addresses = opts.addresses && opts.addresses.length > 0 ? opts.addresses : [opts.address];
  let current = 0;
  const clients = new Map<string, AgentServiceClient>();
  const clientFor = (address: string): AgentServiceClient => {
    let c = clients.get(address);
    if (!c) {
      c = newClient(address);
      clients.set(address, c);
    }
    return c;
  };
  const renewable = opts.credentials ? renewableSource(opts.credentials) : undefined;
  const credentials = () => renewable?.current() ?? opts.credentials ?? grpc.credentials.createInsecure();
  const newClient = (address: string): AgentServiceClient =>
    new Client(address, credentials(), {
      // Each agent gets its own HTTP/2 connection rather than sharing grpc-js's global subchannel pool.
      'grpc.use_local_subchannel_pool': 1,
      // Notice a dead coordinator (half-open TCP) without waiting for the OS: ping every 20 s.
      'grpc.keepalive_time_ms': 20_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      // grpc-js's own subchannel back-off defaults to 1 s → 120 s; while it waits, every call fails
      // at once, which would override our 10 s cap. Keep it within the same bounds as ours.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 10_000,
    });
  let client = clientFor(addresses[0]!);
  const backoff = createBackoff(opts.backoff);
  const resetAfterMs = opts.resetAfterMs ?? 10_000;
  const welcomeTimeoutMs = opts.welcomeTimeoutMs ?? 10_000;
  const healthEvery = opts.healthEveryHeartbeats ?? 10;

  let state: ConnectionState = 'idle';
  let call: grpc.ClientDuplexStream<AgentMessage, CoordinatorMessage__Output> | undefined;
  let welcomedAt = 0;
  let seq = 0;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let welcomeTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  /** The stream is being replaced for a renewed certificate: reconnect at once, not after a back-off. */
  let renewing = false;
  const unsubscribe = renewable?.subscribe(() => {
    if (state === 'stopped') return;
    log.info({}, 'certificate renewed: reconnecting with it');
    // New channels: an HTTP/2 connection keeps the certificate it was opened with.
    const old = [...clients.values()];
    clients.clear();
    client = clientFor(addresses[current]!);
    if (call) {
      renewing = true;
      call.cancel();
    }
    // Closed after the cancel: closing first could report the call as failed for another reason.
    setTimeout(() => {
      for (const c of old) c.close();
    }, 1000).unref();
  });

  function setState(next: ConnectionState, details: Record<string, unknown> = {}) {
    if (state === next) return;
    const prev = state;
    state = next;
    const address = addresses[current];
    if (next === 'connected') log.info({ address, ...details }, 'connected to coordinator');
    else if (next === 'stopped') log.info({ address }, 'closing the coordinator connection');
    else if (prev === 'connected') log.info({ address, ...details }, 'connection to coordinator lost');
  }

  function clearTimers() {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    if (welcomeTimer) clearTimeout(welcomeTimer);
    heartbeatTimer = undefined;
    welcomeTimer = undefined;
  }

  function write(msg: AgentMessage): boolean {
    if (!call || state !== 'connected') return false;
    try {
      call.write(msg);
      return true;
    } catch (err) {
      log.debug({ err: errorMessage(err) }, 'write to coordinator stream failed');
      return false;
    }
  }

  function sendHealthReport() {
    if (state !== 'connected') return;
    opts.healthReport().then(
      (health) => write({ health }),
      (err: unknown) => log.warn({ err: errorMessage(err) }, 'could not build health report'),
    );
  }

  function ended(thisCall: typeof call, why: string) {
    if (call !== thisCall || call === undefined) return; // an older call finishing late
    call = undefined;
    clearTimers();
    const lasted = welcomedAt > 0 ? Date.now() - welcomedAt : 0;
    welcomedAt = 0;
    if (state === 'stopped') return;
    if (lasted > resetAfterMs) backoff.reset();
    if (renewing) {
      // Same coordinator, no wait: the stream was ended by us, for a fresh certificate.
      renewing = false;
      setState('waiting', { reason: 'certificate renewed' });
      retryTimer = setTimeout(connect, 0);
      return;
    }
    // Fail over: the next attempt goes to the next coordinator of the list.
    if (addresses.length > 1) current = (current + 1) % addresses.length;
    const delay = backoff.next();
    setState('waiting', { reason: why, retryInMs: delay });
    log.debug(
      { reason: why, retryInMs: delay, attempt: backoff.attempt },
      'coordinator stream ended; will reconnect',
    );
    retryTimer = setTimeout(connect, delay);
  }

  function connect() {
    retryTimer = undefined;
    if (state === 'stopped') return;
    attempt += 1;
    setState('connecting');
    const address = addresses[current]!;
    client = clientFor(address);
    log.debug({ address, attempt }, 'connecting to coordinator');
    const md = new grpc.Metadata();
    md.set('x-rollgate-agent-id', opts.agentId);
    const c = client.Connect(md);
    call = c;
    c.on('data', (m: CoordinatorMessage__Output) => onData(c, m));
    // 'status' arrives exactly once per call, whatever the outcome; 'error' only needs a
    // listener so a failed call does not become an uncaught exception.
    c.on('status', (st: grpc.StatusObject) =>
      ended(
        c,
        st.code === grpc.status.OK
          ? 'the coordinator closed the stream'
          : `${grpc.status[st.code] ?? st.code}: ${st.details}`,
      ),
    );
    c.on('error', (err: Error) => log.debug({ err: err.message }, 'coordinator stream error'));
    welcomeTimer = setTimeout(() => {
      log.warn({ timeoutMs: welcomeTimeoutMs }, 'no Welcome from coordinator; reconnecting');
      c.cancel();
    }, welcomeTimeoutMs);
    opts.hello().then(
      (hello) => {
        if (call !== c) return;
        try {
          c.write({ hello });
        } catch (err) {
          log.debug({ err: errorMessage(err) }, 'could not send Hello');
        }
      },
      (err: unknown) => {
        log.error({ err: errorMessage(err) }, 'could not build Hello; retrying');
        c.cancel();
      },
    );
  }

  function onData(c: NonNullable<typeof call>, m: CoordinatorMessage__Output) {
    if (call !== c) return;
    if (m.body === 'welcome' && m.welcome) {
      if (welcomeTimer) clearTimeout(welcomeTimer);
      welcomeTimer = undefined;
      welcomedAt = Date.now();
      const w = m.welcome;
      const every = w.heartbeatIntervalMs || opts.defaultHeartbeatMs || 5_000;
      setState('connected', {
        coordinatorVersion: w.coordinatorVersion,
        heartbeatIntervalMs: every,
        attempts: attempt,
      });
      attempt = 0;
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      heartbeatTimer = setInterval(() => {
        seq += 1;
        write({ heartbeat: { seq, ...opts.heartbeat(seq) } });
        if (seq % healthEvery === 0) sendHealthReport();
      }, every);
      heartbeatTimer.unref();
      Promise.resolve(opts.onWelcome(w)).catch((err: unknown) =>
        log.error({ err: errorMessage(err) }, 'handling Welcome failed'),
      );
      return;
    }
    if (state !== 'connected') {
      log.warn({ body: m.body }, 'message before Welcome ignored');
      return;
    }
    opts.onMessage(m);
  }

  return {
    start() {
      if (state !== 'idle') return;
      connect();
    },
    async stop() {
      const c = call;
      unsubscribe?.();
      setState('stopped');
      clearTimers();
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      if (c) {
        // Half-close so the coordinator sees a clean end, then give it a moment to finish.
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            c.cancel();
            resolve();
          }, 500);
          c.once('status', () => {
            clearTimeout(t);
            resolve();
          });
          try {
            c.end();
          } catch {
            c.cancel();
          }
        });
      }
      call = undefined;
      for (const c of clients.values()) c.close();
    },
    send: write,
    sendHealthReport,
    get state() {
      return state;
    },
    get connected() {
      return state === 'connected';
    },
    fetchArtifact(sha256, signal) {
      const stream = client.FetchArtifact({ sha256, agentId: opts.agentId });
      const onAbort = () => stream.cancel();
      if (signal.aborted) stream.cancel();
      else signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
      return stream as AsyncIterable<ArtifactChunk__Output>;
    },
  };
}
