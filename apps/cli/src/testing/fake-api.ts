/**
 * A real tRPC HTTP server (the coordinator's own router) over an in-memory fake of ApiServices, for
 * the CLI's integration test. Only the store methods the read models use are implemented; the rest
 * throw, so a test that starts relying on one notices.
 */
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
// Test support only (never imported by the CLI itself): it serves the coordinator's real router.
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import { appRouter, ApiError, createQueries, type ApiServices, type QueryStore } from '@rollgate/api';
import { compileMinorUpgrade, type Plan } from '@rollgate/domain';

type Store = QueryStore;
type ServerRecord = Awaited<ReturnType<Store['listServers']>>[number];
type RunRecord = NonNullable<Awaited<ReturnType<Store['getRun']>>>;
type StepRecord = Awaited<ReturnType<Store['getSteps']>>[number];
type LedgerEntry = Awaited<ReturnType<Store['openLedger']>>[number];
type StoredLog = Awaited<ReturnType<Store['queryLogs']>>[number];
type EditionRecord = Awaited<ReturnType<Store['listEditions']>>[number];
type AuditEvent = Awaited<ReturnType<Store['listAudit']>>[number];

/** "Now" of the fixture, on a whole second so the milliseconds of log times are known. */
export const T0 = Math.floor(Date.now() / 1000) * 1000;

const SHA = 'a'.repeat(64);

function server(id: string, role: string, status: ServerRecord['status'], gateOpen: boolean): ServerRecord {
  return {
    id,
    cluster: 'prod',
    role,
    hostname: `${id}.example`,
    agentVersion: '0.1.0',
    capabilities: [],
    gateUrl: `http://${id}.example:7402/gate`,
    status,
    gateOpen,
    services: [{ name: 'demo-app', installedEditions: ['1.0'], activeEdition: '1.0', health: 'healthy' }],
    lastHeartbeatAt: T0 - 3000,
    connectedAt: T0 - 3_600_000,
  };
}

export interface FakeApi {
  url: string;
  /** Actors seen by mutations, in order (checks the x-rollgate-actor header). */
  actors: string[];
  /** Mutations recorded: [procedure, runId, detail]. */
  calls: string[][];
  close(): Promise<void>;
}

/**
 * Starts the fake coordinator on a free loopback port. Runs:
 * - `r-paused`: paused on a failure at step 6 (stop group 2), admin-2 and stream-2 out of rotation
 * - `r-done`: succeeded
 * - `r-aborted`: aborted
 * - `r-live`, `r-watch`: running; each finishes after four reads and gains log lines meanwhile
 */
