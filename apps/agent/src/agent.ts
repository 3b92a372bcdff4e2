import { randomBytes } from 'node:crypto';
// Composes the agent: journal, state, supervisor, editions, health, gate, executor, log shipping and
// the coordinator connection. main.ts only reads the config and calls createAgent().start().
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { MSG } from '@rollgate/domain';
import type { Logger } from '@rollgate/logger';
import { CAPABILITIES, type CoordinatorMessage__Output, type ProtoGrpcType } from '@rollgate/protocol';
import { agentCheckLine, createAgentCheckServer, type AgentCheckServer } from './rotation/agent-check';
import type { AgentConfig, ServiceConfig } from './config';
import { createConnection, type Connection } from './coordinator/connection';
import { createEditionStore } from './heavy/edition-store';
import { createExecutor, finishedToUpdate, type ActionReport, type Executor } from './actions/executor';
import { errorMessage, type SyncLater } from './lib/fs-util';
import {
  createGateServer,
  evaluateGate,
  type GateDecision,
  type GateServer,
  type ServiceHealthView,
} from './rotation/gate';
import { createHealthMonitor, serviceHealthTarget, type HealthMonitor } from './rotation/health-monitor';
import { createAgentMetrics, createMetricsServer } from './rotation/metrics';
import { createHeavyClient } from './heavy/heavy-client';
import { openJournal, type Journal } from './actions/journal';
import { createLogShipper, type LogShipper, type ShipLevel } from './coordinator/log-shipper';
import { configSecrets, createOpRunner } from './actions/ops';
import { createRedactor } from './actions/redact';
import { createServiceManagers } from './service-managers/create-service-manager';
import type { ServiceManager } from './service-managers/service-manager';
import { openStateStore, type GateWish, type StateStore } from './rotation/state-store';
import { createSupervisor, type Supervisor } from './processes/supervisor';
import { createConnectionCounter, createListenCheck } from './rotation/tcp-connections';
import { localAddresses, probeHostsFor } from './rotation/port-probe';
import { AGENT_VERSION } from './version';
import type { UrlFetchLimits } from './heavy/url-fetch';
import {
  fromWireArtifactChunks,
  fromWireGate,
  fromWireMessage,
  toWireGate,
  toWireInventory,
  toWireLogLines,
  toWireUpdate,
} from './coordinator/wire';

export interface AgentOptions {
  config: AgentConfig;
  log: Logger;
  /** Environment managed services inherit (the agent's own, from env.ts); default {}. */
  baseEnv?: Record<string, string>;
  /** gRPC channel credentials; default plaintext. TLS credentials go here when they land. */
  credentials?: grpc.ChannelCredentials;
  /** Loaded protocol; default: the bundle's embedded one, else loadAgentProtocol() (agent-service-client.ts). */
  protocol?: ProtoGrpcType;
  /** Reported in Hello; default os.hostname(). */
  hostname?: string;
  /** Health poll interval, ms; default 1000. */
  healthIntervalMs?: number;
  /** Finished results sent in Hello.journaled; default 200. */
  helloJournaled?: number;
  /** Bounds on an edition downloaded from its URL (env.ts, docs/adr/0039); default DEFAULT_URL_FETCH_LIMITS. */
  urlFetch?: UrlFetchLimits;
}

export interface Agent {
  /** agentCheckPort is set when gate.agentCheckPort is configured, metricsPort when metrics is. */
  start(): Promise<{ gatePort: number; agentCheckPort?: number; metricsPort?: number }>;
  /** Stops cleanly; the managed services keep running. */
  stop(): Promise<void>;
  status(): AgentStatus;
}

export interface AgentStatus {
  agentId: string;
  agentVersion: string;
  cluster: string;
  role: string;
  connected: boolean;
  connection: string;
  gateWish: GateWish;
  gate: GateDecision;
  /** What the HAProxy agent-check answers now (without the newline); null when it is off. */
  agentCheck: string | null;
  services: (ServiceHealthView & {
    pid: number | null;
    /** How it is run (docs/adr/0022), what its manager last said, restarts it made on its own. */
    manager: { kind: string; says: string | null; restarts: number };
    runningEdition: string | null;
    activeEdition: string | null;
    installedEditions: string[];
  })[];
  runningAction: { actionId: string; opIndex: number; op: string } | null;
  queuedActions: string[];
  pendingLogLines: number;
}

