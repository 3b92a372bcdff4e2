import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import {
  MAX_RESULT_JSON_CHARS,
  MSG,
  parseActionId,
  parseActionResultJson,
  SAFE_NAME,
  type ActionResult,
} from '@rollgate/domain';
import type {
  ActionUpdateInput,
  AgentBus,
  DispatchAction,
  Clock,
  EngineStore,
  LogRecord,
  ServerTouch,
} from '@rollgate/engine';
import {
  loadAgentProtocol,
  type AgentMessage__Output,
  type CoordinatorMessage,
  type Hello__Output,
  type ServiceInventory__Output,
  decodeLogBatchMessage,
} from '@rollgate/protocol';
import type { Logger } from '@rollgate/logger';
import type { ArtifactStore } from '../editions/artifact-store';
import { createLogIntake, type LogLimits, type LogStreamState } from './log-intake';
import { fromWireHealth, fromWireStatus, toWireOp } from './wire';

export interface AgentGatewayEvents {
  /** Resolves null (or nothing) when the update was taken, else why it was refused (then audited). */
  onActionUpdate(update: ActionUpdateInput): Promise<string | null | void>;
  onAgentConnected(serverId: string): Promise<void>;
  onAgentLost(serverId: string): Promise<void>;
}

export interface AgentGatewayOptions {
  /** Interface to listen on; default 127.0.0.1. Streams use mTLS (docs/adr/0013) unless ROLLGATE_INSECURE_AGENTS. */
  host?: string;
  /** gRPC port; 0 picks a free one. Default 7401. */
  port?: number;
  store: EngineStore;
  artifacts: ArtifactStore;
  /** Where agents' log lines go (a batching writer); flush() resolves once earlier lines are stored. */
  logs: {
    /** false = not accepted (buffer full): the gateway waits (whenWritable, else flush) and retries. */
    write(record: LogRecord): boolean | void;
    flush(): Promise<void>;
    /** Resolves when write() has room again; rejects once the writer is stopped. */
    whenWritable?(): Promise<void>;
  };
  log: Logger;
  clock: Clock;
  version: string;
  /** Heartbeat interval told to agents in Welcome; default 5000 ms. */
  heartbeatIntervalMs?: number;
  /**
   * An agent silent for longer is marked lost; default 1.5 × heartbeatIntervalMs, so that with the
   * sweep (every quarter interval, at most 1 s) a silent agent is noticed within two intervals.
   */
  lostAfterMs?: number;
  /** How often heartbeats are written to the store, in one batch; default 1000 ms. */
  touchFlushMs?: number;
  /** How often stored log lines are acknowledged to agents; default 250 ms. */
  logAckMs?: number;
  /** Per-agent log quotas and bounds (log-intake.ts); default DEFAULT_LOG_LIMITS. */
  logLimits?: Partial<LogLimits>;
  /**
   * Longest a finished action's result waits for its log lines to be stored first; default
   * 2000 ms. A result never waits on a log write that fails or hangs (issue 17 item 2).
   */
  resultLogWaitMs?: number;
  /** Default plaintext; mTLS credentials from the agent CA (docs/adr/0013) in main.ts. */
  credentials?: grpc.ServerCredentials;
  /**
   * Identity check on every Hello (docs/adr/0013): resolves null to accept the agent, else why it
   * is refused. `peer` is its TLS client certificate (null on plaintext); `end` closes the stream
   * later (revocation). Default: every Hello is accepted.
   */
  checkIdentity?: (
    peer: { commonName: string; serial: string; validTo: number } | null,
    hello: { agentId: string; cluster: string; role: string },
    end: (why: string) => void,
  ) => Promise<string | null>;
  /**
   * Whether the FetchArtifact caller may have this archive (docs/adr/0018): resolves null to serve
   * it, else why not. `peer` is its TLS client certificate (null on plaintext), `agentId` what the
   * request claims. Checked on every call. Default: every archive is served.
   */
  checkArtifact?: (
    peer: { commonName: string; serial: string; validTo: number } | null,
    agentId: string,
    sha256: string,
  ) => Promise<string | null>;
  /**
   * More gRPC services on the same port (the standard health service, grpc-health.ts). Default: none.
   */
  extraServices?: { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation }[];
  /**
   * This coordinator's id, recorded on the servers whose streams it holds (so a peer leading a
   * run publishes their commands here) and guarding its status writes. Default: none recorded.
   */
  coordinatorId?: string;
}

