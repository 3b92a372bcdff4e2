import {
  checkSchedule,
  compileMajorUpgrade,
  compileMinorUpgrade,
  lbConfigOf,
  planPools,
  poolServerName,
  resolveLbTargets,
  runtimeAddress,
  targetsOf,
  learnWindow,
  noticeText,
  type Edition,
  type GateRecord,
  type LbConfig,
  type Plan,
  type StepKind,
  type Phase,
} from '@rollgate/domain';
import { renderHaproxyBackend, renderRoutingFrontend, routingMapFiles } from '@rollgate/lb';
import {
  ApiError,
  createQueries,
  MAX_EDITION_BYTES,
  type ApiServices,
  type EvidenceView,
  type LbView,
  type PlanPreview,
  type UpgradeInput,
} from '@rollgate/api';
import {
  StoreConflictError,
  type AuditEvent,
  type Clock,
  type Engine,
  type EditionRecord,
  type EngineStore,
  type RunRecord,
} from '@rollgate/engine';
import { IdentityError, type AgentIdentity } from './agent-identity';
import type { AuthService } from './auth-service';
import { createEditionVerbs } from './edition-verbs';
import { PoolsConfigError, renderPoolsConfig, usesPools } from './haproxy-pools-config';
import { createRoutingService } from './routing-service';
import { auditedTokens, isServiceToken, type ServiceTokens } from './service-tokens';
import { assertMayWaive } from './waive-rule';
import { blockingGates, previewReadiness } from './readiness-check';
import type { ArtifactStore } from './artifact-store';
import { checkFetchUrl, redactUrl } from './artifact-fetch';
import { ArtifactRefused } from './artifact-upload';
import type { LbAdapter } from './lb-adapter';
import { readLbTraffic } from './lb-traffic';

export interface CoordinatorServicesOptions {
  version: string;
  /** Accounts, sessions and portal links. */
  auth: AuthService;
  store: EngineStore;
  engine: Engine;
  artifacts: ArtifactStore;
  clock: Clock;
  lb: LbAdapter;
  /** Join tokens and revocation (docs/adr/0013); absent when agents connect insecurely. */
  agents?: AgentIdentity;
  /** Service tokens for CI (docs/adr/0031); without them an `rgt_` token opens nothing. */
  tokens?: ServiceTokens;
}

/** The identity service with its refusals as API errors. */
function agentServices(identity: AgentIdentity): NonNullable<ApiServices['agents']> {
  return {
    async createJoinToken(input, actor, from) {
      try {
        return await identity.createJoinToken(input, actor, from);
      } catch (err) {
        if (err instanceof IdentityError) throw new ApiError('BAD_REQUEST', err.message);
        throw err;
      }
    },
    revoke: (serverId, actor, from) => identity.revoke(serverId, actor, from),
    transports: (serverIds) => identity.transports(serverIds),
  };
}

/** host of a gate URL such as http://10.0.0.5:7070/gate, and its port. */
function gateAddress(gateUrl: string): { host: string; port: number } | null {
  try {
    const u = new URL(gateUrl);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
  } catch {
    return null;
  }
}

/** The auth service as the API sees it; its AuthErrors are ApiErrors already. */
function authServices(auth: AuthService, tokens?: ServiceTokens): ApiServices['auth'] {
  return {
    bootstrap: auth.bootstrap,
    login: auth.login,
    logout: auth.logout,
    // A service token (`rgt_…`) is not a session: its own table, role and scope.
    authenticate: (token) =>
      isServiceToken(token)
        ? (tokens?.authenticate(token) ?? Promise.resolve(null))
        : auth.authenticate(token),
    createUser: auth.createUser,
    listUsers: auth.listUsers,
    setRole: auth.setRole,
    disable: auth.disable,
    createPortalToken: auth.createPortalToken,
    resolvePortal: auth.resolvePortal,
    portalRefusal: auth.portalRefusal,
    listPortalLinks: auth.listPortalLinks,
    revokePortalLink: auth.revokePortalLink,
  };
}

