// Benchmarks (not tests): each prints its figures as JSON, then all of them as a table, and asserts
// nothing. Every process and temp dir a bench starts is removed at the end, on error and on Ctrl-C.
//
//   npm run bench                                   the default set, a few minutes on 2 cores
//   npm run bench -- plan engine                    some of them
//   npm run bench -- agents fanout --sizes 1000,5000,10000
//   npm run bench -- --help
//
// See tools/bench/README.md for what each one measures and how.
import { parseArgs } from 'node:util';
import { printReport, type BenchResult } from './lib/figures';
import { cleanupAll, installCleanup } from './lib/proc';

const BENCHES = [
  'plan',
  'engine',
  'agents',
  'fanout',
  'logs',
  'agent',
  'lb',
  'console',
  'agent-port-check',
  'vs-ansible',
  'cli-startup',
  'edition-upload',
] as const;
type BenchName = (typeof BENCHES)[number];

const USAGE = `usage: npm run bench -- [${BENCHES.join('|')} ...] [options]
  (no names: all of them but console and vs-ansible, at their default sizes)
  --sizes N,N,...        agents and fanout: fleet sizes (default 1000; the issue's set is 1000,5000,10000)
  --rounds N             fanout: dispatch rounds per size (default 5)
  --engine               fanout: also through the engine and PostgreSQL (a run step on every agent)
  --settle-seconds N     agents: steady heartbeating before memory/CPU are read (default 5)
  --cpu-seconds N        agents: window for the coordinator's idle CPU (default 10)
  --log-agents N         logs: agents streaming (default 100)
  --log-seconds N        logs: measured streaming time (default 15)
  --idle-seconds N       agent: window for the real agent's idle CPU (default 20)
  --agent-settle-seconds N  agent: connected and idle before that window opens (default 30)
  --skip-bundle          agent: measure under tsx only (no esbuild bundle)
  --lb-rate N            lb: background load through HAProxy, req/s (default 400)
  --console-servers N    console: fleet size shown in the browser (default 10000; needs the console built)
  --time-wait N          agent-port-check: TIME_WAIT sockets in the table (default 20000)
  --trials N             vs-ansible: trials per load and tool, interleaved (default 1)
  --loads L,L,...        vs-ansible: none, keepalive, close (default all three)
  --skip-ansible         vs-ansible: Rollgate only
  --gate-trials N        vs-ansible: gate-only rollouts of 6 servers (default 1; 0 skips them)
  --readmit-timeout-ms N vs-ansible: the cluster's readmitTimeoutMs (default 3000)
  --peer-dir DIR         vs-ansible: the peer baseline's folder (default ../shared/peer-ansible)
  --cli-runs N           cli-startup: runs per command and variant, median reported (default 10)
  --cli-waits N          cli-startup: rollouts followed with --wait, and with --follow (default 4)
  --upload-mib N         edition-upload: the edition's payload, MiB (default 1024; runs when named)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sizes: { type: 'string' },
    rounds: { type: 'string' },
    'settle-seconds': { type: 'string' },
    'agent-settle-seconds': { type: 'string' },
    'cpu-seconds': { type: 'string' },
    'log-agents': { type: 'string' },
    'log-seconds': { type: 'string' },
    'idle-seconds': { type: 'string' },
    'skip-bundle': { type: 'boolean' },
    'lb-rate': { type: 'string' },
    'console-servers': { type: 'string' },
    'time-wait': { type: 'string' },
    trials: { type: 'string' },
    loads: { type: 'string' },
    'skip-ansible': { type: 'boolean' },
    'gate-trials': { type: 'string' },
    'readmit-timeout-ms': { type: 'string' },
    'peer-dir': { type: 'string' },
    'cli-runs': { type: 'string' },
    'cli-waits': { type: 'string' },
    'upload-mib': { type: 'string' },
    engine: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = positionals.filter((p) => !(BENCHES as readonly string[]).includes(p));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}\n${USAGE}`);
  process.exit(2);
}
const num = (v: string | undefined, def: number) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`expected a positive number, got "${v}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const sizes = (values.sizes ?? '1000').split(',').map((s) => num(s.trim(), 0));
// console needs the built console and a browser: it runs when named (`npm run bench -- console`).
// vs-ansible needs Debian's ansible and wrk and takes minutes: it too runs when named.
// edition-upload writes and uploads a 1 GiB archive (3 GiB of disk for a while): when named too.
const DEFAULT_SET = BENCHES.filter((b) => b !== 'console' && b !== 'vs-ansible' && b !== 'edition-upload');
/** --loads for vs-ansible: a comma list of none, keepalive, close. */
function vsAnsibleLoads(v: string | undefined): ('none' | 'keepalive' | 'close')[] {
  const all = ['none', 'keepalive', 'close'] as const;
  const list = (v ?? all.join(',')).split(',').map((x) => x.trim());
  const bad = list.filter((x) => !(all as readonly string[]).includes(x));
  if (bad.length > 0 || list.length === 0) {
    console.error(`--loads takes none, keepalive and close (comma-separated), got "${v}"\n${USAGE}`);
    process.exit(2);
  }
  return list as ('none' | 'keepalive' | 'close')[];
}
const wanted: BenchName[] = positionals.length > 0 ? (positionals as BenchName[]) : DEFAULT_SET;

installCleanup();

async function run(name: BenchName): Promise<BenchResult> {
  switch (name) {
    case 'edition-upload':
      return (await import('./benches/edition-upload')).benchEditionUpload({
        sizeMiB: num(values['upload-mib'], 1024),
      });
    case 'plan':
      return (await import('./benches/plan')).benchPlan();
    case 'engine':
      return (await import('./benches/engine')).benchEngine();
    case 'agents':
      return (await import('./benches/agents')).benchAgents({
        sizes,
        settleSeconds: num(values['settle-seconds'], 5),
        cpuSeconds: num(values['cpu-seconds'], 10),
      });
    case 'fanout':
      return (await import('./benches/fanout')).benchFanout({
        sizes,
        rounds: num(values.rounds, 5),
        engine: Boolean(values.engine),
      });
    case 'logs':
      return (await import('./benches/logs')).benchLogs({
        agents: num(values['log-agents'], 100),
        seconds: num(values['log-seconds'], 15),
      });
    case 'lb':
      return (await import('./benches/lb')).benchLb({ rate: num(values['lb-rate'], 400) });
    case 'console':
      return (await import('./benches/console')).benchConsole({
        servers: num(values['console-servers'], 10_000),
        rounds: num(values.rounds, 5),
      });
    case 'cli-startup':
      return (await import('./benches/cli-startup')).benchCliStartup({
        runs: num(values['cli-runs'], 10),
        waits: num(values['cli-waits'], 4),
      });
    case 'vs-ansible':
      return (await import('./benches/vs-ansible')).benchVsAnsible({
        trials: num(values.trials, 1),
        loads: vsAnsibleLoads(values.loads),
        skipAnsible: Boolean(values['skip-ansible']),
        gateTrials: values['gate-trials'] === '0' ? 0 : num(values['gate-trials'], 1),
        readmitTimeoutMs: num(values['readmit-timeout-ms'], 3000),
        ...(values['peer-dir'] ? { peerDir: values['peer-dir'] } : {}),
      });
    case 'agent-port-check':
      return (await import('./benches/agent-port-check')).benchAgentPortCheck({
        timeWait: num(values['time-wait'], 20_000),
        rounds: num(values.rounds, 30),
      });
    case 'agent':
      return (await import('./benches/agent')).benchAgent({
        idleSeconds: num(values['idle-seconds'], 20),
        settleSeconds: num(values['agent-settle-seconds'], 30),
        bundle: !values['skip-bundle'],
      });
  }
}

const results: { name: string; result: BenchResult | null; error?: string }[] = [];
for (const name of wanted) {
  process.stderr.write(`bench ${name}…\n`);
  const t0 = performance.now();
  try {
    results.push({ name, result: await run(name) });
  } catch (err) {
    results.push({ name, result: null, error: (err as Error).message });
  } finally {
    // Whatever a failed bench left behind goes before the next one starts.
    await cleanupAll();
  }
  process.stderr.write(`bench ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

printReport(results, {
  at: new Date().toISOString(),
  node: process.version,
  cpus: (await import('node:os')).cpus().length,
});
process.exit(results.some((r) => r.error) ? 1 : 0);