/** Messages of one stream received but not yet handled before the gateway stops reading it. */
const MAX_QUEUED = 16;
/** Refused updates audited per stream; past that they are only counted (the audit log is bounded). */
const MAX_AUDITED_REFUSALS = 20;
/** Action ids remembered per stream as sent to it (for a result that beats its "dispatched" write). */
const MAX_SENT_REMEMBERED = 4096;

const safe = (what: string) =>
  z
    .string()
    .max(128, `${what} must be at most 128 characters`)
    .regex(SAFE_NAME, `${what} must be a safe name (letters, digits, . _ -)`);
const editionName = z.string().max(64, 'an edition name is at most 64 characters');

/** Every Hello field bounded (docs/adr/0018): what an agent says about itself is stored and shown. */
const helloSchema = z.object({
  agentId: safe('agentId'),
  cluster: safe('cluster'),
  role: safe('role'),
  hostname: z.string().max(255),
  agentVersion: z.string().min(1).max(64),
  gateUrl: z.string().max(512),
  capabilities: z.array(z.string().max(64)).max(64, 'at most 64 capabilities'),
  agentCheckPort: z.number().int().min(0).max(65535),
  services: z
    .array(
      z.object({
        name: z.string().min(1).max(64, 'a service name is at most 64 characters'),
        installedEditions: z.array(editionName).max(64, 'at most 64 installed editions per service'),
        activeEdition: editionName,
        besideEdition: editionName,
        port: z.number().int().min(0).max(65535),
        besidePort: z.number().int().min(0).max(65535),
      }),
    )
    .max(64, 'at most 64 services'),
  journaled: z
    .array(
      z.object({
        actionId: z.string().max(512, 'a journaled action id is at most 512 characters'),
        reason: z.string().max(16_384, 'a journaled reason is at most 16384 characters'),
        resultJson: z
          .string()
          .max(MAX_RESULT_JSON_CHARS, `a journaled result is at most ${MAX_RESULT_JSON_CHARS} characters`),
      }),
    )
    .max(1024, 'at most 1024 journaled results'),
});

/** A failure reason is shown to operators: long enough for an actionable message, no longer. */
const MAX_REASON_CHARS = 4096;

interface Connection {
  agentId: string;
  call: grpc.ServerDuplexStream<AgentMessage__Output, CoordinatorMessage>;
  lastSeen: number;
  lost: boolean;
  queue: Promise<void>;
  /** The highest log seq received per agent stream and not yet acknowledged. */
  unacked: Map<string, number>;
  /** Action ids written to this stream (insertion order; the oldest are forgotten first). */
  sent: Set<string>;
  /** Updates refused on this stream so far. */
  refused: number;
  /** The stream's log quota and refusal counts (log-intake.ts). */
  logState: LogStreamState;
}

/** The TLS client certificate of a call (null on plaintext). */
function peerOf(call: Pick<grpc.ServerWritableStream<unknown, unknown>, 'getAuthContext'>) {
  const cert = call.getAuthContext().sslPeerCertificate;
  return cert?.subject?.CN
    ? { commonName: String(cert.subject.CN), serial: cert.serialNumber, validTo: Date.parse(cert.valid_to) }
    : null;
}

