import { startCoordinator } from '../lib/coordinator';
import { atMost, MB, percentile, round, type BenchResult, type Figure } from '../lib/figures';
import { cpuPercentOver, cpuSeconds, sleep, waitFor } from '../lib/proc';
import { startSimPool } from '../lib/sim-pool';

export interface AgentsOptions {
  sizes: number[];
  /** Seconds of steady heartbeating before memory and CPU are read. */
  settleSeconds: number;
  /** Seconds over which the coordinator's idle CPU is measured. */
  cpuSeconds: number;
}

/**
 * Connected agents on one coordinator: for each size, a fresh coordinator (embedded PostgreSQL) and
 * that many simulated agents connecting at once from worker processes.
 */
export async function benchAgents(opts: AgentsOptions): Promise<BenchResult> {
  const figures: Figure[] = [];
  for (const n of opts.sizes) {
    const coord = await startCoordinator({ heartbeatMs: 5000 });
    const workers = Math.min(4, Math.max(2, Math.ceil(n / 2500)));
    const pool = await startSimPool(workers);
    try {
      const cpuOf = () => ({
        coordinator: cpuSeconds(coord.pid),
        postgres: coord.postgres().pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0),
        sims: pool.pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0),
      });
      const before = cpuOf();
      const c = await pool.connect({ address: coord.grpcAddress, n });
      const after = cpuOf();
      const busy = (k: keyof typeof before) => round(((after[k] - before[k]) / (c.ms / 1000)) * 100, 0);
      if (c.failed > 0) {
        throw new Error(`${c.failed} of ${n} simulated agents could not connect: ${c.errors.join('; ')}`);
      }
      // The coordinator's own view, through its API.
      const listed = await waitFor(
        `${n} connected servers in servers.list`,
        async () => {
          const servers = await coord.api.servers.list.query({ cluster: 'bench' });
          const connected = servers.filter((s) => s.status === 'connected').length;
          return connected === n ? connected : undefined;
        },
        60_000,
        500,
      );
      await sleep(opts.settleSeconds * 1000);
      const cpu = await cpuPercentOver(coord.pid, opts.cpuSeconds * 1000);
      const rss = coord.rss();
      const pg = coord.postgres();
      const sims = await pool.counters();
      const k = `${n} agents`;
      figures.push(
        {
          bench: 'agents',
          case: `${k}: time to all connected`,
          value: round(c.ms / 1000, 2),
          unit: 's',
          note:
            `Welcome p50 ${round(percentile(c.welcomeMs, 50) / 1000, 2)} s, p99 ${round(percentile(c.welcomeMs, 99) / 1000, 2)} s; ` +
            `servers.list shows ${listed} connected; CPU meanwhile (% of a core): coordinator ${busy('coordinator')}, ` +
            `postgres ${busy('postgres')}, load generator ${busy('sims')}`,
        },
        atMost(
          {
            bench: 'agents',
            case: `${k}: coordinator RSS`,
            value: round(rss / MB, 0),
            unit: 'MB',
            note: 'VmRSS, after the connect storm and steady heartbeats',
          },
          n <= 10_000 ? 1536 : Infinity,
          n === 10_000 ? '≤ 1.5 GB at 10k' : 'toward ≤ 1.5 GB at 10k',
        ),
        {
          bench: 'agents',
          case: `${k}: embedded PostgreSQL`,
          value: round(pg.pssBytes / MB, 0),
          unit: 'MB',
          note: `PSS summed over ${pg.pids.length} postgres processes (shared buffers counted once)`,
        },
        {
          bench: 'agents',
          case: `${k}: coordinator CPU, idle fleet`,
          value: round(cpu, 1),
          unit: '% of a core',
          note: `heartbeats every 5 s, over ${opts.cpuSeconds} s`,
        },
        {
          bench: 'agents',
          case: `${k}: load generator RSS`,
          value: round(sims.rss / MB, 0),
          unit: 'MB',
          note: `${workers} worker processes, ${round(sims.rss / n / 1024, 0)} KB per simulated agent; ${sims.ended} streams ended early`,
        },
      );
    } finally {
      await pool.close();
      await coord.stop();
    }
  }
  return {
    figures,
    method:
      'A real coordinator (node --import tsx apps/coordinator/src/main.ts, embedded PostgreSQL, heartbeat 5 s) ' +
      'and N simulated agents in 2-4 worker processes, each agent on its own gRPC channel (own HTTP/2 ' +
      'connection), sending a valid Hello (cluster bench, roles alternating) and heartbeats, answering ' +
      'RunAction. Agents dial at once, at most 128 Hellos in flight per worker. "Time to all connected" runs ' +
      'from the first dial to the last Welcome (the coordinator sends Welcome after storing the server); ' +
      'servers.list (tRPC) then confirms N connected. RSS from /proc/<pid>/status after the settle time.',
  };
}