export async function startFakeApi(): Promise<FakeApi> {
  const servers: ServerRecord[] = [
    server('admin-1', 'admin', 'connected', true),
    server('admin-2', 'admin', 'connected', false),
    server('stream-1', 'stream', 'connected', true),
    server('stream-2', 'stream', 'lost', false),
  ];
  const editions: EditionRecord[] = [
    {
      app: 'demo-app',
      name: '2.0',
      sha256: SHA,
      size: 2048,
      description: 'the new one',
      createdAt: T0,
      createdBy: 'cli:test@host',
    },
  ];
  const planFor = (cluster: string, app: string, edition: string): Plan =>
    compileMinorUpgrade({
      cluster,
      service: app,
      servers: servers
        .filter((s) => s.cluster === cluster)
        .map(({ id, cluster: c, role }) => ({ id, cluster: c, role })),
      toEdition: { app, name: edition, sha256: SHA, size: 2048 },
      drainMs: 2000,
      preparation: { stage: false },
    });
  const plan = planFor('prod', 'demo-app', '2.0');
  const runs = new Map<string, RunRecord>();
  const steps = new Map<string, StepRecord[]>();
  const ledger: LedgerEntry[] = [];
  const logs: StoredLog[] = [];
  const audit: AuditEvent[] = [];
  const actors: string[] = [];
  const calls: string[][] = [];

  const addRun = (
    id: string,
    status: RunRecord['status'],
    currentStep: number,
    failure: string | null,
    createdAt: number,
  ) => {
    runs.set(id, {
      id,
      kind: 'minor-upgrade',
      status,
      plan,
      currentStep,
      failure,
      createdBy: 'cli:test@host',
      createdAt,
      startedAt: createdAt + 1000,
      finishedAt: status === 'succeeded' || status === 'aborted' ? createdAt + 60_000 : null,
      version: 1,
      scheduledAt: null,
      options: { onFailure: 'pause', windowEndsAt: null, rollbackAlertMs: 3_600_000, backupLabel: null },
      readiness: [],
      excluded: [],
      proposal: null,
      parentRunId: null,
    });
    steps.set(
      id,
      plan.steps.map((ps) => ({
        runId: id,
        index: ps.index,
        status:
          status === 'succeeded' || ps.index < currentStep
            ? 'succeeded'
            : ps.index === currentStep && failure
              ? 'failed'
              : ps.index === currentStep && status === 'running'
                ? 'running'
                : 'pending',
        attempt: ps.index <= currentStep ? 1 : 0,
        startedAt: ps.index <= currentStep ? createdAt + 2000 : null,
        finishedAt: ps.index < currentStep ? createdAt + 3000 : null,
        error: ps.index === currentStep && failure ? failure : null,
      })),
    );
  };
  addRun('r-done', 'succeeded', plan.steps.length, null, T0 - 7_200_000);
  addRun('r-aborted', 'aborted', 2, null, T0 - 3_600_000);
  addRun('r-paused', 'paused', 5, 'stop demo-app on stream-2 timed out after 60 s', T0 - 600_000);
  addRun('r-live', 'running', 3, null, T0 - 60_000);
  addRun('r-watch', 'running', 3, null, T0 - 50_000);
  ledger.push(
    { runId: 'r-paused', serverId: 'admin-2', stepIndex: 5, closedAt: T0 - 30_000, reopenedAt: null },
    { runId: 'r-paused', serverId: 'stream-2', stepIndex: 5, closedAt: T0 - 30_000, reopenedAt: null },
  );

  let nextLogId = 1;
  const log = (
    runId: string,
    serverId: string | null,
    stepIndex: number | null,
    code: string,
    message: string,
    at: number,
  ) =>
    logs.push({
      id: nextLogId++,
      runId,
      actionId: null,
      serverId,
      stepIndex,
      at,
      level: code.endsWith('E') ? 'error' : code.endsWith('W') ? 'warn' : 'info',
      code,
      message,
      source: serverId ? 'agent' : 'engine',
    });
  log('r-paused', null, null, 'RG0010I', 'rollout started', T0 - 599_000);
  log('r-paused', 'admin-1', 0, 'RG0110I', 'quiescing: leaving rotation', T0 - 598_000);
  log('r-paused', 'admin-1', 0, 'RG0111I', 'draining (2 s)', T0 - 597_655);
  log('r-paused', 'stream-1', 0, 'RG0111I', 'draining (2 s)', T0 - 597_600);
  log('r-paused', 'admin-2', 5, 'RG0111I', 'draining (2 s)', T0 - 40_000);
  log('r-paused', 'stream-2', 5, 'RG0102E', 'op failed: stop demo-app timed out after 60 s', T0 - 31_000);
  log('r-paused', null, 5, 'RG0015E', 'step failed: run paused for an operator decision', T0 - 30_500);
  log('r-live', null, null, 'RG0010I', 'rollout started', T0 - 59_000);

  // Live runs move on with every read of the run, and end after the fourth.
  const liveReads = new Map<string, number>([
    ['r-live', 0],
    ['r-watch', 0],
  ]);
  const touchLive = (id: string) => {
    const reads = liveReads.get(id);
    const run = runs.get(id);
    if (reads === undefined || !run || run.status !== 'running') return;
    liveReads.set(id, reads + 1);
    log(id, 'admin-1', 3, 'RG0114I', `starting (read ${reads + 1})`, T0 + (reads + 1) * 1000);
    if (reads + 1 >= 4) {
      log(id, null, null, 'RG0011I', 'rollout completed', T0 + (reads + 1) * 1000 + 1);
      runs.set(id, {
        ...run,
        status: 'succeeded',
        currentStep: plan.steps.length,
        finishedAt: T0 + 5000,
        version: run.version + 1,
      });
      steps.set(
        id,
        steps.get(id)!.map((s) => ({ ...s, status: 'succeeded' })),
      );
    }
  };

  const unused = (name: string) => () => {
    throw new Error(`fake store: ${name} is not implemented`);
  };

  const store: Store = {
    getClusterSettings: unused('getClusterSettings'),
    pageServers: unused('pageServers'),
    async getRun(id) {
      touchLive(id);
      return runs.get(id) ?? null;
    },
    async listRuns(opts) {
      const all = [...runs.values()].sort((a, b) => b.createdAt - a.createdAt);
      return all.slice(0, opts?.limit ?? all.length);
    },
    async getSteps(runId) {
      return steps.get(runId) ?? [];
    },
    async getActions() {
      return [];
    },
    async openLedger(runId) {
      return ledger.filter((l) => (runId === undefined || l.runId === runId) && l.reopenedAt === null);
    },
    async queryLogs(q) {
      return logs
        .filter(
          (l) =>
            (q.runId === undefined || l.runId === q.runId) &&
            (q.afterId === undefined || l.id > q.afterId) &&
            (q.serverId === undefined || l.serverId === q.serverId) &&
            (q.stepIndex === undefined || l.stepIndex === q.stepIndex) &&
            (q.code === undefined || l.code === q.code),
        )
        .slice(0, q.limit ?? 500);
    },
    async listServers(opts) {
      return servers.filter((s) => !opts?.cluster || s.cluster === opts.cluster);
    },
    async getServer(id) {
      return servers.find((s) => s.id === id) ?? null;
    },
    async listEditions(app) {
      return editions.filter((e) => !app || e.app === app);
    },
    async listAudit() {
      return audit;
    },
  };

  const control = async (
    runId: string,
    actor: string,
    change: Partial<RunRecord>,
    what: string,
    detail = '',
  ) => {
    const run = runs.get(runId);
    if (!run) throw new ApiError('NOT_FOUND', `No run "${runId}". List runs with \`rollgate upgrade list\`.`);
    actors.push(actor);
    calls.push([what, runId, detail]);
    audit.unshift({ at: T0, actor, action: what, target: runId, details: detail ? { detail } : {} });
    const next = { ...run, ...change, version: run.version + 1 };
    runs.set(runId, next);
    return next;
  };

  const services: ApiServices = {
    version: '9.9.9-fake',
    queries: createQueries({ store }),
    auth: {
      bootstrap: unused('auth.bootstrap'),
      login: unused('auth.login'),
      logout: unused('auth.logout'),
      authenticate: unused('auth.authenticate'),
      createUser: unused('auth.createUser'),
      listUsers: unused('auth.listUsers'),
      setRole: unused('auth.setRole'),
      disable: unused('auth.disable'),
      createPortalToken: unused('auth.createPortalToken'),
      resolvePortal: unused('auth.resolvePortal'),
      portalRefusal: unused('auth.portalRefusal'),
      listPortalLinks: unused('auth.listPortalLinks'),
      revokePortalLink: unused('auth.revokePortalLink'),
    },
    portal: {
      view: unused('portal.view'),
      signOff: unused('portal.signOff'),
      decideRollback: unused('portal.decideRollback'),
    },
    runs: {
      async plan(input) {
        return { ...planFor(input.cluster, input.app, input.edition), readiness: [], schedule: null };
      },
      async start(input, actor) {
        actors.push(actor);
        throw new ApiError('CONFLICT', `Cluster "${input.cluster}" already has a run in progress (r-live).`);
      },
      pause: (runId, actor, reason) => control(runId, actor, { status: 'paused' }, 'pause', reason ?? ''),
      resume: (runId, actor) => control(runId, actor, { status: 'running' }, 'resume'),
      abort: (runId, actor, reason) => control(runId, actor, { status: 'aborted' }, 'abort', reason ?? ''),
      signOff: (runId, decision, comment, actor) =>
        control(
          runId,
          actor,
          { status: decision === 'approve' ? 'succeeded' : 'failed' },
          `signoff:${decision}`,
          comment,
        ),
      skipDrain: unused('runs.skipDrain'),
      skipServer: unused('runs.skipServer'),
      exclude: unused('runs.exclude'),
      rollbackOptions: unused('runs.rollbackOptions'),
      rollback: unused('runs.rollback'),
      decideRollback: unused('runs.decideRollback'),
      waive: unused('runs.waive'),
      notice: unused('runs.notice'),
      evidence: unused('runs.evidence'),
      createPortalLink: unused('runs.createPortalLink'),
      portalLinks: unused('runs.portalLinks'),
      revokePortalLink: unused('runs.revokePortalLink'),
    },
    clusters: {
      getSettings: unused('clusters.getSettings'),
      setSettings: unused('clusters.setSettings'),
    },
    lb: {
      configure: unused('lb.configure'),
      clear: unused('lb.clear'),
      show: unused('lb.show'),
      haproxyConfig: unused('lb.haproxyConfig'),
      routes: unused('lb.routes'),
      setRoutes: unused('lb.setRoutes'),
      traffic: unused('lb.traffic'),
    },
    editions: {
      install: unused('editions.install'),
      activate: unused('editions.activate'),
      rollout: unused('editions.rollout'),
      plan: unused('editions.plan'),
      validate: unused('editions.validate'),
      deactivate: unused('editions.deactivate'),
      backout: unused('editions.backout'),
      checkUpload: unused('editions.checkUpload'),
      async upload(input, actor) {
        actors.push(actor);
        const bytes = Buffer.from(input.contentBase64, 'base64');
        const record: EditionRecord = {
          app: input.app,
          name: input.name,
          description: input.description,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          size: bytes.length,
          createdAt: T0,
          createdBy: actor,
          ...(input.dbUpgradeCommand ? { dbUpgradeCommand: input.dbUpgradeCommand } : {}),
        };
        editions.push(record);
        return record;
      },
    },
  };

  const http = createHTTPServer({
    basePath: '/trpc/',
    router: appRouter,
    // The fake trusts the caller as an administrator named by its client header: these tests are
    // about the CLI's rendering and exit codes (sign-in is tested against the real coordinator).
    createContext: ({ req }) => {
      const actor = String(req.headers['x-rollgate-actor'] ?? 'unknown');
      return {
        actor,
        principal: {
          kind: 'user' as const,
          user: {
            id: 'u-test',
            username: actor,
            role: 'admin' as const,
            createdAt: 0,
            createdBy: 'test',
            disabledAt: null,
          },
        },
        from: '127.0.0.1',
        token: null,
        services,
      };
    },
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    actors,
    calls,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}
