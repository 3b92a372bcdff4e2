// A local fleet of real processes: one coordinator and N agents, each agent managing a demo-app
// instance. Used by `npm start` (the demo) and by the integration tests, so both exercise exactly
// what an operator runs. Everything listens on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@rollgate/api';
import { buildDemoEditions, type DemoEdition } from '@rollgate/demo-app';
import { freePort } from '@rollgate/lb/testing';

/** A TCP port free on loopback right now. */
export { freePort };

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface FleetAgentSpec {
  id: string;
  role: string;
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
}

export interface FleetAgent extends FleetAgentSpec {
  gatePort: number;
  /** HAProxy agent-check port served by the agent. */
  agentCheckPort: number;
  servicePort: number;
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

/** Thrown inside a waitFor probe to stop waiting at once (e.g. the process being waited on died). */
export class FatalWait extends Error {}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err instanceof FatalWait) throw err;
      last = err;
    }
    if (Date.now() > end) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function apiClient(url: string, actor = 'demo-fleet') {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, headers: { 'x-rollgate-actor': actor } })],
  });
}

/** Spawns `node --import tsx <entry>` so the process we hold is the real server, not a wrapper. */
function spawnTs(entry: string, args: string[], env: Record<string, string>, logFile: string | null) {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry), ...args], {
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
  // As root, the embedded PostgreSQL runs as the postgres user, which must reach the data directory.
  await chmod(dir, 0o755);
  const specs = opts.agents ?? DEFAULT_AGENTS;
  const toFile = (opts.output ?? 'files') === 'files';

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
  const httpPort = await pick('http', opts.httpPort);
  const grpcPort = await pick('grpc', opts.grpcPort);
  const editions: DemoEdition[] = await buildDemoEditions(
    join(dir, 'editions'),
    opts.editions ?? ['1.0', '2.0'],
  );
  const base = editions[0]!;

  const agents: FleetAgent[] = [];
  for (const spec of specs) {
    agents.push({
      ...spec,
      gatePort: await pick(`${spec.id}.gate`),
      agentCheckPort: await pick(`${spec.id}.agent-check`),
      servicePort: await pick(`${spec.id}.service`),
      dataDir: join(dir, 'agents', spec.id),
      configPath: join(dir, 'agents', `${spec.id}.json`),
      proc: null,
    });
  }
  if (opts.stablePorts) await writeFile(portsFile, JSON.stringify(saved, null, 2));

  const coordinatorEnv = {
    ROLLGATE_DATA_DIR: join(dir, 'coordinator'),
    ROLLGATE_HTTP_PORT: String(httpPort),
    ROLLGATE_GRPC_PORT: String(grpcPort),
    ROLLGATE_HEARTBEAT_MS: String(opts.heartbeatMs ?? 1000),
    ...opts.coordinatorEnv,
  };
  const url = `http://127.0.0.1:${httpPort}`;
  const api = apiClient(url);
  let coordinator: ChildProcess | null = null;

  async function startCoordinator() {
    coordinator = spawnTs(
      'apps/coordinator/src/main.ts',
      [],
      coordinatorEnv,
      toFile ? join(logsDir, 'coordinator.log') : null,
    );
    const proc = coordinator;
    await waitFor(
      'the coordinator to answer /healthz',
      async () => {
        if (proc.exitCode !== null)
          throw new FatalWait(
            `coordinator exited with code ${proc.exitCode}; see ${join(logsDir, 'coordinator.log')}`,
          );
        return (await fetch(`${url}/healthz`)).ok;
      },
      60_000,
    );
  }

  async function startAgent(a: FleetAgent) {
    await mkdir(a.dataDir, { recursive: true });
    const config = {
      agentId: a.id,
      cluster: 'demo',
      role: a.role,
      coordinator: { address: `127.0.0.1:${grpcPort}` },
      dataDir: a.dataDir,
      gate: { host: '127.0.0.1', port: a.gatePort, agentCheckPort: a.agentCheckPort },
      services: [
        {
          name: 'demo-app',
          port: a.servicePort,
          start: { command: process.execPath, args: ['server.mjs'] },
          healthUrl: `http://127.0.0.1:${a.servicePort}/health`,
          env: { PORT: String(a.servicePort), SERVER_NAME: a.id },
          initialEdition: { name: base.name, archive: base.path },
        },
      ],
    };
    await writeFile(a.configPath, JSON.stringify(config, null, 2));
    a.proc = spawnTs(
      'apps/agent/src/main.ts',
      ['--config', a.configPath],
      {},
      toFile ? join(logsDir, `${a.id}.log`) : null,
    );
  }

  async function uploadEditions() {
    for (const e of editions) {
      const content = await readFile(e.path);
      try {
        await api.editions.upload.mutate({
          app: 'demo-app',
          name: e.name,
          description: `demo-app edition ${e.name}`,
          contentBase64: content.toString('base64'),
        });
      } catch (err) {
        // Restarting the demo finds its editions already uploaded: editions are never overwritten.
        if (!(err instanceof TRPCClientError && err.data?.code === 'CONFLICT')) throw err;
      }
    }
  }

  async function waitConnected(ids = agents.map((a) => a.id)) {
    await waitFor(
      `agents ${ids.join(', ')} to connect with a healthy demo-app`,
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

  await startCoordinator();
  await Promise.all(agents.map(startAgent));
  await waitConnected();
  await uploadEditions();

  return {
    dir,
    url,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    api,
    agents,
    editions,
    get coordinator() {
      return coordinator;
    },
    startCoordinator,
    /** Stops the coordinator: SIGKILL to simulate a crash, SIGTERM for a clean stop. */
    stopCoordinator: (signal: NodeJS.Signals = 'SIGTERM') => kill(coordinator, signal),
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
    async stop() {
      await Promise.all(agents.map((a) => kill(a.proc)));
      await stopDemoApps(agents);
      await kill(coordinator);
    },
  };
}

/** The agents leave their services running on purpose (a restarted agent re-adopts them); stop them here. */
async function stopDemoApps(agents: FleetAgent[]) {
  for (const a of agents) {
    // The agent records each supervised service in <dataDir>/run/<service>.json ({ pid, startTime }).
    const text = await readFile(join(a.dataDir, 'run', 'demo-app.json'), 'utf8').catch(() => '');
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

export type Fleet = Awaited<ReturnType<typeof startFleet>>;
