// The first seed's topology (issue 14): Admin/License servers and Stream servers, each service type
// its own load-balanced pool, behind a PAIR of load balancers. Here: a Python stdlib service "cp"
// (the application server) on four servers in two roles, and on the admin servers a second managed
// service "license" (its own port, health path and pool) — one server, two services, two pools.
// Two real HAProxy processes, each configured with the file `rollgate lb haproxy-config` prints for
// it (one frontend and one backend per pool), both driven by the coordinator's runtime API. Agents
// run as the packaged bundle, enrolled with join tokens (mTLS).
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startFleet, waitFor, type Fleet, type FleetAgent } from '@rollgate/demo-fleet';
import { createHaproxyRuntime, type HaproxyRuntime, type ServerStat } from '@rollgate/lb';
import { freePort, startHaproxy, type HaproxyProcess } from '@rollgate/lb/testing';
import { buildAgentPackage, unitCommand } from './agent-package';
import { buildServiceEditions, type FleetEdition } from './editions';

export const SEED_CLUSTER = 'seed';
/** The application every server runs (what a minor upgrade and an edition rollout change). */
export const APP = 'cp';
/** The admin servers' second managed service, in a pool of its own. */
export const LICENSE = 'license';
export const BALANCERS = ['lb1', 'lb2'] as const;
export type BalancerName = (typeof BALANCERS)[number];

/** Pool name → its HAProxy backend, the roles and the service it holds. */
export const POOLS = [
  { name: 'admin', backend: 'be_admin', roles: ['admin'], service: APP },
  { name: 'license', backend: 'be_license', roles: ['admin'], service: LICENSE },
  { name: 'stream', backend: 'be_stream', roles: ['stream'], service: APP },
] as const;
export type PoolName = (typeof POOLS)[number]['name'];

/** The checks and timings of the LB configuration: short, so a rollout takes seconds. */
export const LB_TIMINGS = {
  checkIntervalMs: 300,
  fall: 2,
  rise: 2,
  agentInterMs: 300,
  drainageIntervalSec: 2,
  readmitTimeoutMs: 15_000,
} as const;