/** The coordinator's implementation of the API's services. */
export function createCoordinatorServices(opts: CoordinatorServicesOptions): ApiServices {
  const { store, engine } = opts;
  const routing = createRoutingService({ store, clock: opts.clock });

  /** Step durations of the cluster's last successful runs, for the learned window. */
  async function durationSamples(cluster: string) {
    const past = (await store.listRuns({ statuses: ['succeeded'], limit: 50 }))
      .filter((r) => r.plan.cluster === cluster && r.plan.procedure !== 'rollback')
      .slice(0, 10);
    const samples: { kind: StepKind; phase: Phase; servers: number; durationMs: number }[] = [];
    for (const r of past) {
      for (const st of await store.getSteps(r.id)) {
        const ps = r.plan.steps[st.index];
        if (!ps || st.status !== 'succeeded' || st.startedAt === null || st.finishedAt === null) continue;
        if (ps.kind === 'sign-off') continue; // waiting for a person says nothing about the next run
        samples.push({
          kind: ps.kind,
          phase: ps.phase,
          servers: ps.servers.length,
          durationMs: st.finishedAt - st.startedAt,
        });
      }
    }
    return { samples, runs: past.length };
  }

  /** What the servers run now: the edition every server reports active, if they agree. */
  function activeEdition(
    servers: { services: { name: string; activeEdition: string }[] }[],
    app: string,
  ): string | undefined {
    const names = new Set(servers.map((s) => s.services.find((x) => x.name === app)?.activeEdition ?? ''));
    const [only] = [...names];
    return names.size === 1 && only ? only : undefined;
  }

  async function compile(input: UpgradeInput, backupLabel: string) {
    const edition = await store.getEdition(input.app, input.edition);
    if (!edition) {
      const known = (await store.listEditions(input.app)).map((e) => e.name);
      throw new ApiError(
        'NOT_FOUND',
        `Edition "${input.edition}" of ${input.app} has not been uploaded${known.length ? ` (uploaded: ${known.join(', ')})` : ''}. Upload it with \`rollgate edition upload --app ${input.app} --name ${input.edition} --file <archive>\`.`,
      );
    }
    const servers = await store.listServers({ cluster: input.cluster });
    if (servers.length === 0) {
      throw new ApiError(
        'NOT_FOUND',
        `No server has registered in cluster "${input.cluster}". Start the agents (their config names the cluster) and check \`rollgate servers\`.`,
      );
    }
    const notServing = servers.filter((s) => !s.services.some((svc) => svc.name === input.app));
    if (notServing.length > 0) {
      throw new ApiError(
        'PRECONDITION_FAILED',
        `Servers ${notServing.map((s) => s.id).join(', ')} in cluster "${input.cluster}" do not manage "${input.app}". Add the service to their agent config, or upgrade a cluster whose servers all run it.`,
      );
    }
    const fromName = input.fromEdition ?? activeEdition(servers, input.app);
    let fromEdition: Edition | undefined;
    if (fromName) {
      fromEdition = (await store.getEdition(input.app, fromName)) ?? undefined;
      if (!fromEdition && input.fromEdition) {
        throw new ApiError(
          'NOT_FOUND',
          `The previous edition "${input.fromEdition}" of ${input.app} is not in the edition store; a rollback would have nothing to reinstall. Upload it first.`,
        );
      }
    }
    const settings = await store.getClusterSettings(input.cluster);
    const prep = settings.preparation ?? {};
    const major = input.procedure === 'major';
    const snapshots =
      prep.snapshots === 'all'
        ? servers.map((s) => s.id)
        : (prep.snapshots ?? []).filter((id) => servers.some((s) => s.id === id));
    // Each load-balancer pool keeps a server in rotation while a group is out (docs/adr/0026).
    const storedLb = await store.getClusterLb(input.cluster);
    const pools = planPools(storedLb, servers);
    const common = {
      cluster: input.cluster,
      service: input.app,
      servers: servers.map((s) => ({ id: s.id, cluster: s.cluster, role: s.role, hostname: s.hostname })),
      ...(pools.length > 0 ? { pools } : {}),
      toEdition: edition,
      ...(fromEdition ? { fromEdition } : {}),
      // The run's own interval, else the cluster's, else 30 s (the seed's edition manager default).
      drainMs: (input.drainageIntervalSec ?? storedLb?.drainageIntervalSec ?? 30) * 1000,
      healthTimeoutMs: input.healthTimeoutSec * 1000,
      signOff: input.signOff,
      probe: { path: input.probePath, expectStatus: 200, expectBodyContains: '' },
      ...(settings.minutesPerServer ? { minutesPerServer: settings.minutesPerServer } : {}),
      ...(settings.designatedServer ? { designatedServer: settings.designatedServer } : {}),
      ...(settings.tests ? { tests: settings.tests } : {}),
      preparation: {
        fileBackup: prep.fileBackup ?? major,
        snapshots,
        databaseBackup: major || (prep.databaseBackup ?? false),
        ...(prep.repositoryCheck ? { repositoryCheck: prep.repositoryCheck } : {}),
        backupLabel,
      },
    };
    const compiled = major ? compileMajorUpgrade(common) : compileMinorUpgrade(common);
    const { samples, runs } = await durationSamples(input.cluster);
    const learned = learnWindow(compiled, samples, runs);
    const plan: Plan = learned ? { ...compiled, window: { ...compiled.window, learned } } : compiled;
    return { plan, servers, settings };
  }

  /** Backup labels name the run's archives on the servers; the time makes them unique and sortable. */
  function newBackupLabel(): string {
    const d = new Date(opts.clock.now());
    const p = (n: number) => String(n).padStart(2, '0');
    return `rg-${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  }

  async function preview(input: UpgradeInput, actor: string, backupLabel: string) {
    const { plan, servers, settings } = await compile(input, backupLabel);
    const testMachine = settings.tests ? await store.getServer(settings.tests.testMachine) : null;
    const now = opts.clock.now();
    const { preview: readiness, records } = previewReadiness({
      plan,
      settings,
      servers,
      testMachine,
      coordinatorVersion: opts.version,
      contacts: input.contacts,
      waive: input.waive,
      actor,
      now,
    });
    let schedule: PlanPreview['schedule'] = null;
    let scheduleProblems: { code: string; message: string; hint: string }[] = [];
    if (input.at) {
      const startAt = Date.parse(input.at);
      const window = plan.window.learned?.atRiskMinutes ?? plan.window.atRiskMinutes;
      const check = checkSchedule(startAt, window * 60_000, settings.schedule ?? {}, now);
      schedule = { startAt, insideBusinessHours: check.insideBusinessHours };
      scheduleProblems = check.problems;
    }
    return { plan, readiness, records, schedule, scheduleProblems };
  }

  async function mustRun(runId: string): Promise<RunRecord> {
    const run = await store.getRun(runId);
    if (!run) throw new ApiError('NOT_FOUND', `No run "${runId}". List runs with \`rollgate upgrade list\`.`);
    return run;
  }

  const agents = opts.agents;
  const queries = createQueries({
    store,
    ...(agents ? { transports: (ids: readonly string[]) => agents.transports(ids) } : {}),
  });
  const audit = (event: Omit<AuditEvent, 'at'>) => store.appendAudit({ at: opts.clock.now(), ...event });

  return {
    version: opts.version,
    queries,
    auth: authServices(opts.auth, opts.tokens),
    ...(opts.agents ? { agents: agentServices(opts.agents) } : {}),
    ...(opts.tokens ? { tokens: auditedTokens(opts.tokens, audit) } : {}),
    runs: {
      async plan(input) {
        const p = await preview(input, 'preview', newBackupLabel());
        return { ...p.plan, readiness: p.readiness, schedule: p.schedule };
      },
      async start(input, actor, user) {
        assertMayWaive(user, input.waive);
        const backupLabel = newBackupLabel();
        const p = await preview(input, actor, backupLabel);
        const active = await store.listRuns({
          statuses: ['pending', 'running', 'paused', 'waiting-approval'],
        });
        const clash = active.find((r) => r.plan.cluster === input.cluster);
        if (clash) {
          throw new ApiError(
            'CONFLICT',
            `Run ${clash.id} is still ${clash.status} on cluster "${input.cluster}". Finish it, or abort it with \`rollgate upgrade abort ${clash.id}\`, before starting another.`,
          );
        }
        const blocking = [...blockingGates(p.readiness), ...p.scheduleProblems];
        if (blocking.length > 0) {
          // Nothing is written: the refusal names each gate and how to meet it.
          throw new ApiError(
            'PRECONDITION_FAILED',
            `The run cannot start:\n${blocking.map((b) => `- ${b.message} ${b.hint}`).join('\n')}`,
            blocking,
          );
        }
        const startAt = p.schedule?.startAt ?? opts.clock.now();
        const windowMinutes =
          input.windowMinutes ?? p.plan.window.learned?.atRiskMinutes ?? p.plan.window.atRiskMinutes;
        const usesBackups = p.plan.steps.some(
          (s) => s.kind === 'prepare' && s.gate !== 'installation-files' && s.gate !== 'repository',
        );
        return engine.createRun(p.plan, actor, {
          scheduledAt: p.schedule?.startAt ?? null,
          readiness: p.records,
          options: {
            onFailure: input.onFailure,
            windowEndsAt: startAt + windowMinutes * 60_000,
            backupLabel: usesBackups ? backupLabel : null,
          },
        });
      },
      pause: (runId, actor, reason) => engine.pause(runId, actor, reason),
      resume: (runId, actor) => engine.resume(runId, actor),
      abort: (runId, actor, reason) => engine.abort(runId, actor, reason),
      signOff: (runId, decision, comment, actor) => engine.signOff(runId, decision, comment, actor),
      skipDrain: (runId, serverId, actor) => engine.skipDrain(runId, serverId, actor),
      skipServer: (runId, serverId, actor) => engine.skipServer(runId, serverId, actor),
      exclude: (runId, serverId, actor) => engine.exclude(runId, serverId, actor),
      rollbackOptions: (runId) => engine.rollbackOptions(runId),
      rollback: (runId, actor, method, reason) => engine.rollback(runId, actor, method, reason),
      decideRollback: (runId, decision, comment, actor) =>
        engine.decideRollback(runId, decision, comment, actor),
      async waive(runId, gate, reason, actor) {
        const run = await mustRun(runId);
        const prior = run.readiness.find((g) => g.gate === gate);
        const record: GateRecord = {
          gate,
          required: prior?.required ?? false,
          status: 'waived',
          evidence: prior?.evidence ?? null,
          by: actor,
          at: opts.clock.now(),
          reason,
        };
        return engine.recordGate(runId, record, actor);
      },
      async createPortalLink(input, actor) {
        const run = await queries.requireRun(input.runId);
        const link = await opts.auth.createPortalToken(
          run.id,
          input.recipient,
          input.ttlHours * 3600_000,
          actor,
        );
        // The id (not the token) is what the audit log and a later revocation name.
        await audit({
          actor,
          action: 'run.portal-link',
          target: run.id,
          details: {
            recipient: input.recipient,
            expiresAt: new Date(link.expiresAt).toISOString(),
            linkId: link.id,
          },
        });
        return link;
      },
      async portalLinks(runId) {
        return opts.auth.listPortalLinks((await queries.requireRun(runId)).id);
      },
      async revokePortalLink(input, actor) {
        const run = await queries.requireRun(input.runId);
        const { link, changed } = await opts.auth.revokePortalLink(run.id, input.linkId);
        if (changed) {
          await audit({
            actor,
            action: 'run.portal-link.revoke',
            target: run.id,
            details: { linkId: link.id, recipient: link.recipient },
          });
        }
        return link;
      },
      async openPortal(token) {
        const opened = await opts.auth.resolvePortal(token);
        const run = opened ? await store.getRun(opened.runId) : null;
        if (!opened || !run) {
          const why = opened ? null : await opts.auth.portalRefusal(token);
          throw new ApiError(
            'UNAUTHORIZED',
            why === 'revoked'
              ? 'This portal link was withdrawn by your service provider; ask your contact for a new one.'
              : 'This portal link is not valid or has expired; ask your contact for a new one.',
          );
        }
        return { run, recipient: opened.recipient };
      },
      async notice(runId, timeZone) {
        const run = await mustRun(runId);
        const settings = await store.getClusterSettings(run.plan.cluster);
        const zone = timeZone ?? settings.schedule?.timeZone ?? 'UTC';
        try {
          return noticeText(run.plan, {
            startAt: run.scheduledAt ?? run.startedAt ?? run.createdAt,
            timeZone: zone,
          });
        } catch (err) {
          throw new ApiError(
            'BAD_REQUEST',
            `Cannot write the notice in time zone "${zone}": ${(err as Error).message}`,
          );
        }
      },
      async evidence(runId): Promise<EvidenceView> {
        const run = await mustRun(runId);
        const actions = await store.getActions(runId);
        return {
          runId,
          readiness: run.readiness,
          steps: run.plan.steps
            .map((ps) => ({
              index: ps.index,
              key: ps.key,
              title: ps.title,
              results: actions
                .filter((a) => a.stepIndex === ps.index && a.result !== null)
                .map((a) => ({
                  actionId: a.id,
                  serverId: a.serverId,
                  status: a.status,
                  finishedAt: a.finishedAt,
                  result: a.result!,
                })),
            }))
            .filter((s) => s.results.length > 0),
        };
      },
    },
    clusters: {
      getSettings: (cluster) => store.getClusterSettings(cluster),
      async setSettings(cluster, settings, actor) {
        if (settings.tests && !(await store.getServer(settings.tests.testMachine))) {
          throw new ApiError(
            'PRECONDITION_FAILED',
            `The test machine "${settings.tests.testMachine}" has never connected. Start its agent (any cluster) first, then configure the tests. Nothing was saved.`,
          );
        }
        // Routing rules are set on their own (lb routes set): configuring the rest keeps them.
        const routes = (await store.getClusterSettings(cluster)).routing;
        await store.setClusterSettings(cluster, {
          ...settings,
          ...(routes && !settings.routing ? { routing: routes } : {}),
        });
        await store.appendAudit({
          at: opts.clock.now(),
          actor,
          action: 'cluster.configure',
          target: cluster,
          details: { ...settings },
        });
        return settings;
      },
    },
    lb: {
      async configure(cluster, config, actor) {
        let checkedAgainst: string[];
        try {
          checkedAgainst = await opts.lb.verify(config, cluster);
        } catch (err) {
          throw new ApiError('PRECONDITION_FAILED', `${(err as Error).message} Nothing was saved.`);
        }
        await store.setClusterLb(cluster, config);
        opts.lb.forget(cluster);
        await store.appendAudit({
          at: opts.clock.now(),
          actor,
          action: 'lb.configure',
          target: cluster,
          details: { ...config, checkedAgainst },
        });
        return { ...config, checkedAgainst };
      },
      async clear(cluster, actor) {
        await store.setClusterLb(cluster, null);
        opts.lb.forget(cluster);
        await store.appendAudit({
          at: opts.clock.now(),
          actor,
          action: 'lb.clear',
          target: cluster,
          details: {},
        });
      },
      async show(cluster) {
        const stored = await store.getClusterLb(cluster);
        const config = stored ? lbConfigOf(stored) : null;
        const servers = await store.listServers({ cluster });
        const resolution = config
          ? resolveLbTargets(
              config,
              servers.map((s) => ({ id: s.id, role: s.role, services: s.services.map((x) => x.name) })),
            )
          : null;
        const live =
          config?.mode === 'haproxy-runtime' ? await opts.lb.liveStats(config, cluster) : new Map();
        const recorded = config ? await opts.lb.ledgerViews(cluster) : [];
        const lastSetOf = (serverId: string, pool: string) =>
          recorded
            .filter((v) => v.serverId === serverId && v.pool === pool)
            .map((v) => ({ balancer: v.balancer, state: v.state, setAt: v.setAt }));
        const balancers = (config?.balancers ?? []).map((b) => ({
          name: b.name,
          address: runtimeAddress(b.runtime),
          error: live.get(b.name)?.error ?? null,
        }));
        const errors = balancers.filter((b) => b.error !== null).map((b) => `${b.name}: ${b.error}`);
        return {
          cluster,
          config,
          error: errors.length > 0 ? errors.join('; ') : null,
          balancers,
          problems: resolution?.problems ?? [],
          servers: servers.flatMap((s): LbView['servers'] => {
            const targets = config && resolution ? targetsOf(config, resolution, s.id) : [];
            if (targets.length === 0)
              return [
                { serverId: s.id, pool: null, haproxyServer: s.id, status: null, views: [], lastSet: [] },
              ];
            return targets.map((t) => {
              const views = [...live].flatMap(([balancer, v]) => {
                const st = v.stats?.get(t.backend)?.get(t.server);
                return st
                  ? [
                      {
                        balancer,
                        up: st.status === 'UP' && st.adminState === 'ready',
                        sessions: st.scur,
                        totalSessions: st.stot,
                        state: st.statusText,
                      },
                    ]
                  : [];
              });
              const all = views.length === balancers.length && views.length > 0;
              return {
                serverId: s.id,
                pool: t.pool,
                haproxyServer: `${t.backend}/${t.server}`,
                status: all
                  ? {
                      up: views.every((v) => v.up),
                      sessions: views.reduce((n, v) => n + v.sessions, 0),
                      totalSessions: views.reduce((n, v) => n + v.totalSessions, 0),
                      state: views
                        .map((v) => (balancers.length > 1 ? `${v.balancer} ${v.state}` : v.state))
                        .join(', '),
                    }
                  : null,
                views,
                lastSet: lastSetOf(s.id, t.pool),
              };
            });
          }),
        };
      },
      async traffic(cluster) {
        return readLbTraffic(
          cluster,
          await store.getClusterLb(cluster),
          await store.listServers({ cluster }),
          opts.clock.now(),
        );
      },
      async haproxyConfig(input) {
        const stored = await store.getClusterLb(input.cluster);
        const config: LbConfig | null = stored ? lbConfigOf(stored) : null;
        const firstPool = config?.pools[0];
        const servers = await store.listServers({ cluster: input.cluster });
        if (servers.length === 0) {
          throw new ApiError(
            'NOT_FOUND',
            `No server has registered in cluster "${input.cluster}"; start its agents first.`,
          );
        }
        // Several pools or balancers: a frontend and a backend per pool (docs/adr/0027).
        if (config && usesPools(config, input.balancer)) {
          // --routing: each pool's frontend consults its own maps (docs/adr/0029).
          const routes = input.routing ? await routing.get(input.cluster) : undefined;
          const headers = [
            ...new Set([...Object.keys(routes?.files.headers ?? {}), ...input.routingHeaders]),
          ];
          const routingFiles = routes
            ? Object.fromEntries(
                config.pools.map((p) => [
                  p.name,
                  routingMapFiles(input.cluster, headers.sort(), input.mapDir ?? routes.mapDir, p.name),
                ]),
              )
            : undefined;
          try {
            return renderPoolsConfig(input, config, servers, routingFiles);
          } catch (err) {
            if (err instanceof PoolsConfigError) throw new ApiError('PRECONDITION_FAILED', err.message);
            throw err;
          }
        }
        const rows = servers.map((s) => {
          const gate = gateAddress(s.gateUrl);
          const port = s.services.find((svc) => svc.port)?.port;
          const besidePort = s.services.find((svc) => svc.besidePort)?.besidePort;
          if (!gate || !port) {
            throw new ApiError(
              'PRECONDITION_FAILED',
              `Agent ${s.id} has not reported its gate address and service port (gate URL "${s.gateUrl}"); upgrade the agent.`,
            );
          }
          // The service HAProxy sends traffic to is also the one it checks (health mode service).
          const svc = s.services.find((x) => x.port === port);
          return {
            name: firstPool ? poolServerName(firstPool, s.id) : s.id,
            address: gate.host,
            servicePort: port,
            gatePort: gate.port,
            ...(s.agentCheckPort ? { agentCheckPort: s.agentCheckPort } : {}),
            ...(besidePort ? { besidePort } : {}),
            ...(svc?.healthPath ? { healthPath: svc.healthPath } : {}),
            ...(svc?.healthPort ? { healthPort: svc.healthPort } : {}),
          };
        });
        // Service health without an agent-check: only the runtime API can drain, and a cluster
        // configured gate-only has none; the engine would wait for a drain that never comes.
        const noAgent = rows.filter((r) => r.agentCheckPort === undefined).map((r) => r.name);
        if (input.health === 'service' && config?.mode === 'gate-only' && noAgent.length > 0) {
          throw new ApiError(
            'PRECONDITION_FAILED',
            `Cluster "${input.cluster}" reaches its load balancer gate-only, and ${noAgent.join(', ')} has no agent-check: with --health service nothing would tell HAProxy to drain it. Set gate.agentCheckPort in its agent config, configure the runtime API (rollgate lb configure --socket <path>), or print the gate-checked configuration with --health gate.`,
          );
        }
        const backend = input.backend ?? firstPool?.backend ?? input.cluster;
        const render = (o: Parameters<typeof renderHaproxyBackend>[0]): string => {
          try {
            return renderHaproxyBackend(o);
          } catch (err) {
            // What the fleet reported cannot make one backend (e.g. two health paths): say so.
            const msg = (err as Error).message.replace(/^renderHaproxyBackend: /, '');
            throw new ApiError('PRECONDITION_FAILED', `${msg.charAt(0).toUpperCase()}${msg.slice(1)}.`);
          }
        };
        const rendered = render({
          health: input.health,
          cluster: input.cluster,
          backend,
          bind: input.bind,
          runtimeSocketPath: input.socketPath,
          servers: rows,
          checkIntervalMs: input.checkIntervalMs ?? config?.checkIntervalMs ?? 1000,
          fall: config?.fall ?? 2,
          rise: config?.rise ?? 2,
          ...(input.slowstartMs !== undefined ? { slowstartMs: input.slowstartMs } : {}),
          ...(config?.agentInterMs !== undefined ? { agentInterMs: config.agentInterMs } : {}),
        });
        if (!input.routing) return rendered;
        // The plain frontend gives way to one that consults the routing maps first.
        const routes = await routing.get(input.cluster);
        const headers = [...Object.keys(routes.files.headers), ...input.routingHeaders];
        const frontend = renderRoutingFrontend({
          cluster: input.cluster,
          name: `fe_${input.cluster}`,
          bind: input.bind,
          defaultBackend: backend,
          files: routingMapFiles(input.cluster, [...new Set(headers)].sort(), input.mapDir ?? routes.mapDir),
        });
        return rendered.replace(/^frontend [^\n]*\n(?: {4}[^\n]*\n)*/m, frontend);
      },
      routes: (cluster) => routing.get(cluster),
      setRoutes: (cluster, rules, mapDir, actor, from) => routing.set(cluster, rules, mapDir, actor, from),
    },
    editions: {
      ...createEditionVerbs({ store, engine, routing }),
      checkUpload: (input) => refuseTaken(input.app, input.name),
      async upload(input, actor) {
        const content = Buffer.from(input.contentBase64, 'base64');
        if (content.length === 0)
          throw new ApiError('BAD_REQUEST', 'The archive is empty or not valid base64.');
        if (content.length > MAX_EDITION_BYTES) {
          throw new ApiError(
            'BAD_REQUEST',
            `The archive is ${content.length} bytes; at most ${MAX_EDITION_BYTES} are accepted.`,
          );
        }
        if (!(content[0] === 0x1f && content[1] === 0x8b)) {
          throw new ApiError(
            'BAD_REQUEST',
            'The archive is not gzip-compressed; upload a .tar.gz (tgz) file.',
          );
        }
        const existing = await store.getEdition(input.app, input.name);
        if (existing) {
          throw new ApiError(
            'CONFLICT',
            `Edition "${input.name}" of ${input.app} already exists (sha256 ${existing.sha256.slice(0, 12)}…). Editions are never overwritten: upload it under a new name such as "${input.name}_2".`,
          );
        }
        const { sha256, size } = await opts.artifacts.put(content);
        return recordEdition(input, sha256, size, actor);
      },
      async addStream(input, body, actor) {
        const { sha256, size } = await storeOrRefuse(() =>
          opts.artifacts.putStream(body, { sha256: input.sha256, size: input.size }),
        );
        return recordEdition(input, sha256, size, actor, { streamed: true });
      },
      async addFromUrl(input, actor) {
        await refuseTaken(input.app, input.name);
        const from = redactUrl(input.url);
        if (input.fetchBy === 'agents') {
          // The coordinator never downloads it (docs/adr/0039): each agent fetches the URL and
          // verifies the sha256 when it stages the edition. Its size is what the operator said,
          // or 0 (unknown: agents then bound it by their own limit).
          await storeOrRefuse(async () => checkFetchUrl(input.url));
          return recordEdition(
            input,
            input.sha256,
            input.size ?? 0,
            actor,
            { from, fetchBy: 'agents' },
            { fetchBy: 'agents', source: from, fetchUrl: input.url },
          );
        }
        const { sha256, size } = await storeOrRefuse(() =>
          opts.artifacts.putFromUrl(input.url, input.sha256),
        );
        return recordEdition(input, sha256, size, actor, { from }, { source: from });
      },
    },
  };

  /** An edition name is never reused for an application (docs/adr/0005). */
  async function refuseTaken(app: string, name: string): Promise<void> {
    const existing = await store.getEdition(app, name);
    if (existing) {
      throw new ApiError(
        'CONFLICT',
        `Edition "${name}" of ${app} already exists (sha256 ${existing.sha256.slice(0, 12)}…). Editions are never overwritten: upload it under a new name such as "${name}_2".`,
      );
    }
  }

  /** Streamed and fetched archives: the store's refusals become the API's clear errors. */
  async function storeOrRefuse<T>(put: () => Promise<T>): Promise<T> {
    try {
      return await put();
    } catch (err) {
      if (err instanceof ArtifactRefused) {
        throw new ApiError(err.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', err.message);
      }
      throw err;
    }
  }

  /** Records an archive already in the store as an edition, as every way of adding one does. */
  async function recordEdition(
    input: { app: string; name: string; description: string; dbUpgradeCommand?: string | undefined },
    sha256: string,
    size: number,
    actor: string,
    extra: Record<string, unknown> = {},
    origin: { fetchBy?: 'agents'; source?: string; fetchUrl?: string } = {},
  ) {
    const record: EditionRecord = {
      app: input.app,
      name: input.name,
      description: input.description,
      sha256,
      size,
      ...(input.dbUpgradeCommand ? { dbUpgradeCommand: input.dbUpgradeCommand } : {}),
      createdAt: opts.clock.now(),
      createdBy: actor,
      ...(origin.fetchBy ? { fetchBy: origin.fetchBy } : {}),
      ...(origin.source ? { source: origin.source } : {}),
    };
    try {
      await store.insertEdition(record, origin.fetchUrl);
    } catch (err) {
      if (err instanceof StoreConflictError) throw new ApiError('CONFLICT', err.message);
      throw err;
    }
    await store.appendAudit({
      at: opts.clock.now(),
      actor,
      action: 'edition.upload',
      target: `${input.app}/${input.name}`,
      details: { sha256, size, ...extra },
    });
    return record;
  }
}
