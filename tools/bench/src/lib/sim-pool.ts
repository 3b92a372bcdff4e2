// A pool of simulated-agent processes (sim/agent-worker.ts), each holding a share of the agents.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ConnectResult, Counters, Outage, WorkerRequest } from '../sim/agent-worker';
import { onCleanup, ROOT, stopProcess } from './proc';

export interface SimPool {
  readonly workers: number;
  readonly pids: number[];
  /** Connects `n` agents (sim-00001 …), spread over the workers; resolves when every one has a Welcome or gave up. */
  connect(opts: {
    address: string;
    n: number;
    cluster?: string;
    /** Role of agent i; default alternating role0/role1. */
    role?: (i: number) => string;
    concurrencyPerWorker?: number;
    idPrefix?: string;
    /** Re-dial lost streams with the real agent's jittered back-off; default false. */
    reconnect?: boolean;
  }): Promise<ConnectResult & { ms: number }>;
  startLogs(opts: {
    agents: number;
    batch?: number;
    window?: number;
    messageBytes?: number;
  }): Promise<number>;
  stopLogs(): Promise<void>;
  counters(): Promise<Counters>;
  /** Every lost stream so far (reconnect: true), with when it came back. */
  outages(): Promise<Outage[]>;
  close(): Promise<void>;
}

export function agentId(i: number, prefix = 'sim'): string {
  return `${prefix}-${String(i + 1).padStart(5, '0')}`;
}

export async function startSimPool(workers: number): Promise<SimPool> {
  const children: ChildProcess[] = [];
  const pending = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
  let nextId = 1;
  const entry = join(ROOT, 'tools/bench/src/sim/agent-worker.ts');
  for (let w = 0; w < workers; w++) {
    const child = fork(entry, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Outgoing: as many sockets as agents; keep the default ulimit in mind (20k here).
    });
    child.on('message', (m: { id: number; result: unknown; error?: string }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error) p.rej(new Error(m.error));
      else p.res(m.result);
    });
    child.on('exit', (code, signal) => {
      for (const [id, p] of pending) {
        p.rej(new Error(`sim worker exited (${code ?? signal}) during a request`));
        pending.delete(id);
      }
    });
    children.push(child);
  }
  const stopAll = onCleanup('sim workers', async () => {
    await Promise.all(children.map((c) => stopProcess(c, 3000)));
  });

  const call = <T>(child: ChildProcess, req: WorkerRequest): Promise<T> =>
    new Promise<T>((res, rej) => {
      const id = nextId++;
      pending.set(id, { res: res as (v: unknown) => void, rej });
      child.send({ id, req });
    });
  const all = <T>(req: WorkerRequest) => Promise.all(children.map((c) => call<T>(c, req)));

  return {
    workers,
    pids: children.map((c) => c.pid!),
    async connect({
      address,
      n,
      cluster = 'bench',
      role,
      concurrencyPerWorker = 128,
      idPrefix = 'sim',
      reconnect = false,
    }) {
      const shares: { id: string; role: string }[][] = children.map(() => []);
      for (let i = 0; i < n; i++) {
        shares[i % children.length]!.push({
          id: agentId(i, idPrefix),
          role: role ? role(i) : `role${i % 2}`,
        });
      }
      const t0 = performance.now();
      const parts = await Promise.all(
        children.map((c, w) =>
          call<ConnectResult>(c, {
            t: 'connect',
            address,
            cluster,
            agents: shares[w]!,
            concurrency: concurrencyPerWorker,
            reconnect,
          }),
        ),
      );
      return {
        ms: performance.now() - t0,
        connected: parts.reduce((s, p) => s + p.connected, 0),
        failed: parts.reduce((s, p) => s + p.failed, 0),
        errors: parts.flatMap((p) => p.errors).slice(0, 5),
        welcomeMs: parts.flatMap((p) => p.welcomeMs),
      };
    },
    async startLogs({ agents, batch = 50, window = 10_000, messageBytes = 100 }) {
      const per = Math.ceil(agents / children.length);
      const started = await all<{ agents: number }>({ t: 'logs', agents: per, batch, window, messageBytes });
      return started.reduce((s, x) => s + x.agents, 0);
    },
    async stopLogs() {
      await all({ t: 'logs-stop' });
    },
    async counters() {
      const cs = await all<Counters>({ t: 'counters' });
      const sum = (k: keyof Counters) => cs.reduce((s, c) => s + c[k], 0);
      return {
        acked: sum('acked'),
        sent: sum('sent'),
        actions: sum('actions'),
        drains: sum('drains'),
        ended: sum('ended'),
        rss: sum('rss'),
      };
    },
    async outages() {
      return (await all<Outage[]>({ t: 'outages' })).flat();
    },
    async close() {
      await Promise.all(children.map((c) => call(c, { t: 'close' }).catch(() => undefined)));
      await stopAll();
    },
  };
}