function inventory(services: ServiceInventory__Output[]) {
  return services.map((s) => ({
    name: s.name,
    installedEditions: [...s.installedEditions],
    activeEdition: s.activeEdition,
    health: fromWireHealth(s.health),
    ...(s.port ? { port: s.port } : {}),
    ...(s.besidePort ? { besidePort: s.besidePort } : {}),
    ...(s.besideEdition ? { besideEdition: s.besideEdition } : {}),
    // Where the generated HAProxy configuration checks the service; one printable word or nothing.
    ...(/^\/[\x21-\x7e]{0,255}$/.test(s.healthPath) ? { healthPath: s.healthPath } : {}),
    ...(s.healthPort > 0 && s.healthPort <= 65535 ? { healthPort: s.healthPort } : {}),
  }));
}

/**
 * The coordinator's gRPC face to agents: one bidirectional Connect stream per agent, plus
 * FetchArtifact. It is a thin transport: it validates messages, records fleet state and hands
 * action results to the engine; it makes no decisions of its own.
 */
export function createAgentGateway(opts: AgentGatewayOptions, events: AgentGatewayEvents) {
  const { store, log, clock } = opts;
  const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 5000;
  const lostAfterMs = opts.lostAfterMs ?? 1.5 * heartbeatIntervalMs;
  const proto = loadAgentProtocol();
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1 });
  const connections = new Map<string, Connection>();
  const touches = new Map<string, ServerTouch>();
  let sweepTimer: NodeJS.Timeout | undefined;
  let ackTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let boundPort = 0;

  const coordinatorId = opts.coordinatorId;
  const intake = createLogIntake({
    logs: opts.logs,
    clock,
    log,
    ...(opts.logLimits ? { limits: opts.logLimits } : {}),
    stopped: () => stopped,
  });
  const resultLogWaitMs = opts.resultLogWaitMs ?? 2000;

  /**
   * A finished action's log lines arrived before its result on the stream: they are stored first
   * when the database takes them, so a crash right after never leaves a finished action without
   * its log. But a result never waits on a log write that fails or hangs: after resultLogWaitMs
   * (or at the failure) it is settled anyway; its lines follow (issue 17 item 2).
   */
  async function logsBeforeResult(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      opts.logs.flush().catch((err: unknown) => {
        log.warn({ err }, 'log lines before an action result not stored yet: the result goes first');
      }),
      new Promise<void>((r) => (timer = setTimeout(r, resultLogWaitMs))),
    ]);
    clearTimeout(timer);
  }
  /** Later fields win; an absent (undefined) field keeps what an earlier touch of the batch set. */
  const touch = (t: ServerTouch) => {
    const merged: ServerTouch = { ...touches.get(t.id), id: t.id, lastHeartbeatAt: t.lastHeartbeatAt };
    if (t.status !== undefined) merged.status = t.status;
    if (t.gateOpen !== undefined) merged.gateOpen = t.gateOpen;
    if (t.services !== undefined) merged.services = t.services;
    if (coordinatorId) merged.coordinatorId = coordinatorId;
    touches.set(t.id, merged);
  };

  /**
   * The agent's connection status as this gateway knows it when a write is built: the stream
   * registered for it decides (lost or connected), whichever stream the touch came from. A touch
   * decided for a stream that has since been replaced (a sweep's "lost", a late close's
   * "disconnected") must not overwrite the newer stream's "connected": nothing would correct it,
   * and the capacity floor reads it (a reconnect through a healed partition held a run this way).
   */
  function withLiveStatus(t: ServerTouch): ServerTouch {
    const conn = connections.get(t.id);
    if (!conn) return t;
    return {
      ...t,
      lastHeartbeatAt: Math.max(t.lastHeartbeatAt, conn.lastSeen),
      status: conn.lost ? 'lost' : 'connected',
    };
  }

  /**
   * Status writes go out one batch at a time, in the order they were decided: two batches (or a
   * batch and a Hello's upsert) in flight together may commit in either order.
   */
  let writes: Promise<void> = Promise.resolve();
  function flushTouches(): Promise<void> {
    const next = writes.then(async () => {
      if (touches.size === 0) return;
      // Built now, not when the flush was asked for: the status is the registered stream's now.
      const batch = [...touches.values()].map(withLiveStatus);
      touches.clear();
      await store.touchServers(batch);
    });
    writes = next.catch(() => undefined);
    return next;
  }

  function agentLog(
    agentId: string,
    key: keyof typeof MSG,
    detail: string,
    level: LogRecord['level'] = 'info',
  ) {
    const m = MSG[key];
    opts.logs.write({
      runId: null,
      actionId: null,
      serverId: agentId,
      stepIndex: null,
      at: clock.now(),
      level,
      code: m.code,
      message: `${m.text}: ${detail}`,
      source: 'coordinator',
    });
  }

  async function onHello(call: Connection['call'], hello: Hello__Output): Promise<Connection | null> {
    const parsed = helloSchema.safeParse(hello);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      log.warn({ why }, 'agent hello rejected');
      call.emit('error', {
        code: grpc.status.INVALID_ARGUMENT,
        details: `hello rejected: ${why}. Fix the agent's config file and restart it.`,
      });
      return null;
    }
    if (opts.checkIdentity) {
      const peer = peerOf(call);
      const end = (why: string) => call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: why });
      const refusal = await opts.checkIdentity(peer, parsed.data, end);
      if (refusal) {
        log.warn(
          { agentId: hello.agentId, certificate: peer?.commonName ?? null, why: refusal },
          'agent hello refused',
        );
        await store
          .appendAudit({
            at: clock.now(),
            actor: `agent:${peer?.commonName ?? hello.agentId}`,
            action: 'agents.hello-refused',
            target: hello.agentId,
            details: { why: refusal, cluster: hello.cluster, role: hello.role, from: call.getPeer() },
          })
          .catch((err: unknown) => log.error({ err }, 'audit of a refused hello failed'));
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: `hello refused: ${refusal}` });
        return null;
      }
    }
    const now = clock.now();
    const previous = connections.get(hello.agentId);
    if (previous && previous.call !== call) {
      // The newest stream wins: the old one is a half-open leftover of a reconnect.
      previous.call.end();
    }
    const conn: Connection = {
      agentId: hello.agentId,
      call,
      lastSeen: now,
      lost: false,
      queue: Promise.resolve(),
      unacked: new Map(),
      sent: new Set(),
      refused: 0,
      logState: intake.open(hello.agentId),
    };
    connections.set(hello.agentId, conn);
    // After the status writes already on their way (an older stream's "lost" or "disconnected"),
    // never before them; any batch built from here on says "connected" for this agent.
    await writes;
    await store.upsertServer({
      id: hello.agentId,
      cluster: hello.cluster,
      role: hello.role,
      hostname: hello.hostname,
      agentVersion: hello.agentVersion,
      capabilities: [...hello.capabilities],
      gateUrl: hello.gateUrl,
      ...(hello.agentCheckPort ? { agentCheckPort: hello.agentCheckPort } : {}),
      status: 'connected',
      gateOpen: hello.gate === 'GATE_STATE_OPEN',
      services: inventory(hello.services),
      lastHeartbeatAt: now,
      connectedAt: now,
      ...(coordinatorId ? { coordinatorId } : {}),
    });
    call.write({
      welcome: {
        coordinatorVersion: opts.version,
        heartbeatIntervalMs,
        gateWish: 'GATE_STATE_UNSPECIFIED',
      },
    });
    log.info(
      { agentId: hello.agentId, version: hello.agentVersion, cluster: hello.cluster },
      'agent connected',
    );
    agentLog(
      hello.agentId,
      previous ? 'agentBack' : 'agentConnected',
      `${hello.agentId} (${hello.agentVersion})`,
    );
    for (const j of hello.journaled) await handleUpdate(conn, j, 'journal');
    await events.onAgentConnected(hello.agentId);
    return conn;
  }

  /**
   * An update refused (docs/adr/0018): logged, and audited up to MAX_AUDITED_REFUSALS per stream so
   * that a hostile agent cannot grow the audit log without bound. Nothing else changes.
   */
  async function refuseUpdate(conn: Connection, actionId: string, status: string, via: string, why: string) {
    conn.refused++;
    log.warn({ agentId: conn.agentId, actionId: actionId.slice(0, 512), via, why }, 'action update refused');
    if (conn.refused > MAX_AUDITED_REFUSALS) return;
    await store
      .appendAudit({
        at: clock.now(),
        actor: `agent:${conn.agentId}`,
        action: 'agents.update-refused',
        target: actionId.slice(0, 512),
        details: {
          why,
          status,
          via,
          ...(conn.refused === MAX_AUDITED_REFUSALS
            ? { note: `further refusals on this stream are logged, not audited` }
            : {}),
        },
      })
      .catch((err: unknown) => log.error({ err }, 'audit of a refused action update failed'));
  }

  /**
   * An agent's report on an action, by ActionUpdate or Hello's journal. The sender is the stream's
   * agent (pinned to its certificate at Hello), never a field of the message: the engine accepts it
   * only for that server's own dispatched actions, with a result valid for the action's ops.
   */
  async function handleUpdate(
    conn: Connection,
    u: {
      actionId: string;
      status: Parameters<typeof fromWireStatus>[0];
      reason: string;
      atMs: number | string;
      resultJson?: string;
    },
    via: 'update' | 'journal',
  ) {
    const status = fromWireStatus(u.status);
    const wireStatus = String(u.status);
    if (!status)
      return refuseUpdate(conn, u.actionId, wireStatus, via, `status ${wireStatus} is not a report`);
    if (!parseActionId(u.actionId)) {
      return refuseUpdate(conn, u.actionId, status, via, 'the action id is not one this coordinator issues');
    }
    let results: ActionResult[] = [];
    if (u.resultJson) {
      const parsed = parseActionResultJson(u.resultJson);
      if (!parsed.ok)
        return refuseUpdate(conn, u.actionId, status, via, `the result is refused: ${parsed.why}`);
      results = parsed.results;
    }
    // The action's log lines arrived before its result on this stream: store them before the
    // result is committed, so a crash right after never leaves a finished action without its log.
    if (status === 'succeeded' || status === 'failed' || status === 'cancelled') await logsBeforeResult();
    const atMs = Number(u.atMs);
    const refusal = await events.onActionUpdate({
      actionId: u.actionId,
      serverId: conn.agentId,
      sentToSender: conn.sent.has(u.actionId),
      status,
      reason: u.reason.slice(0, MAX_REASON_CHARS),
      atMs: Number.isSafeInteger(atMs) && atMs >= 0 ? atMs : 0,
      results,
    });
    if (refusal) return refuseUpdate(conn, u.actionId, status, via, refusal);
    if (status === 'succeeded' || status === 'failed' || status === 'cancelled') conn.sent.delete(u.actionId);
  }

  async function onMessage(conn: Connection, msg: AgentMessage__Output) {
    const now = clock.now();
    conn.lastSeen = now;
    // A stream replaced by a newer Hello of the same agent (a reconnect after a partition: what
    // the old one still carries was sent before the new one opened) reports results and logs, but
    // its liveness and health are older than the new stream's: they must not overwrite them.
    const current = connections.get(conn.agentId) === conn;
    if (conn.lost && current) {
      conn.lost = false;
      touch({ id: conn.agentId, lastHeartbeatAt: now, status: 'connected' });
      agentLog(conn.agentId, 'agentBack', conn.agentId);
      await events.onAgentConnected(conn.agentId);
    }
    switch (msg.body) {
      case 'heartbeat':
        // Written with the stream's status (withLiveStatus): a wrong status in the store is
        // corrected within a flush interval while the agent talks.
        if (current) touch({ id: conn.agentId, lastHeartbeatAt: now });
        break;
      case 'health':
        if (msg.health && current) {
          touch({
            id: conn.agentId,
            lastHeartbeatAt: now,
            gateOpen: msg.health.gateOpen,
            services: inventory(msg.health.services),
          });
          // Gate changes decide whether the next group may leave: write them at once.
          await flushTouches();
        }
        break;
      case 'actionUpdate':
        if (msg.actionUpdate) await handleUpdate(conn, msg.actionUpdate, 'update');
        break;
      case 'logs':
        // Range checks, bounds and this agent's quota (log-intake.ts): a flood or a poison line
        // holds back this stream only.
        if (msg.logs) await intake.take(conn.logState, msg.logs, conn.unacked);
        break;
      default:
        break;
    }
  }

  const handlers = {
    Connect(call: Connection['call']) {
      let conn: Connection | null = null;
      let pending: Promise<unknown> = Promise.resolve();
      let queued = 0;
      /** A message this stream carried could not be handled: the rest of it is not either. */
      let broken = false;
      call.on('data', (msg: AgentMessage__Output) => {
        // Alive as of its arrival, however long the messages before it take to handle (a fan-out's
        // updates waiting on the engine): the sweep must not call a talking agent lost and have its
        // actions sent again.
        if (conn) conn.lastSeen = clock.now();
        // Back-pressure: stop reading while this stream's messages wait to be handled.
        if (++queued >= MAX_QUEUED) call.pause();
        // Messages of one stream are handled strictly in order.
        pending = pending.then(async () => {
          if (broken) return;
          try {
            if (!conn) {
              if (msg.body !== 'hello' || !msg.hello) {
                call.emit('error', {
                  code: grpc.status.FAILED_PRECONDITION,
                  details: 'the first message on Connect must be a Hello',
                });
                return;
              }
              conn = await onHello(call, msg.hello);
              return;
            }
            await onMessage(conn, msg);
          } catch (err) {
            log.error({ err, agentId: conn?.agentId }, 'agent message handling failed');
            // A report that was not recorded (the database away, say) must not be lost, and what
            // followed it must not be recorded without it: the stream ends, the agent reconnects,
            // and a reconnect replays its journal and is sent its outstanding actions again.
            broken = true;
            call.emit('error', {
              code: grpc.status.UNAVAILABLE,
              details: 'the coordinator could not record a message of this stream; reconnect',
            });
          } finally {
            if (--queued < MAX_QUEUED && call.isPaused()) call.resume();
          }
        });
      });
      const closed = () => {
        void pending.then(async () => {
          if (!conn || connections.get(conn.agentId)?.call !== call) return;
          connections.delete(conn.agentId);
          touch({ id: conn.agentId, lastHeartbeatAt: conn.lastSeen, status: 'disconnected' });
          await flushTouches().catch(() => undefined);
          log.warn({ agentId: conn.agentId }, 'agent disconnected');
          agentLog(conn.agentId, 'agentLost', `${conn.agentId} disconnected`, 'warn');
          await events.onAgentLost(conn.agentId).catch(() => undefined);
        });
      };
      call.on('end', () => {
        call.end();
        closed();
      });
      call.on('error', closed);
      call.on('cancelled', closed);
    },

    async FetchArtifact(call: grpc.ServerWritableStream<{ sha256: string; agentId: string }, unknown>) {
      const { sha256 } = call.request;
      const agentId = call.request.agentId.slice(0, 128);
      if (!/^[a-f0-9]{64}$/.test(sha256)) {
        call.emit('error', {
          code: grpc.status.INVALID_ARGUMENT,
          details: 'sha256 must be 64 lowercase hex characters',
        });
        return;
      }
      if (opts.checkArtifact) {
        const peer = peerOf(call);
        const refusal = await opts.checkArtifact(peer, agentId, sha256).catch((err: unknown) => {
          log.error({ err }, 'artifact permission check failed');
          return 'the coordinator could not check this download: try again';
        });
        if (refusal) {
          log.warn(
            { agentId, certificate: peer?.commonName ?? null, sha256, why: refusal },
            'artifact refused',
          );
          call.emit('error', {
            code: grpc.status.PERMISSION_DENIED,
            details: `artifact refused: ${refusal}`,
          });
          return;
        }
      }
      const total = await opts.artifacts.size(sha256);
      if (total === null) {
        call.emit('error', {
          code: grpc.status.NOT_FOUND,
          details: `no artifact ${sha256} on the coordinator`,
        });
        return;
      }
      log.info({ agentId, sha256 }, 'artifact download');
      let offset = 0;
      const stream = opts.artifacts.open(sha256);
      stream.on('data', (chunk) => {
        const data = chunk as Buffer;
        const ok = call.write({ data, offset, totalSize: total, sha256 });
        offset += data.length;
        if (!ok) {
          stream.pause();
          call.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => call.end());
      stream.on('error', (err) => call.emit('error', { code: grpc.status.INTERNAL, details: err.message }));
      call.on('cancelled', () => stream.destroy());
    },
  };

  /** Acknowledges, per agent stream, every line received before the last flush. */
  async function ackLogs() {
    const due: [Connection, string, number][] = [];
    for (const conn of connections.values()) {
      for (const [streamId, seq] of conn.unacked) due.push([conn, streamId, seq]);
      conn.unacked.clear();
    }
    if (due.length === 0) return;
    try {
      await opts.logs.flush();
    } catch (err) {
      // Acknowledged at the next round that stores them (never before: an ack makes agents forget).
      for (const [conn, streamId, seq] of due)
        if (seq > (conn.unacked.get(streamId) ?? 0)) conn.unacked.set(streamId, seq);
      throw err;
    }
    for (const [conn, streamId, upToSeq] of due) conn.call.write({ logAck: { streamId, upToSeq } });
  }

  async function sweep() {
    const now = clock.now();
    for (const conn of connections.values()) {
      // A stream held back by its log quota or the full log buffer is not read: its silence is ours.
      if (conn.logState.held) conn.lastSeen = now;
      if (!conn.lost && now - conn.lastSeen > lostAfterMs) {
        conn.lost = true;
        touch({ id: conn.agentId, lastHeartbeatAt: conn.lastSeen, status: 'lost' });
        log.warn({ agentId: conn.agentId, silentMs: now - conn.lastSeen }, 'agent lost: no heartbeat');
        agentLog(
          conn.agentId,
          'agentLost',
          `${conn.agentId}: no heartbeat for ${Math.round((now - conn.lastSeen) / 1000)} s`,
          'warn',
        );
        await events.onAgentLost(conn.agentId);
      }
    }
    await flushTouches();
  }

  /**
   * Install ops of editions the operator chose agents fetch themselves carry its URL
   * (docs/adr/0039). Looked up when dispatched, never stored in the plan (the URL may carry a
   * signature); a step's fan-out asks the store once per edition, not once per server.
   */
  const fetchUrls = new Map<string, { at: number; url: Promise<string | null> }>();
  async function withFetchUrls(ops: DispatchAction['ops']): Promise<DispatchAction['ops']> {
    const now = clock.now();
    for (const [k, v] of fetchUrls) if (now - v.at > 10_000) fetchUrls.delete(k);
    return Promise.all(
      ops.map(async (op) => {
        if (op.op !== 'install') return op;
        const key = `${op.edition}\u0000${op.sha256}`;
        let hit = fetchUrls.get(key);
        if (!hit) {
          hit = { at: now, url: store.editionFetchUrl(op.edition, op.sha256) };
          fetchUrls.set(key, hit);
          hit.url.catch(() => fetchUrls.delete(key));
        }
        const url = await hit.url;
        return url ? { ...op, url } : op;
      }),
    );
  }

  function send(serverId: string, action: DispatchAction, ops: DispatchAction['ops']): boolean {
    const conn = connections.get(serverId);
    if (!conn || conn.lost) return false;
    conn.sent.delete(action.actionId);
    conn.sent.add(action.actionId);
    if (conn.sent.size > MAX_SENT_REMEMBERED) conn.sent.delete(conn.sent.values().next().value!);
    return (
      conn.call.write({
        runAction: {
          actionId: action.actionId,
          runId: action.runId,
          stepIndex: action.stepIndex,
          attempt: action.attempt,
          ops: ops.map(toWireOp),
        },
      }) || true
    );
  }

  const bus: AgentBus = {
    dispatch(serverId, action) {
      const conn = connections.get(serverId);
      if (!conn || conn.lost) return false;
      if (!action.ops.some((op) => op.op === 'install')) return send(serverId, action, action.ops);
      // Sent once the store answered; send() looks the agent up again (it may have gone meanwhile).
      return withFetchUrls(action.ops).then((ops) => send(serverId, action, ops));
    },
    cancel(serverId, actionId, reason) {
      connections.get(serverId)?.call.write({ cancelAction: { actionId, reason } });
    },
    setGate(serverId, open, reason) {
      const conn = connections.get(serverId);
      if (!conn || conn.lost) return false;
      conn.call.write({ setGate: { state: open ? 'GATE_STATE_OPEN' : 'GATE_STATE_CLOSED', reason } });
      return true;
    },
    isConnected(serverId) {
      const conn = connections.get(serverId);
      return conn !== undefined && !conn.lost;
    },
  };

  return {
    bus,
    /**
     * For unit tests, without a listening server: serve one Connect stream (a fake call) and run
     * one liveness sweep now (start() runs it on a timer).
     */
    testing: { connect: (call: Connection['call']) => handlers.Connect(call), sweep },
    connectedCount: () => connections.size,
    port: () => boundPort,
    async start(): Promise<number> {
      // Agents this coordinator held before it stopped (or crashed) are not connected to it now:
      // until each says Hello again it must not count as serving (the capacity floor reads this).
      const held = (await store.listServers()).filter(
        (s) => s.status === 'connected' && (coordinatorId ? s.coordinatorId === coordinatorId : true),
      );
      if (held.length > 0) {
        await store.touchServers(
          held.map((s) => ({
            id: s.id,
            lastHeartbeatAt: s.lastHeartbeatAt ?? clock.now(),
            status: 'lost' as const,
          })),
        );
        log.info({ agents: held.length }, 'agents held before the restart marked lost until they reconnect');
      }
      // The agent stream's LogBatches are decoded by hand (@rollgate/protocol's codecs); the rest by the library.
      const service = proto.rollgate.agent.v1.AgentService.service;
      server.addService(
        {
          ...service,
          Connect: {
            ...service.Connect,
            requestDeserialize: (b: Buffer) =>
              decodeLogBatchMessage(b) ?? service.Connect.requestDeserialize(b),
          },
        },
        handlers as grpc.UntypedServiceImplementation,
      );
      for (const extra of opts.extraServices ?? []) server.addService(extra.definition, extra.implementation);
      const address = `${opts.host ?? '127.0.0.1'}:${opts.port ?? 7401}`;
      return new Promise((resolve, reject) => {
        server.bindAsync(
          address,
          opts.credentials ?? grpc.ServerCredentials.createInsecure(),
          (err, port) => {
            if (err) {
              reject(new Error(`cannot listen for agents on ${address}: ${err.message}`));
              return;
            }
            boundPort = port;
            const loop = () => {
              if (stopped) return;
              sweepTimer = setTimeout(
                () => {
                  sweep()
                    .catch((e: unknown) => log.error({ err: e }, 'agent sweep failed'))
                    .finally(loop);
                },
                Math.min(1000, opts.touchFlushMs ?? 1000, heartbeatIntervalMs / 4),
              );
            };
            loop();
            const ackLoop = () => {
              if (stopped) return;
              ackTimer = setTimeout(() => {
                ackLogs()
                  .catch((e: unknown) => log.error({ err: e }, 'log acknowledgement failed'))
                  .finally(ackLoop);
              }, opts.logAckMs ?? 250);
            };
            ackLoop();
            resolve(port);
          },
        );
      });
    },
    async stop() {
      stopped = true;
      if (sweepTimer) clearTimeout(sweepTimer);
      if (ackTimer) clearTimeout(ackTimer);
      sweepTimer = undefined;
      for (const c of connections.values()) c.call.end();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      await flushTouches().catch(() => undefined);
    },
  };
}

export type AgentGateway = ReturnType<typeof createAgentGateway>;