export interface SeedBalancer {
  name: BalancerName;
  socketPath: string;
  /** The file `rollgate lb haproxy-config --balancer <name>` printed for it. */
  config: string;
  /** Pool → its frontend's base URL on this balancer. */
  frontends: Record<PoolName, string>;
  readonly process: HaproxyProcess | null;
  runtime: HaproxyRuntime;
  /** Every server of every pool's backend, as this balancer's `show stat` reports it. */
  stats(): Promise<ServerStat[]>;
  /** Starts HAProxy with its printed configuration (again, after stop: same sockets and ports). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SeedFleet {
  fleet: Fleet;
  editions: FleetEdition[];
  balancers: Record<BalancerName, SeedBalancer>;
  /** "<balancer>/<pool>" → frontend URL, for the load generator on every frontend of both. */
  frontends(only?: readonly BalancerName[]): Record<string, string>;
  /** The LB configuration stored for the cluster (runtime mode, both balancers, three pools), as lb show reports it. */
  lbConfig: Record<string, unknown>;
  /** Waits until both balancers report every server of every pool UP and ready. */
  allUp(what: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SeedFleetOptions {
  dir: string;
  /** Editions of the app; the first is installed. Default ['1.0', '1.1', '2.0']. */
  editions?: string[];
}

const AGENTS = [
  { id: 'admin-1', role: 'admin', cluster: SEED_CLUSTER },
  { id: 'admin-2', role: 'admin', cluster: SEED_CLUSTER },
  { id: 'stream-1', role: 'stream', cluster: SEED_CLUSTER },
  { id: 'stream-2', role: 'stream', cluster: SEED_CLUSTER },
];

export async function startSeedFleet(opts: SeedFleetOptions): Promise<SeedFleet> {
  const editions = await buildServiceEditions(
    join(opts.dir, 'cp-editions'),
    opts.editions ?? ['1.0', '1.1', '2.0'],
  );
  const [licenseEdition] = await buildServiceEditions(join(opts.dir, 'license-editions'), ['1.0']);
  const agentPackage = await buildAgentPackage(join(opts.dir, 'opt', 'rollgate-agent'));
  const licensePorts = new Map<string, number>();
  for (const a of AGENTS) if (a.role === 'admin') licensePorts.set(a.id, await freePort());
  const fleet = await startFleet({
    dir: join(opts.dir, 'fleet'),
    heartbeatMs: 1000,
    agents: AGENTS,
    service: {
      name: APP,
      editions,
      start: { command: 'python3', args: ['server.py'] },
      // HAProxy checks plain /health; the agent's probes are told apart (service/server.py).
      healthPath: '/health?by=agent',
      env: (a) => ({ SERVER_NAME: a.id, ROLE: a.role }),
    },
    // The admin servers' second service: the same stdlib server, its own port, edition and pool.
    agentConfig: (a, config) => {
      const port = licensePorts.get(a.id);
      if (port === undefined) return config;
      const license = {
        name: LICENSE,
        port,
        start: { command: 'python3', args: ['server.py'] },
        healthUrl: `http://127.0.0.1:${port}/health?by=agent`,
        initialEdition: { name: licenseEdition!.name, archive: licenseEdition!.path },
        env: { PORT: String(port), SERVER_NAME: a.id, ROLE: LICENSE },
      };
      return { ...config, services: [...(config.services as unknown[]), license] };
    },
    agentCommand: (a) => unitCommand(agentPackage.bundle, a.configPath),
  });

  const balancers = {} as Record<BalancerName, SeedBalancer>;
  const stopLicense = () =>
    stopServices(
      fleet.agents.filter((a) => licensePorts.has(a.id)),
      LICENSE,
    );
  try {
    const pools = POOLS.map((p) => ({ ...p, roles: [...p.roles] }));
    const sockets = Object.fromEntries(BALANCERS.map((b) => [b, join(opts.dir, b, 'admin.sock')]));
    for (const b of BALANCERS) await mkdir(join(opts.dir, b), { recursive: true });
    // 1. The pools and balancers, gate-only: nothing is checked against a balancer yet.
    const balancerFlags = BALANCERS.flatMap((b) => ['--balancer', `${b}=unix:${sockets[b]}`]);
    const poolFlags = pools.flatMap((p) => [
      '--pool',
      `${p.name}=${p.backend},roles=${p.roles.join('+')},service=${p.service}`,
    ]);
    const timingFlags = [
      '--check-interval',
      String(LB_TIMINGS.checkIntervalMs),
      '--fall',
      String(LB_TIMINGS.fall),
      '--rise',
      String(LB_TIMINGS.rise),
      '--agent-inter',
      String(LB_TIMINGS.agentInterMs),
      '--drainage-interval',
      String(LB_TIMINGS.drainageIntervalSec),
      '--readmit-timeout',
      String(LB_TIMINGS.readmitTimeoutMs),
    ];
    const configure = (...extra: string[]) =>
      rollgateCli(fleet, [
        'lb',
        'configure',
        '--cluster',
        SEED_CLUSTER,
        ...extra,
        ...balancerFlags,
        ...poolFlags,
        ...timingFlags,
      ]);
    await configure('--mode', 'gate-only');
    // 2. Each balancer started on the file `lb haproxy-config --balancer <name>` prints for it.
    for (const name of BALANCERS) {
      balancers[name] = printedBalancer(fleet, name, sockets[name]!);
      await balancers[name].start();
    }
    // 3. Runtime mode over both, with the CLI command the README shows (checked against each).
    await configure();
    const lbConfig = (await fleet.api.lb.show.query({ cluster: SEED_CLUSTER })).config as Record<
      string,
      unknown
    >;
    if (lbConfig.mode !== 'haproxy-runtime')
      throw new Error(`lb configure left cluster ${SEED_CLUSTER} in mode ${String(lbConfig.mode)}`);
    const allUp = async (what: string, timeoutMs = 30_000) => {
      await waitFor(
        what,
        async () => {
          for (const b of BALANCERS) {
            const rows = await balancers[b].stats();
            // 2 admin + 2 license + 2 stream servers on each balancer.
            if (rows.length !== 6 || !rows.every((r) => r.status === 'UP' && r.adminState === 'ready'))
              return false;
          }
          return true;
        },
        timeoutMs,
        200,
      );
    };
    await allUp('both balancers to see every server of every pool UP');
    return {
      fleet,
      editions,
      balancers,
      lbConfig,
      allUp,
      frontends(only = BALANCERS) {
        return Object.fromEntries(
          only.flatMap((b) =>
            Object.entries(balancers[b].frontends).map(([pool, url]) => [`${b}/${pool}`, url] as const),
          ),
        );
      },
      async stop() {
        await Promise.all(BALANCERS.map((b) => balancers[b].stop()));
        await fleet.stop();
        await stopLicense();
      },
    };
  } catch (err) {
    await Promise.all(Object.values(balancers).map((b) => b.stop()));
    await fleet.stop();
    await stopLicense();
    throw err;
  }
}

/**
 * A balancer configured with what `rollgate lb haproxy-config --balancer <name>` prints (through the
 * same API call the CLI makes), with loopback frontends on free ports and its socket under `dir`.
 */
function printedBalancer(fleet: Fleet, name: BalancerName, socketPath: string): SeedBalancer {
  let proc: HaproxyProcess | null = null;
  let config = '';
  let frontends = {} as Record<PoolName, string>;
  const runtime = createHaproxyRuntime({ socketPath, timeoutMs: 15_000 });
  const ports = {} as Record<PoolName, number>;
  /** What `rollgate lb haproxy-config --balancer <name> --socket <path> --bind <pool>=...` prints. */
  const print = () =>
    fleet.api.lb.haproxyConfig.query({
      cluster: SEED_CLUSTER,
      balancer: name,
      socketPath,
      binds: Object.fromEntries(POOLS.map((p) => [p.name, `127.0.0.1:${ports[p.name]}`])),
    });
  const self: SeedBalancer = {
    name,
    socketPath,
    get config() {
      return config;
    },
    get frontends() {
      return frontends;
    },
    get process() {
      return proc;
    },
    runtime,
    stats: async () => (await Promise.all(POOLS.map((p) => runtime.serverStats(p.backend)))).flat(),
    async start() {
      if (proc) return;
      if (config) {
        proc = await startHaproxy({ config });
        return;
      }
      for (let attempt = 1; ; attempt++) {
        for (const p of POOLS) ports[p.name] = await freePort();
        const text = await print();
        try {
          proc = await startHaproxy({ config: text });
        } catch (err) {
          // A port found free may be taken by another process before HAProxy binds it.
          if (attempt < 5 && /Address already in use|cannot bind/i.test((err as Error).message)) continue;
          throw err;
        }
        config = text;
        frontends = Object.fromEntries(
          POOLS.map((p) => [p.name, `http://127.0.0.1:${ports[p.name]}`]),
        ) as Record<PoolName, string>;
        return;
      }
    },
    async stop() {
      const p = proc;
      proc = null;
      await p?.stop();
    },
  };
  return self;
}

/** The real CLI (`npx rollgate …`) against the fleet, signed in as its administrator; its stdout. */
export async function rollgateCli(fleet: Fleet, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
    { cwd: ROOT, env: { ...process.env, ROLLGATE_TOKEN: fleet.admin.token }, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

/** The agents leave services running on purpose (a restarted agent adopts them): stop them here. */
async function stopServices(agents: FleetAgent[], service: string): Promise<void> {
  for (const a of agents) {
    const text = await readFile(join(a.dataDir, 'run', `${service}.json`), 'utf8').catch(() => '');
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
