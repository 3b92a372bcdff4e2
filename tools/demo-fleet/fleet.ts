// A local fleet of real processes: one coordinator and N agents, each agent managing a demo-app
// instance. Used by `npm start` (the demo) and by the integration tests, so both exercise exactly
// what an operator runs. Everything listens on loopback.
//
// Options for the seed's major upgrade: `appDatabaseUrl` gives every demo-app a database (a Debian
// PostgreSQL from @rollgate/app-db; seeded with the 1.0 schema here) and makes edition 2.0 declare
// its `db-upgrade` command; `testMachine` adds the test machine agent the functionality tests run
// from; `failEdition` injects a start failure into chosen servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import { seedFromTemplate } from '@rollgate/test-kit';
import { findPgBinDir } from '@rollgate/app-db';
import { buildDemoEditions, demoHookPath, type DemoEdition } from '@rollgate/demo-app';
import { freePort } from '@rollgate/lb/testing';
import { createFleetUser, ensureAdmin, type FleetCredentials } from './src/admin';
import { FatalWait, waitFor } from './src/wait';

export { createFleetUser, ensureAdmin, type FleetCredentials } from './src/admin';
export { behindHaproxy, runSucceeded, type BehindHaproxyOptions, type FleetHaproxy } from './src/haproxy';
export { FatalWait, waitFor } from './src/wait';

/** A TCP port free on loopback right now. */
export { freePort };

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface FleetAgentSpec {
  id: string;
  role: string;
  /** Default 'demo'; agents of other clusters make concurrent targets of the same application. */
  cluster?: string;
}

/** A service the fleet runs instead of the demo-app (see FleetOptions.service). */
export interface FleetService {
  /** The service's name in the agent config, and its application's name for editions (e.g. 'shop'). */
  name: string;
  /** Its edition archives (.tgz), uploaded after start; the first is every agent's initial edition. */
  editions: { name: string; path: string }[];
  /** Run in the active edition's directory, e.g. { command: 'python3', args: ['server.py'] }. */
  start: { command: string; args: string[] };
  /** The health path on the service's port; default '/health'. */
  healthPath?: string;
  /** The service's environment on a server; PORT (the service port) is always set. Default none. */
  env?: (a: FleetAgent) => Record<string, string>;
}