export function createAgent(opts: AgentOptions): Agent {
  const { config, log } = opts;
  const dataDir = config.dataDir;
  const baseEnv = opts.baseEnv ?? {};
  const countConnections = createConnectionCounter();
  // Unpacks, checksums, downloads and backups run in a child process (docs/adr/0016).
  const heavy = createHeavyClient(config.limits);
  const editions = createEditionStore({
    dataDir,
    unpack: (archive, dest) => heavy.run({ kind: 'unpack', archive, dest, limits: config.limits }),
  });
  const inventoryCache = new Map<string, { installed: string[]; active: string | null }>();
  const lastOutput = new Map<string, string>();
  const pendingUpdates = new Map<string, ActionReport>();
  // Database and test-account passwords never reach a log line, the wire or the journal.
  const redact = createRedactor(configSecrets(config, baseEnv));

  let journal: Journal | undefined;
  let state: StateStore | undefined;
  let supervisor: Supervisor | undefined;
  let managers: Map<string, ServiceManager> | undefined;
  let health: HealthMonitor | undefined;
  let gate: GateServer | undefined;
  let agentCheck: AgentCheckServer | undefined;
  let executor: Executor | undefined;
  let connection: Connection | undefined;
  let shipper: LogShipper | undefined;
  let lastReported = '';
  const metrics = createAgentMetrics({
    gateOpen: () => decide().open,
    gateWishOpen: () => (state?.get().gateWish ?? 'open') === 'open',
    connected: () => connection?.connected ?? false,
    services: () =>
      config.services.map((s) => ({ name: s.name, state: health?.get(s.name)?.state ?? 'unknown' })),
  });
  const metricsServer = config.metrics
    ? createMetricsServer({
        registry: metrics.registry,
        host: config.metrics.host,
        port: config.metrics.port,
      })
    : undefined;

  function ship(level: ShipLevel, code: string, rawMessage: string, actionId = '') {
    const message = redact(rawMessage);
    shipper?.push(level, code, message, actionId);
    // The same line in the agent's own log, so a server can be debugged without the coordinator.
    if (code !== MSG.serviceOutput.code) log[level]({ actionId: actionId || undefined, code }, message);
  }

  function decide(): GateDecision {
    return evaluateGate(state?.get().gateWish ?? 'open', health?.view() ?? []);
  }

  /** HealthReport whenever a service's health or the effective gate changes. */
  function maybeReport() {
    const d = decide();
    const key = JSON.stringify([d.open, state?.get().gateWish, health?.view().map((v) => v.state)]);
    if (key === lastReported) return;
    const wasOpen = lastReported === '' ? undefined : (JSON.parse(lastReported) as [boolean])[0];
    lastReported = key;
    if (wasOpen !== d.open)
      log.info({ open: d.open, reason: d.reason }, d.open ? 'gate open' : 'gate closed');
    connection?.sendHealthReport();
  }

  async function setGateWish(wish: GateWish, reason: string, later?: SyncLater) {
    if (!state) return;
    if (await state.setGateWish(wish, reason, later)) log.info({ wish, reason }, 'gate wish changed');
    maybeReport();
  }

  function sendUpdate(u: ActionReport) {
    if (connection?.send({ actionUpdate: toWireUpdate(u) })) {
      // What a finished action changed (editions, a second instance) reaches the coordinator now,
      // not at the next periodic report.
      if (u.status === 'SUCCEEDED' || u.status === 'FAILED' || u.status === 'CANCELLED')
        connection.sendHealthReport();
      return;
    }
    // Offline: keep the newest update per action and send them after the next Welcome.
    if (u.actionId) pendingUpdates.set(u.actionId, u);
  }

  async function refreshInventory(service: string) {
    inventoryCache.set(service, {
      installed: await editions.listInstalled(service),
      active: (await editions.activeEdition(service)) ?? null,
    });
  }

  async function inventory(): Promise<ReturnType<typeof toWireInventory>[]> {
    return Promise.all(
      config.services.map(async (s) => {
        await refreshInventory(s.name);
        const inv = inventoryCache.get(s.name);
        let activeConnections = 0;
        try {
          activeConnections = await countConnections(s.port);
        } catch {
          activeConnections = 0;
        }
        return toWireInventory({
          name: s.name,
          installedEditions: inv?.installed ?? [],
          activeEdition: inv?.active ?? null,
          health: health?.get(s.name)?.state ?? 'unknown',
          activeConnections,
          port: s.port,
          besidePort: s.beside?.port ?? 0,
          besideEdition: supervisor?.running(`${s.name}@beside`)?.edition ?? '',
          healthPath: serviceHealthTarget(s.healthUrl)?.path ?? '',
          healthPort: serviceHealthTarget(s.healthUrl)?.port ?? 0,
        });
      }),
    );
  }

  function onMessage(m: CoordinatorMessage__Output) {
    const c = fromWireMessage(m);
    switch (c.kind) {
      case 'runAction':
        void executor?.handleRunAction(c.request);
        return;
      case 'logAck':
        shipper?.ack(c.streamId, c.upToSeq);
        return;
      case 'cancelAction':
        executor?.cancel(c.actionId, c.reason);
        return;
      case 'setGate': {
        const reason = c.reason || 'SetGate from coordinator';
        if (c.wish === 'closed') ship('info', MSG.quiescing.code, `${MSG.quiescing.text} (${reason})`);
        void setGateWish(c.wish, reason).catch((err: unknown) =>
          log.error({ err: errorMessage(err) }, 'could not persist the gate wish'),
        );
        return;
      }
      case 'ignored':
        log.debug({ why: c.why }, 'coordinator message ignored');
    }
  }

  /** First start on a fresh server: install, activate, configure and start the base edition. */
  async function provision(s: ServiceConfig) {
    const initial = s.initialEdition;
    if (!initial) return;
    if ((await editions.listInstalled(s.name)).length > 0) return;
    ship(
      'info',
      MSG.synchronizing.code,
      `${MSG.synchronizing.text}: ${s.name} base edition ${initial.name} from ${initial.archive}`,
    );
    try {
      const { sha256, bytes: size } = await heavy.run({ kind: 'sha256', file: initial.archive });
      const { files } = await editions.installArchive(s.name, initial.name, initial.archive, sha256, size);
      await editions.activate(s.name, initial.name);
      await editions.configure(s.name, initial.name, s.configDir, { ...s.env });
      log.info(
        { service: s.name, edition: initial.name, sha256, files },
        'base edition installed and activated',
      );
      const manager = managers?.get(s.name);
      if (!manager || manager.running()) return;
      const dir = editions.editionDir(s.name, initial.name);
      ship('info', MSG.starting.code, `${MSG.starting.text} ${s.name} edition ${initial.name}`);
      const rec = await manager.start({ edition: initial.name, dir, env: { ...s.env } });
      log.info({ service: s.name, pid: rec?.pid }, 'base edition started');
      void health?.checkNow(s.name);
    } catch (err) {
      ship(
        'error',
        MSG.opFailed.code,
        `could not provision ${s.name} base edition ${initial.name} from ${initial.archive}: ${errorMessage(err)}; fix initialEdition in the agent config and restart the agent`,
      );
    }
  }

  const agent: Agent = {
    async start() {
      await mkdir(dataDir, { recursive: true });
      journal = await openJournal({
        path: join(dataDir, 'journal.jsonl'),
        onWarning: (msg, details) => log.warn(details, msg),
      });
      // Settled at open because the agent died mid-action: tell the coordinator after Welcome too.
      for (const r of journal.recovered) pendingUpdates.set(r.id, finishedToUpdate(r));
      state = await openStateStore({ dataDir, onWarning: (msg, details) => log.warn(details, msg) });
      log.info({ gateWish: state.get().gateWish }, 'gate wish loaded');

      shipper = createLogShipper({
        streamId: `${config.agentId}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
        send: (lines, streamId) =>
          connection?.send({ logs: { lines: toWireLogLines(lines), streamId } }) ?? false,
      });
      supervisor = createSupervisor({
        dataDir,
        baseEnv,
        log,
        onOutput: (service, line) => {
          const safe = redact(line);
          lastOutput.set(service, safe.slice(0, 300));
          shipper?.push(
            'info',
            MSG.serviceOutput.code,
            `${service}: ${safe}`,
            executor?.current()?.actionId ?? '',
          );
        },
        onExit: (service) => void health?.checkNow(service),
        // A second instance ("<name>@beside") runs with its service's settings.
        processOptions: (key) => config.services.find((s) => s.name === key.replace(/@beside$/, '')),
        // The `process` manager's crashes, restarts and crash loops (docs/adr/0023).
        onEvent: (e) => {
          const m =
            e.kind === 'restarted'
              ? MSG.serviceRestarted
              : e.kind === 'crash-loop'
                ? MSG.serviceCrashLoop
                : MSG.serviceCrashed;
          const level = e.kind === 'crash-loop' || e.kind === 'restart-failed' ? 'error' : 'warn';
          ship(level, m.code, `${m.text}: ${e.detail}`);
          void health?.checkNow(e.service);
        },
      });
      // Crash restarts belong to each manager: the agent reports them and never fights them.
      managers = createServiceManagers(config.services, {
        dataDir,
        supervisor,
        baseEnv,
        log,
        onRestart: (service, detail) => {
          ship('warn', MSG.serviceRestarted.code, `${MSG.serviceRestarted.text}: ${detail}`);
          void health?.checkNow(service);
        },
      });
      for (const s of config.services) {
        await managers.get(s.name)?.adopt();
        // A second instance left by a single-server rollout this agent was part of (stopBeside ends it).
        if (s.beside) await supervisor.adopt(`${s.name}@beside`);
      }

      health = createHealthMonitor({
        services: config.services,
        isRunning: async (name) => (await managers?.get(name)?.refresh()) ?? false,
        onChange: () => maybeReport(),
        intervalMs: opts.healthIntervalMs,
      });

      const sup = supervisor;
      const hm = health;
      const runOp = createOpRunner({
        dataDir,
        services: config.services,
        backupsDir: config.backupsDir,
        testAccounts: config.testAccounts,
        testCommands: config.testCommands,
        testHosts: config.testHosts,
        redact,
        baseEnv,
        editions,
        supervisor: sup,
        managers,
        health: hm,
        setGateWish,
        countConnections,
        // A connect probe of the one port, not a scan of the socket table (issue 18.3).
        isListening: createListenCheck({ hostsFor: probeHostsFor(config.services, localAddresses()) }),
        fetchArtifact: (sha256, signal) => {
          if (!connection) throw new Error('no coordinator connection');
          const chunks = fromWireArtifactChunks(connection.fetchArtifact(sha256, signal));
          return (async function* counted() {
            for await (const chunk of chunks) {
              metrics.bytesStaged(chunk.data.length);
              yield chunk;
            }
          })();
        },
        lastOutput: (service) => lastOutput.get(service),
        heavy,
        archiveLimits: config.limits,
        ...(opts.urlFetch ? { urlFetch: opts.urlFetch } : {}),
        onUrlBytes: (n) => metrics.bytesStaged(n),
      });
      executor = createExecutor({
        journal,
        runOp: async (op, ctx) => {
          const t0 = performance.now();
          let ok = false;
          try {
            const outcome = await runOp(op, ctx);
            ok = true;
            return outcome;
          } finally {
            metrics.opFinished(op.op, ok, (performance.now() - t0) / 1000);
            if ('service' in op) await refreshInventory(op.service).catch(() => {});
          }
        },
        sendUpdate,
        ship,
        log,
      });

      gate = createGateServer({
        host: config.gate.host,
        port: config.gate.port,
        decide,
        status: () => agent.status(),
        log,
      });
      const { port: gatePort } = await gate.start();

      for (const s of config.services) await refreshInventory(s.name);
      for (const s of config.services) await provision(s);
      await hm.checkNow();
      hm.start();

      // The agent-check carries the coordinator's wish only (docs/adr/0017); until it listens,
      // HAProxy keeps the last answer it read, so a restarting agent changes nothing.
      let agentCheckPort: number | undefined;
      if (config.gate.agentCheckPort !== undefined) {
        agentCheck = createAgentCheckServer({
          host: config.gate.host,
          port: config.gate.agentCheckPort,
          line: () => agentCheckLine(state?.get().gateWish ?? 'open'),
          log,
        });
        agentCheckPort = (await agentCheck.start()).port;
      }

      const gateHost =
        config.gate.host === '0.0.0.0' || config.gate.host === '::'
          ? (opts.hostname ?? osHostname())
          : config.gate.host;
      connection = createConnection({
        address: config.coordinator.address,
        addresses: config.coordinator.addresses,
        credentials: opts.credentials,
        protocol: opts.protocol,
        agentId: config.agentId,
        log,
        hello: async () => ({
          agentId: config.agentId,
          agentVersion: AGENT_VERSION,
          capabilities: Object.values(CAPABILITIES),
          hostname: opts.hostname ?? osHostname(),
          cluster: config.cluster,
          role: config.role,
          services: await inventory(),
          gateUrl: `http://${gateHost.includes(':') ? `[${gateHost}]` : gateHost}:${gatePort}/gate`,
          agentCheckPort: agentCheckPort ?? 0,
          gate: toWireGate(state?.get().gateWish ?? 'open'),
          journaled: (journal?.recentFinished(opts.helloJournaled ?? 200) ?? []).map((f) =>
            toWireUpdate(finishedToUpdate(f)),
          ),
        }),
        heartbeat: () => ({
          sentAtMs: Date.now(),
          gate: toWireGate(state?.get().gateWish ?? 'open'),
          runningActionIds: executor?.activeIds() ?? [],
        }),
        healthReport: async () => ({
          services: await inventory(),
          gate: toWireGate(state?.get().gateWish ?? 'open'),
          gateOpen: decide().open,
        }),
        onWelcome: async (w) => {
          metrics.welcomed();
          const wish = fromWireGate(w.gateWish);
          if (wish) await setGateWish(wish, 'Welcome from coordinator');
          // Results that finished while we were away (the journal answers resent RunActions too).
          for (const [id, u] of [...pendingUpdates]) {
            if (!connection?.send({ actionUpdate: toWireUpdate(u) })) break;
            pendingUpdates.delete(id);
          }
          shipper?.resendUnacknowledged();
          shipper?.flush();
          connection?.sendHealthReport();
        },
        onMessage,
      });
      connection.start();
      const metricsPort = metricsServer ? (await metricsServer.start()).port : undefined;
      log.info(
        {
          version: AGENT_VERSION,
          coordinator: config.coordinator.addresses.join(', '),
          gatePort,
          agentCheckPort,
          metricsPort,
          dataDir,
        },
        'agent started',
      );
      return {
        gatePort,
        ...(agentCheckPort === undefined ? {} : { agentCheckPort }),
        ...(metricsPort === undefined ? {} : { metricsPort }),
      };
    },

    async stop() {
      log.info({}, 'agent stopping; managed services keep running');
      // Let the running action reach an op boundary and journal its result before we go.
      await executor?.shutdown('the agent is shutting down');
      shipper?.flush();
      health?.stop();
      await connection?.stop();
      shipper?.stop();
      await agentCheck?.stop();
      await metricsServer?.stop();
      await gate?.stop();
      supervisor?.close();
      for (const m of managers?.values() ?? []) m.close();
      await journal?.close();
      log.info({}, 'agent stopped');
    },

    status() {
      const d = decide();
      return {
        agentId: config.agentId,
        agentVersion: AGENT_VERSION,
        cluster: config.cluster,
        role: config.role,
        connected: connection?.connected ?? false,
        connection: connection?.state ?? 'idle',
        gateWish: state?.get().gateWish ?? 'open',
        gate: d,
        agentCheck:
          config.gate.agentCheckPort === undefined
            ? null
            : agentCheckLine(state?.get().gateWish ?? 'open').trim(),
        services: config.services.map((s) => {
          const v = health?.get(s.name) ?? { name: s.name, state: 'unknown' as const, detail: '' };
          const m = managers?.get(s.name);
          const rec = m?.running();
          const inv = inventoryCache.get(s.name);
          return {
            ...v,
            pid: rec?.pid ?? null,
            manager: { kind: s.manager, says: m?.lastStatus()?.detail ?? null, restarts: m?.restarts() ?? 0 },
            runningEdition: rec?.edition ?? null,
            activeEdition: inv?.active ?? null,
            installedEditions: inv?.installed ?? [],
          };
        }),
        runningAction: executor?.current() ?? null,
        queuedActions: executor?.activeIds().filter((id) => id !== executor?.current()?.actionId) ?? [],
        pendingLogLines: shipper?.pending ?? 0,
      };
    },
  };
  return agent;
}
