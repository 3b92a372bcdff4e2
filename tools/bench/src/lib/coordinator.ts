// A real coordinator process (embedded PostgreSQL in a fresh temp data dir), as an operator runs it.
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import { ensureAdmin } from '@rollgate/demo-fleet';
import {
  descendants,
  freePort,
  onCleanup,
  postmasterPid,
  pssBytes,
  ROOT,
  rssBytes,
  spawnTracked,
  stopProcess,
  tempDir,
  waitFor,
} from './proc';

export type Api = ReturnType<typeof apiClient>;

/** A client that signs its calls with the session `token()` returns (read at every call). */
export function apiClient(url: string, token: () => string | undefined = () => undefined) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/trpc`,
        headers: () => {
          const t = token();
          return { 'x-rollgate-actor': 'bench', ...(t ? { authorization: `Bearer ${t}` } : {}) };
        },
      }),
    ],
  });
}

export interface CoordinatorProcess {
  pid: number;
  url: string;
  /** The administrator the bench created (for a browser to sign in as). */
  admin: { username: string; password: string };
  grpcAddress: string;
  dataDir: string;
  api: Api;
  /** The coordinator's own RSS, bytes. */
  rss(): number;
  /** The embedded PostgreSQL: every process of the cluster, PSS summed (shared buffers counted once). */
  postgres(): { pids: number[]; pssBytes: number; rssPostmaster: number };
  /** Connection settings of the embedded database (from its state file in our temp dir). */
  pgConnection(): { host: string; port: number; user: string; password: string; database: string };
  stop(): Promise<void>;
}

export interface StartCoordinatorOptions {
  heartbeatMs?: number;
  logLevel?: string;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/x']. */
  nodeArgs?: string[];
}

/** Extra node flags for the coordinator: the option, plus BENCH_COORDINATOR_NODE_ARGS (for profiling). */
function nodeArgs(opts: StartCoordinatorOptions): string[] {
  const fromEnv = (process.env.BENCH_COORDINATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return [...(opts.nodeArgs ?? []), ...fromEnv];
}

/**
 * Starts `node --import tsx apps/coordinator/src/main.ts` with a fresh data dir and free ports and
 * waits until its API answers. Its stdout/stderr go to `<dataDir>/coordinator.log`.
 */
export async function startCoordinator(opts: StartCoordinatorOptions = {}): Promise<CoordinatorProcess> {
  const dir = tempDir('coord');
  const [httpPort, grpcPort, enrolPort] = [await freePort(), await freePort(), await freePort()];
  const logFile = join(dir.path, 'coordinator.log');
  const out = createWriteStream(logFile);
  const { child } = spawnTracked(
    'coordinator',
    process.execPath,
    [...nodeArgs(opts), '--import', 'tsx', join(ROOT, 'apps/coordinator/src/main.ts')],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ROLLGATE_DATA_DIR: dir.path,
        ROLLGATE_HTTP_PORT: String(httpPort),
        ROLLGATE_GRPC_PORT: String(grpcPort),
        ROLLGATE_HEARTBEAT_MS: String(opts.heartbeatMs ?? 5000),
        ROLLGATE_LOG_LEVEL: opts.logLevel ?? 'info',
        // The simulated agents speak plaintext gRPC on loopback and do not enrol (docs/adr/0013:
        // insecure agents are for benches and tests); the enrolment server gets a free port so that
        // coordinators started at once do not meet on the default 7402.
        ROLLGATE_INSECURE_AGENTS: '1',
        ROLLGATE_ENROL_PORT: String(enrolPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      graceMs: 30_000,
    },
  );
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const pgDir = join(dir.path, 'pg');
  // If the coordinator died without stopping its PostgreSQL (own process group), stop it here: it
  // is the cluster in our own temp dir, so its postmaster.pid names a process we started.
  const killPg = onCleanup('embedded postgres', async () => {
    const pid = postmasterPid(pgDir);
    if (pid === null) return;
    process.kill(pid, 'SIGINT'); // fast shutdown
    await waitFor('postgres to stop', () => (postmasterPid(pgDir) === null ? true : undefined), 10_000).catch(
      () => process.kill(pid, 'SIGKILL'),
    );
  });
  const url = `http://127.0.0.1:${httpPort}`;
  const session: { token?: string } = {};
  const api = apiClient(url, () => session.token);
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor(
    'the coordinator API',
    async () => {
      if (exited) {
        throw new Error(
          `coordinator exited during start; its log:\n${readFileSync(logFile, 'utf8').slice(-2000)}`,
        );
      }
      const h = await api.health.query();
      return h.ok ? true : undefined;
    },
    90_000,
    200,
  ).catch((err: Error) => {
    // An exit is final: surface it instead of the last connection error.
    if (exited)
      throw new Error(
        `coordinator exited during start; its log:\n${readFileSync(logFile, 'utf8').slice(-2000)}`,
      );
    throw err;
  });
  // The API wants a session: the bench is this fresh coordinator's first administrator.
  const admin = await ensureAdmin(url, join(dir.path, 'admin-password'), join(dir.path, 'bootstrap-secret'));
  session.token = admin.token;
  const pid = child.pid!;
  return {
    pid,
    url,
    admin: { username: admin.username, password: admin.password },
    grpcAddress: `127.0.0.1:${grpcPort}`,
    dataDir: dir.path,
    api,
    rss: () => rssBytes(pid),
    postgres() {
      const pm = postmasterPid(pgDir);
      if (pm === null) return { pids: [], pssBytes: NaN, rssPostmaster: NaN };
      const pids = [pm, ...descendants(pm)];
      return {
        pids,
        pssBytes: pids.reduce((s, p) => s + (pssBytes(p) || 0), 0),
        rssPostmaster: rssBytes(pm),
      };
    },
    pgConnection() {
      const state = JSON.parse(readFileSync(join(dir.path, 'pg-state.json'), 'utf8')) as {
        port: number;
        password: string;
      };
      return {
        host: '127.0.0.1',
        port: state.port,
        user: 'postgres',
        password: state.password,
        database: 'rollgate',
      };
    },
    async stop() {
      await stopProcess(child, 30_000);
      await killPg();
      // BENCH_KEEP_LOGS=<dir>: keep the coordinator's log (and PostgreSQL's) for a post-mortem.
      const keep = process.env.BENCH_KEEP_LOGS;
      if (keep) {
        mkdirSync(keep, { recursive: true });
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        copyFileSync(logFile, join(keep, `coordinator-${stamp}.log`));
        if (existsSync(join(dir.path, 'postgres.log'))) {
          copyFileSync(join(dir.path, 'postgres.log'), join(keep, `postgres-${stamp}.log`));
        }
      }
      await dir.remove();
    },
  };
}