export interface FleetOptions {
  /** Root directory for everything the fleet writes (coordinator data, agents, editions). */
  dir: string;
  /** Default: admin-1, admin-2, stream-1, stream-2 (2 roles × 2 servers, as the seed's minimum). */
  agents?: FleetAgentSpec[];
  /** Coordinator API port; default 0 (free port). */
  httpPort?: number;
  /** Coordinator gRPC port; default 0 (free port). */
  grpcPort?: number;
  /** Agents' heartbeat interval; default 1000 ms. */
  heartbeatMs?: number;
  /** Extra coordinator environment (e.g. DATABASE_URL). */
  coordinatorEnv?: Record<string, string>;
  /** Where process output goes: 'files' (under dir/logs, default) or 'inherit'. */
  output?: 'files' | 'inherit';
  /** Upload these demo editions after start; default ['1.0', '2.0']. */
  editions?: string[];
  /** Ports reused across restarts of the demo (kept in dir/ports.json); default false. */
  stablePorts?: boolean;
  /**
   * The demo application's database (e.g. `startAppPostgres(...).url`). When set, every demo-app
   * gets DATABASE_URL, an agent config `database`, the commands db-init and db-upgrade; the fleet
   * runs db-init once (schema 1.0 + seed rows, idempotent) and uploads 2.0 with dbUpgradeCommand.
   */
  appDatabaseUrl?: string;
  /** Directory of psql/pg_dump for the agents and the demo-app; default Debian's highest. */
  appDatabaseBinDir?: string;
  /** Start the test machine agent too (`tester-1`, cluster demo-tests, role tester); default false. */
  testMachine?: boolean;
  /** Failure injection: agent id → edition name that must fail at start there (DEMO_FAIL_EDITION). */
  failEdition?: Record<string, string>;
  /**
   * Fault injection: agent id → host:port it dials instead of the coordinator's gRPC address
   * (e.g. a partition proxy from @rollgate/lb/testing in front of `grpcPort`).
   */
  coordinatorAddress?: Record<string, string>;
  /**
   * Coordinator processes sharing one database; default 1. More than one needs
   * `coordinatorEnv.DATABASE_URL` (they cannot share an embedded server's data directory). Each
   * gets its own data directory, ports and ROLLGATE_COORDINATOR_ID (`coordinator-1`, …), and one
   * shared artifacts directory; agent k lists every coordinator, starting with coordinator k mod N.
   */
  coordinators?: number;
  /**
   * Plaintext agent streams (ROLLGATE_INSECURE_AGENTS on the coordinators, `insecure` in every
   * agent config); default false: agents enrol with join tokens and connect over mTLS.
   */
  insecure?: boolean;
  /**
   * Give every demo-app a beside port (services[].beside) so that a lone server can be rolled out
   * side by side; default false (HAProxy's generated backend then lists a "-beside" twin each).
   */
  beside?: boolean;
  /**
   * When the fleet stops, copy every log it wrote (coordinators, agents, the services the agents
   * ran) into `<logArchive>/<fleet dir name>/`, and the secrets it created (passwords, session and
   * join tokens) into `<logArchive>/<fleet dir name>.secrets`: `npm test` scans the logs of the
   * whole run for them. Default: ROLLGATE_TEST_LOG_ARCHIVE, else none.
   */
  logArchive?: string;
  /**
   * Run this service on every server instead of the demo-app (a fleet unlike the demo); default
   * the demo-app with its editions (`editions` is then ignored and the fleet's `editions` is empty).
   */
  service?: FleetService;
  /** Changes the agent config the fleet writes for a server (e.g. adds `limits`); default none. */
  agentConfig?: (a: FleetAgent, config: Record<string, unknown>) => Record<string, unknown>;
  /**
   * How an agent process is run, given its config path; default `node` with
   * `appNodeArgs('agent', ['--config', <path>], agentBundle)`: the bundle, else the sources under
   * tsx. E.g. the packaged bundle as its systemd unit runs it.
   */
  agentCommand?: (a: FleetAgent) => { command: string; args: string[] };
  /**
   * The agent bundle (tools/agent-bundle's rollgate-agent.cjs, its heavy-work child beside it) run
   * as `node <bundle> --config <path>` where agentCommand is not given: the integration tier builds
   * it once per run instead of every agent and its heavy-work child compiling the sources under
   * tsx (docs/adr/0048). Default: ROLLGATE_TEST_AGENT_BUNDLE, else tsx.
   */
  agentBundle?: string;
  /**
   * A data directory of a stopped embedded cluster (@rollgate/db's createEmbeddedTemplate), copied
   * as each coordinator's data directory on its first start instead of initdb (docs/adr/0048); not
   * used with coordinatorEnv.DATABASE_URL. Default: ROLLGATE_TEST_PG_TEMPLATE, else none.
   */
  pgTemplate?: string;
  /**
   * The coordinator bundle (tools/build's `main.cjs`, its migrations, proto and PostgreSQL binaries
   * beside it) run as `node <bundle>` instead of apps/coordinator's sources under tsx (docs/adr/0048).
   * Default: ROLLGATE_TEST_COORDINATOR_BUNDLE, else tsx.
   */
  coordinatorBundle?: string;
}

/** One coordinator process of the fleet. */
export interface FleetCoordinator {
  /** ROLLGATE_COORDINATOR_ID: `coordinator-1`, `coordinator-2`, … */
  id: string;
  url: string;
  grpcAddress: string;
  /** Where agents enrol and renew (HTTPS); unused when the fleet is insecure. */
  enrolAddress: string;
  api: ReturnType<typeof apiClient>;
  readonly proc: ChildProcess | null;
  /** Starts it and waits for /healthz. */
  start(): Promise<void>;
  /** SIGKILL to simulate a crash, SIGTERM for a clean stop. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The test machine's agent id, cluster and role (see FleetOptions.testMachine). */
export const TEST_MACHINE = { id: 'tester-1', cluster: 'demo-tests', role: 'tester' } as const;
/** The account the demo-app accepts and the test machine's config names `demo`. */
export const DEMO_TEST_ACCOUNT = { username: 'demo', password: 'demo-password' } as const;
/**
 * The agent config requires at least one service (config.ts: services .min(1)), so the test
 * machine runs a placeholder service: the demo-app 1.0 under this name, outside the demo cluster.
 */
export const TEST_MACHINE_SERVICE = 'test-runner';
/** Published application files the repository-check hook expects (the seed's "repository"). */
export const DEMO_REPOSITORY_FILES = ['calculator.stp', 'spreadsheet.stp', 'paint.stp', 'text-editor.stp'];

export interface FleetAgent extends FleetAgentSpec {
  /** 'demo' for the demo-app servers, 'demo-tests' for the test machine. */
  cluster: string;
  /** The service this agent manages: 'demo-app' (test machine: TEST_MACHINE_SERVICE). */
  service: string;
  /** Directory backed up by the backupFiles op (also the service's configDir). */
  configDir: string;
  gatePort: number;
  /** HAProxy agent-check port served by the agent. */
  agentCheckPort: number;
  servicePort: number;
  /** The second instance's port (FleetOptions.beside). */
  besidePort?: number;
  dataDir: string;
  configPath: string;
  proc: ChildProcess | null;
}

export const DEFAULT_AGENTS: FleetAgentSpec[] = [
  { id: 'admin-1', role: 'admin' },
  { id: 'admin-2', role: 'admin' },
  { id: 'stream-1', role: 'stream' },
  { id: 'stream-2', role: 'stream' },
];

/**
 * A tRPC client for a coordinator. `token` is read at every call, so clients made before the
 * fleet signed in (one per coordinator) use the session once there is one.
 */
export function apiClient(
  url: string,
  actor = 'demo-fleet',
  token: () => string | undefined = () => undefined,
) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/trpc`,
        headers: () => {
          const t = token();
          return { 'x-rollgate-actor': actor, ...(t ? { authorization: `Bearer ${t}` } : {}) };
        },
      }),
    ],
  });
}

/** The bundle of `app` the integration run built (docs/adr/0048); undefined when unset or empty. */
function runBundle(app: 'agent' | 'coordinator'): string | undefined {
  const v =
    app === 'agent' ? process.env.ROLLGATE_TEST_AGENT_BUNDLE : process.env.ROLLGATE_TEST_COORDINATOR_BUNDLE;
  return v || undefined;
}

/**
 * The `node` arguments that run the agent or the coordinator as a test's own process (cwd: ROOT):
 * the bundle the integration run built once (ROLLGATE_TEST_AGENT_BUNDLE /
 * ROLLGATE_TEST_COORDINATOR_BUNDLE, docs/adr/0048) when there is one, else the sources under tsx.
 * The bundle starts in a fraction of tsx's CPU (~0.2 against ~1.4 s for an agent).
 */
export function appNodeArgs(
  app: 'agent' | 'coordinator',
  args: string[] = [],
  bundle = runBundle(app),
): string[] {
  // `--import tsx` on node itself, so the process a caller holds is the real server, not a wrapper.
  return bundle ? [bundle, ...args] : ['--import', 'tsx', join(ROOT, `apps/${app}/src/main.ts`), ...args];
}

/** The `node` arguments of the `rollgate` CLI as a checkout runs it: its bundle (docs/adr/0024). */
export function cliNodeArgs(args: string[]): string[] {
  return [join(ROOT, 'apps/cli/bin/rollgate.mjs'), ...args];
}

/** Spawns a process in the repository root, its output appended to `logFile` (null: inherited). */
function spawnLogged(command: string, args: string[], env: Record<string, string>, logFile: string | null) {
  const proc = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: logFile ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  });
  if (logFile) {
    const out = createWriteStream(logFile, { flags: 'a' });
    proc.stdout?.pipe(out);
    proc.stderr?.pipe(out);
  }
  return proc;
}

async function kill(proc: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export async function startFleet(opts: FleetOptions) {
  const dir = resolve(opts.dir);
  const logsDir = join(dir, 'logs');
  await mkdir(logsDir, { recursive: true });
  const logArchive = opts.logArchive ?? process.env.ROLLGATE_TEST_LOG_ARCHIVE;
  /** What must never appear in a log: see FleetOptions.logArchive. */
  const secrets = new Set<string>();
  if (opts.appDatabaseUrl) {
    const password = new URL(opts.appDatabaseUrl).password;
    if (password) secrets.add(decodeURIComponent(password));
  }
  // As root, the embedded PostgreSQL runs as the postgres user, which must reach the data directory.
  await chmod(dir, 0o755);
  const specs = opts.agents ?? DEFAULT_AGENTS;
  const toFile = (opts.output ?? 'files') === 'files';
  const agentBundle = opts.agentBundle ?? runBundle('agent');
  const pgTemplate = opts.pgTemplate ?? (process.env.ROLLGATE_TEST_PG_TEMPLATE || undefined);
  const coordinatorBundle = opts.coordinatorBundle ?? runBundle('coordinator');

  const portsFile = join(dir, 'ports.json');
  const saved: Record<string, number> = opts.stablePorts
    ? await readFile(portsFile, 'utf8').then(
        (s) => JSON.parse(s) as Record<string, number>,
        () => ({}),
      )
    : {};
  const pick = async (key: string, fixed?: number) => {
    if (fixed) return fixed;
    saved[key] ??= await freePort();
    return saved[key]!;
  };
  const coordinatorCount = opts.coordinators ?? 1;
  if (!Number.isInteger(coordinatorCount) || coordinatorCount < 1) {
    throw new Error(`coordinators must be a whole number ≥ 1 (got ${coordinatorCount})`);
  }
  if (coordinatorCount > 1 && !opts.coordinatorEnv?.DATABASE_URL) {
    throw new Error(
      'several coordinators share one PostgreSQL: pass coordinatorEnv.DATABASE_URL (e.g. from createDb(...).url of @rollgate/db)',
    );
  }
  const httpPort = await pick('http', opts.httpPort);
  const grpcPort = await pick('grpc', opts.grpcPort);
  const enrolPort = await pick('enrol');
  // Coordinators 2…N: their own ports (the first keeps the keys it always had).
  const extraPorts: { http: number; grpc: number; enrol: number }[] = [];
  for (let i = 2; i <= coordinatorCount; i++)
    extraPorts.push({
      http: await pick(`http.${i}`),
      grpc: await pick(`grpc.${i}`),
      enrol: await pick(`enrol.${i}`),
    });
  const insecure = opts.insecure ?? false;
  const grpcAddresses = [grpcPort, ...extraPorts.map((p) => p.grpc)].map((p) => `127.0.0.1:${p}`);
  const service = opts.service;
  const editions: DemoEdition[] = service
    ? []
    : await buildDemoEditions(join(dir, 'editions'), opts.editions ?? ['1.0', '2.0']);
  const initial = service ? service.editions[0] : editions[0];
  // A fleet of no agents (enrolment tests bring their own) needs no edition to install.
  if (!initial && (specs.length > 0 || opts.testMachine))
    throw new Error(`service ${service?.name} has no edition: list at least its initial one`);
  const base = initial!;
  const serviceName = service?.name ?? 'demo-app';

  const makeAgent = async (spec: FleetAgentSpec, cluster: string, service: string): Promise<FleetAgent> => ({
    ...spec,
    cluster,
    service,
    configDir: join(dir, 'agents', `${spec.id}-config`),
    gatePort: await pick(`${spec.id}.gate`),
    agentCheckPort: await pick(`${spec.id}.agent-check`),
    servicePort: await pick(`${spec.id}.service`),
    ...(opts.beside && service === 'demo-app' ? { besidePort: await pick(`${spec.id}.beside`) } : {}),
    dataDir: join(dir, 'agents', spec.id),
    configPath: join(dir, 'agents', `${spec.id}.json`),
    proc: null,
  });
  const agents: FleetAgent[] = [];
  for (const spec of specs) agents.push(await makeAgent(spec, spec.cluster ?? 'demo', serviceName));
  const tester = opts.testMachine
    ? await makeAgent(
        { id: TEST_MACHINE.id, role: TEST_MACHINE.role },
        TEST_MACHINE.cluster,
        TEST_MACHINE_SERVICE,
      )
    : null;
  if (opts.stablePorts) await writeFile(portsFile, JSON.stringify(saved, null, 2));

  const appDatabaseUrl = opts.appDatabaseUrl;
  const pgBinDir = appDatabaseUrl ? (opts.appDatabaseBinDir ?? findPgBinDir()?.binDir) : undefined;
  if (appDatabaseUrl && !pgBinDir) {
    throw new Error(
      'appDatabaseUrl needs psql/pg_dump: install postgresql-client-15 (tools/scripts/ensure-system-deps.sh) or pass appDatabaseBinDir',
    );
  }
  const snapshotsDir = join(dir, 'snapshots');
  const repositoryDir = join(dir, 'repository');
  const repositoryManifest = join(repositoryDir, 'manifest.txt');
  await mkdir(repositoryDir, { recursive: true });
  if (!existsSync(repositoryManifest)) {
    for (const f of DEMO_REPOSITORY_FILES) await writeFile(join(repositoryDir, f), `demo package ${f}\n`);
    await writeFile(
      repositoryManifest,
      `# Applications published in the demo (checked by the repository-check command)\n${DEMO_REPOSITORY_FILES.join('\n')}\n`,
    );
  }
  const dbEnv: Record<string, string> =
    appDatabaseUrl && pgBinDir ? { DATABASE_URL: appDatabaseUrl, PG_BIN_DIR: pgBinDir } : {};
  if (appDatabaseUrl) await runDbInit(dbEnv);

  /** The fleet's administrator, signed in once the first coordinator is up. */
  let session: FleetCredentials | undefined;
  const makeCoordinator = (
    n: number,
    ports: { http: number; grpc: number; enrol: number },
  ): FleetCoordinator => {
    const single = coordinatorCount === 1;
    const env = {
      ROLLGATE_DATA_DIR: join(dir, n === 1 ? 'coordinator' : `coordinator-${n}`),
      ROLLGATE_HTTP_PORT: String(ports.http),
      ROLLGATE_GRPC_PORT: String(ports.grpc),
      ROLLGATE_ENROL_PORT: String(ports.enrol),
      ROLLGATE_HEARTBEAT_MS: String(opts.heartbeatMs ?? 1000),
      ...(insecure ? { ROLLGATE_INSECURE_AGENTS: '1' } : {}),
      // Agents fetch editions from whichever coordinator they are connected to, and trust one CA.
      ...(single
        ? {}
        : {
            ROLLGATE_COORDINATOR_ID: `coordinator-${n}`,
            ROLLGATE_ARTIFACTS_DIR: join(dir, 'artifacts'),
            ROLLGATE_AGENT_CA_DIR: join(dir, 'agent-ca'),
          }),
      ...opts.coordinatorEnv,
    };
    const url = `http://127.0.0.1:${ports.http}`;
    const logFile = join(logsDir, n === 1 ? 'coordinator.log' : `coordinator-${n}.log`);
    let proc: ChildProcess | null = null;
    return {
      id: `coordinator-${n}`,
      url,
      grpcAddress: `127.0.0.1:${ports.grpc}`,
      enrolAddress: `127.0.0.1:${ports.enrol}`,
      api: apiClient(url, 'demo-fleet', () => session?.token),
      get proc() {
        return proc;
      },
      async start() {
        if (pgTemplate && !opts.coordinatorEnv?.DATABASE_URL)
          await seedFromTemplate(pgTemplate, env.ROLLGATE_DATA_DIR);
        const p = spawnLogged(
          process.execPath,
          appNodeArgs('coordinator', [], coordinatorBundle),
          env,
          toFile ? logFile : null,
        );
        proc = p;
        await waitFor(
          single ? 'the coordinator to answer /healthz' : `coordinator ${n} to answer /healthz`,
          async () => {
            if (p.exitCode !== null)
              throw new FatalWait(
                `${single ? 'coordinator' : `coordinator ${n}`} exited with code ${p.exitCode}; see ${logFile}`,
              );
            return (await fetch(`${url}/healthz`)).ok;
          },
          60_000,
        );
      },
      stop: (signal: NodeJS.Signals = 'SIGTERM') => kill(proc, signal),
    };
  };
  const coordinators = [
    makeCoordinator(1, { http: httpPort, grpc: grpcPort, enrol: enrolPort }),
    ...extraPorts.map((p, i) => makeCoordinator(i + 2, p)),
  ];
  const first = coordinators[0]!;
  const url = first.url;
  const api = first.api;
  const startCoordinator = () => first.start();

  /** Agent k dials every coordinator, starting with coordinator k mod N (one: the original form). */
  function coordinatorOf(a: FleetAgent): Record<string, unknown> {
    const k = Math.max(0, everyAgent().indexOf(a));
    // Any coordinator enrols (one database, one CA): the agent's first one.
    const security = insecure
      ? { insecure: true }
      : { enrolAddress: coordinators[coordinatorCount === 1 ? 0 : k % coordinatorCount]!.enrolAddress };
    const fixed = opts.coordinatorAddress?.[a.id];
    if (fixed) return { address: fixed, ...security };
    if (coordinatorCount === 1) return { address: `127.0.0.1:${grpcPort}`, ...security };
    return {
      addresses: grpcAddresses.map((_, i) => grpcAddresses[(i + k) % grpcAddresses.length]!),
      ...security,
    };
  }

  /**
   * A join token when the agent has no valid certificate yet (first start, or expired while the
   * demo was down), as an operator would give it: `rollgate agents token create --ttl 10m`.
   */
  async function joinEnv(a: FleetAgent): Promise<Record<string, string>> {
    if (insecure) return {};
    const certPem = await readFile(join(a.dataDir, 'identity', 'agent.crt'), 'utf8').catch(() => '');
    if (certPem && Date.parse(new X509Certificate(certPem).validTo) > Date.now() + 60_000) return {};
    const { token } = await api.agents.createJoinToken.mutate({ ttlSeconds: 600, cluster: a.cluster });
    secrets.add(token);
    return { ROLLGATE_JOIN_TOKEN: token };
  }

  /** The agent config the fleet writes for a server (exported shape: see agentConfig). */
  function configFor(a: FleetAgent): Record<string, unknown> {
    const node = (script: string, ...args: string[]) => ({
      command: process.execPath,
      args: [script, ...args],
    });
    const common = {
      agentId: a.id,
      cluster: a.cluster,
      role: a.role,
      coordinator: coordinatorOf(a),
      dataDir: a.dataDir,
      gate: { host: '127.0.0.1', port: a.gatePort, agentCheckPort: a.agentCheckPort },
    };
    const baseService = {
      port: a.servicePort,
      start: { command: process.execPath, args: ['server.mjs'] },
      healthUrl: `http://127.0.0.1:${a.servicePort}/health`,
      initialEdition: { name: base.name, archive: base.path },
    };
    if (a === tester) {
      return {
        ...common,
        services: [
          {
            name: TEST_MACHINE_SERVICE,
            ...baseService,
            env: { PORT: String(a.servicePort), SERVER_NAME: a.id },
          },
        ],
        testAccounts: { demo: { ...DEMO_TEST_ACCOUNT } },
        // The demo's HAProxy frontends listen on loopback: the only hosts its probes may reach.
        testHosts: ['127.0.0.1', 'localhost'],
      };
    }
    if (service) {
      return {
        ...common,
        services: [
          {
            name: service.name,
            port: a.servicePort,
            start: service.start,
            healthUrl: `http://127.0.0.1:${a.servicePort}${service.healthPath ?? '/health'}`,
            initialEdition: { name: base.name, archive: base.path },
            env: { ...service.env?.(a), PORT: String(a.servicePort) },
            configDir: a.configDir,
          },
        ],
      };
    }
    const fail = opts.failEdition?.[a.id];
    return {
      ...common,
      services: [
        {
          name: 'demo-app',
          ...baseService,
          env: {
            PORT: String(a.servicePort),
            SERVER_NAME: a.id,
            DEMO_TEST_USER: DEMO_TEST_ACCOUNT.username,
            DEMO_TEST_PASSWORD: DEMO_TEST_ACCOUNT.password,
            DEMO_SNAPSHOT_DIR: snapshotsDir,
            // The agent's edition store for this service (every edition + the `current` link).
            DEMO_SNAPSHOT_SOURCE: join(a.dataDir, 'editions', 'demo-app'),
            DEMO_REPOSITORY_MANIFEST: repositoryManifest,
            ...dbEnv,
            ...(fail ? { DEMO_FAIL_EDITION: fail } : {}),
          },
          configDir: a.configDir,
          ...(a.besidePort ? { beside: { port: a.besidePort } } : {}),
          commands: {
            snapshot: node(demoHookPath('snapshot')),
            'restore-snapshot': node(demoHookPath('restore-snapshot')),
            'repository-check': node(demoHookPath('repository-check')),
            ...(appDatabaseUrl
              ? {
                  'db-init': node(demoHookPath('db-init')),
                  // Relative: commands run in the ACTIVE edition's directory (apps/agent ops.ts), and
                  // migrate.mjs ships in the 2.0 archive; db-upgrade runs after 2.0 is activated.
                  'db-upgrade': node('migrate.mjs'),
                }
              : {}),
          },
          backup: { directories: [a.configDir] },
          ...(appDatabaseUrl ? { database: { url: appDatabaseUrl, pgBinDir } } : {}),
        },
      ],
    };
  }

  async function startAgent(a: FleetAgent) {
    await mkdir(a.dataDir, { recursive: true });
    await mkdir(a.configDir, { recursive: true });
    const settings = join(a.configDir, 'demo-app.conf');
    if (!existsSync(settings)) await writeFile(settings, `# demo-app settings of ${a.id}\nserver=${a.id}\n`);
    const config = configFor(a);
    await writeFile(a.configPath, JSON.stringify(opts.agentConfig?.(a, config) ?? config, null, 2));
    const logFile = toFile ? join(logsDir, `${a.id}.log`) : null;
    const run = opts.agentCommand?.(a) ?? {
      command: process.execPath,
      args: appNodeArgs('agent', ['--config', a.configPath], agentBundle),
    };
    a.proc = spawnLogged(run.command, run.args, await joinEnv(a), logFile);
  }

  async function uploadEditions() {
    const uploads: { name: string; path: string; dbUpgradeCommand?: string }[] =
      service?.editions ?? editions;
    for (const e of uploads) {
      const content = await readFile(e.path);
      try {
        await api.editions.upload.mutate({
          app: serviceName,
          name: e.name,
          description: `${serviceName} edition ${e.name}`,
          // Only with a database: without one, db-upgrade has nothing to migrate (minor upgrades).
          ...(appDatabaseUrl && e.dbUpgradeCommand ? { dbUpgradeCommand: e.dbUpgradeCommand } : {}),
          contentBase64: content.toString('base64'),
        });
      } catch (err) {
        // Restarting the demo finds its editions already uploaded: editions are never overwritten.
        if (!(err instanceof TRPCClientError && err.data?.code === 'CONFLICT')) throw err;
      }
    }
  }

  const everyAgent = () => (tester ? [...agents, tester] : agents);

  async function waitConnected(ids = everyAgent().map((a) => a.id)) {
    await waitFor(
      `agents ${ids.join(', ')} to connect with a healthy ${serviceName}`,
      async () => {
        const servers = await api.servers.list.query({});
        return ids.every((id) =>
          servers.some(
            (s) =>
              s.id === id &&
              s.status === 'connected' &&
              s.gateOpen &&
              s.services.some((x) => x.health === 'healthy'),
          ),
        );
      },
      60_000,
      200,
    );
  }

  const stopAll = async () => {
    await Promise.all(everyAgent().map((a) => kill(a.proc)));
    await stopDemoApps(everyAgent());
    await Promise.all(coordinators.map((c) => c.stop()));
    if (session) secrets.add(session.password).add(session.token);
    if (logArchive) await archiveLogs(logArchive, dir, logsDir, everyAgent(), secrets);
  };
  try {
    // One after the other: the first applies the migrations the others then find done.
    for (const c of coordinators) await c.start();
    // As an operator would on a fresh install: `rollgate admin init`, then sign in.
    session = await ensureAdmin(
      url,
      join(dir, 'admin-password'),
      join(dir, 'coordinator', 'bootstrap-secret'),
    );
    await Promise.all(everyAgent().map(startAgent));
    await waitConnected();
    await uploadEditions();
  } catch (err) {
    // Leave nothing running behind a failed start (the caller has no handle to stop it).
    await stopAll();
    throw err;
  }

  const admin = session!;
  return {
    dir,
    url,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    /** The first coordinator's enrolment endpoint (HTTPS), for agents started outside the fleet. */
    enrolAddress: first.enrolAddress,
    /** Whether agents connect in plaintext (FleetOptions.insecure). */
    insecure,
    api,
    /** The fleet's administrator (user name, password, session token). */
    admin,
    /** Creates an account with a role and signs it in: `{ token, api }`. */
    createUser: async (username: string, role: 'admin' | 'operator' | 'viewer', password: string) => {
      secrets.add(password);
      const created = await createFleetUser(url, admin.token, username, role, password);
      secrets.add(created.token);
      return created;
    },
    agents,
    /** The test machine agent (FleetOptions.testMachine), else null. */
    tester,
    /** 'tester-1' when the fleet has a test machine, else null. */
    testMachineId: tester ? tester.id : null,
    /** The demo application's database URL (FleetOptions.appDatabaseUrl), else null. */
    appDatabaseUrl: appDatabaseUrl ?? null,
    /** Where psql/pg_dump are (with a database), else null. */
    pgBinDir: pgBinDir ?? null,
    /** Where the snapshot command keeps its copies: <snapshotsDir>/<agent id>/<name>. */
    snapshotsDir,
    /** The published application files the repository-check command verifies, and its manifest. */
    repositoryDir,
    repositoryManifest,
    editions,
    /** The first coordinator's process. */
    get coordinator() {
      return first.proc;
    },
    /** Every coordinator (FleetOptions.coordinators); the first is the one above. */
    coordinators,
    startCoordinator,
    /** Stops the first coordinator: SIGKILL to simulate a crash, SIGTERM for a clean stop. */
    stopCoordinator: (signal: NodeJS.Signals = 'SIGTERM') => first.stop(signal),
    startAgent,
    stopAgent: (a: FleetAgent, signal: NodeJS.Signals = 'SIGTERM') => kill(a.proc, signal),
    waitConnected,
    /** Reads an agent's action journal (JSON lines). */
    async journal(a: FleetAgent): Promise<Record<string, unknown>[]> {
      const text = await readFile(join(a.dataDir, 'journal.jsonl'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    /** Stops agents, their demo-apps and the coordinator. */
    stop: stopAll,
  };
}

/** Copies the fleet's logs and the list of its secrets for the secret scan (FleetOptions.logArchive). */
async function archiveLogs(
  archive: string,
  dir: string,
  logsDir: string,
  agents: FleetAgent[],
  secrets: Set<string>,
): Promise<void> {
  const name = basename(dir);
  const into = join(archive, name);
  await mkdir(into, { recursive: true });
  const copyLogs = async (from: string, prefix: string) => {
    for (const f of await readdir(from).catch(() => [] as string[])) {
      if (f.endsWith('.log'))
        await copyFile(join(from, f), join(into, `${prefix}${f}`)).catch(() => undefined);
    }
  };
  await copyLogs(logsDir, '');
  for (const a of agents) await copyLogs(join(a.dataDir, 'logs'), `${a.id}.`);
  await writeFile(join(archive, `${name}.secrets`), [...secrets].filter((s) => s.length >= 8).join('\n'), {
    mode: 0o600,
  });
}

/** The agents leave their services running on purpose (a restarted agent re-adopts them); stop them here. */
async function stopDemoApps(agents: FleetAgent[]) {
  // The agent records each supervised service in <dataDir>/run/<service>.json ({ pid, startTime }),
  // and a second instance (validation clone, single-server rollout) as <service>@beside.json.
  for (const [a, name] of agents.flatMap((a) => [
    [a, a.service] as const,
    [a, `${a.service}@beside`] as const,
  ])) {
    const text = await readFile(join(a.dataDir, 'run', `${name}.json`), 'utf8').catch(() => '');
    const pid = text ? Number((JSON.parse(text) as { pid?: number }).pid) : 0;
    if (pid > 0) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGTERM');
          break;
        } catch {
          /* not a group leader, or already gone */
        }
      }
    }
  }
}

/** Runs the db-init hook (schema 1.0 + seed rows; idempotent) against the app database. */
async function runDbInit(env: Record<string, string>): Promise<void> {
  const proc = spawn(process.execPath, [demoHookPath('db-init')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the demo database could not be initialised: ${out.trim()}`);
}

export type Fleet = Awaited<ReturnType<typeof startFleet>>;
