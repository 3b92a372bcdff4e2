// The agent's port check and connection count with tens of thousands of TIME_WAIT sockets in the
// socket table (issue 18.3): the old whole-table scan of /proc/net/tcp{,6} against the new connect
// probe of the one port, and the drain's connection count by table scan against `ss` filtered by
// state and port in the kernel.
//
// When the bench runs as root and `unshare` is there, the measurement runs in a network namespace
// of its own (loopback only): its TIME_WAIT sockets never reach the tables other processes on the
// machine read, and `tcp_tw_reuse` can be turned off there so that loopback keeps them.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
// The agent's own functions, so the figures are the real code's.
// eslint-disable-next-line @nx/enforce-module-boundaries
import {
  countEstablished,
  createConnectionCounter,
  createListenCheck,
} from '@rollgate/agent/src/rotation/tcp-connections';
import { median, percentile, round, type BenchResult, type Figure } from '../lib/figures';
import { ROOT } from '../lib/proc';

const WORKER_FLAG = '--agent-port-check-worker';
const PER_SERVER = 5000; // connections per server port: well inside the ephemeral range

export interface PortCheckOptions {
  /** TIME_WAIT sockets to create; default 20000. */
  timeWait: number;
  /** Timed calls per method, interleaved; default 30. */
  rounds: number;
}

interface Timings {
  timeWait: number;
  namespace: string;
  rows: { method: string; tableSize: 'empty' | 'full'; samples: number[]; answer: string }[];
}

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];

/** The agent's check before issue 18.3, verbatim: both tables read, split into arrays per line. */
function splitCount(table: string, port: number, wanted: string): number {
  let n = 0;
  for (const line of table.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    const state = cols[3];
    if (!local || state !== wanted) continue;
    const colon = local.lastIndexOf(':');
    if (colon < 0) continue;
    if (parseInt(local.slice(colon + 1), 16) === port) n += 1;
  }
  return n;
}

const oldScan = (wanted: string) => async (port: number) => {
  let n = 0;
  for (const t of TABLES) n += splitCount(await readFile(t, 'utf8').catch(() => ''), port, wanted);
  return n;
};

/** TIME_WAIT sockets now in this namespace (/proc/net/sockstat "tw"). */
function timeWaitCount(): number {
  const m = /^TCP:.*\btw (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => {});
    s.resume();
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { server, port: addr.port };
}

/** The client closes first, so each client socket ends in TIME_WAIT for 60 s. */
async function makeTimeWait(n: number, ports: number[]): Promise<void> {
  let next = 0;
  const one = (port: number) =>
    new Promise<void>((resolve) => {
      const c = connect({ port, host: '127.0.0.1' }, () => c.end());
      c.resume();
      c.on('close', () => resolve());
      c.on('error', () => resolve());
    });
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < n) {
        const i = next++;
        await one(ports[i % ports.length]!);
      }
    }),
  );
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

/** Runs in the namespace (or in-process): builds the table, times each method. */
async function measure(opts: PortCheckOptions, namespace: string): Promise<Timings> {
  const servers = await Promise.all(
    Array.from({ length: Math.max(1, Math.ceil(opts.timeWait / PER_SERVER)) }, () => listen()),
  );
  const target = servers[0]!;
  const closed = await listen(); // a port known to be free once it is closed again
  closed.server.close();
  const listenOld = oldScan('0A');
  const methods = {
    'listen: /proc scan, split parser (old)': async (port: number) => (await listenOld(port)) > 0,
    'listen: connect probe (new)': createListenCheck(),
    'count: /proc scan, split parser (old)': oldScan('01'),
    'count: /proc scan, index parser': createConnectionCounter({ method: 'proc' }),
    'count: ss filtered': createConnectionCounter({ method: 'ss' }),
    'count: auto (new: index parser ≤ 2000 sockets, else ss)': createConnectionCounter(),
  } as const;
  /** The synchronous share of a scan (the agent's event loop is blocked for it), per parser. */
  const parseOnly = async () => {
    const texts = await Promise.all(TABLES.map((t) => readFile(t, 'utf8').catch(() => '')));
    const [a] = await time(async () => texts.reduce((n, t) => n + splitCount(t, target.port, '01'), 0));
    const [b] = await time(async () => texts.reduce((n, t) => n + countEstablished(t, target.port), 0));
    return { split: a, index: b };
  };
  const rows: Timings['rows'] = [];
  const run = async (tableSize: 'empty' | 'full', rounds: number) => {
    const samples = new Map<string, { s: number[]; answer: string }>();
    const split: number[] = [];
    const index: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const po = await parseOnly();
      split.push(po.split);
      index.push(po.index);
      for (const [name, fn] of Object.entries(methods)) {
        const [ms, v] = await time(() => (fn as (p: number) => Promise<unknown>)(target.port));
        const e = samples.get(name) ?? { s: [], answer: String(v) };
        e.s.push(ms);
        samples.set(name, e);
      }
    }
    for (const [method, e] of samples) rows.push({ method, tableSize, samples: e.s, answer: e.answer });
    rows.push({
      method: 'parse only, event loop blocked: split (old)',
      tableSize,
      samples: split,
      answer: '-',
    });
    rows.push({
      method: 'parse only, event loop blocked: index (new)',
      tableSize,
      samples: index,
      answer: '-',
    });
  };
  await run('empty', Math.min(10, opts.rounds));
  await makeTimeWait(
    opts.timeWait,
    servers.map((s) => s.port),
  );
  const tw = timeWaitCount();
  await run('full', opts.rounds);
  // The probe's other answer: a port nobody listens on.
  const probe = createListenCheck();
  const free: number[] = [];
  let freeAnswer = '';
  for (let r = 0; r < opts.rounds; r++) {
    const [ms, v] = await time(() => probe(closed.port));
    free.push(ms);
    freeAnswer = String(v);
  }
  rows.push({
    method: 'listen: connect probe (new), free port',
    tableSize: 'full',
    samples: free,
    answer: freeAnswer,
  });
  for (const s of servers) s.server.close();
  return { timeWait: tw, namespace, rows };
}

/** Runs the measurement in a fresh network namespace when possible (root + unshare). */
async function inNamespace(opts: PortCheckOptions): Promise<Timings | null> {
  if (process.getuid?.() !== 0) return null;
  const self = fileURLToPath(import.meta.url);
  const script = [
    'ip link set lo up',
    'sysctl -qw net.ipv4.tcp_tw_reuse=0 || true',
    `exec "${process.execPath}" --import tsx "${self}" ${WORKER_FLAG} ${opts.timeWait} ${opts.rounds}`,
  ].join(' && ');
  return new Promise((resolve) => {
    const child = spawn('unshare', ['--net', '--', 'sh', '-c', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', () => resolve(null));
    child.on('close', (code) => {
      if (code !== 0) return resolve(null);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Timings);
      } catch {
        resolve(null);
      }
    });
  });
}

export async function benchAgentPortCheck(opts: PortCheckOptions): Promise<BenchResult> {
  const t =
    (await inNamespace(opts)) ??
    (await measure(opts, 'the machine’s own (not root or no unshare: TIME_WAIT sockets are shared)'));
  const figures: Figure[] = [];
  for (const r of t.rows) {
    const c = `${r.method}, ${r.tableSize === 'full' ? `${t.timeWait} TIME_WAIT` : 'empty table'}`;
    figures.push({
      bench: 'agent-port-check',
      case: `${c}, median`,
      value: round(median(r.samples), 2),
      unit: 'ms',
      note: `answer ${r.answer}; p95 ${round(percentile(r.samples, 95), 2)} ms; ${r.samples.length} calls`,
    });
  }
  return {
    figures,
    method:
      `Network namespace: ${t.namespace}. ${t.timeWait} TIME_WAIT sockets (from /proc/net/sockstat) made by ` +
      `loopback connections the client closes first, spread over ${Math.ceil(opts.timeWait / PER_SERVER)} listening ` +
      'ports; then each method is called in turn on one listening port, interleaved, and timed end to end ' +
      '(wall clock, including the read and parse of /proc/net/tcp{,6}, or the connect, or the ss process). ' +
      '"empty table" rounds run before the TIME_WAIT sockets exist.',
  };
}

// The worker inside the namespace prints its timings as one JSON line.
const at = process.argv.indexOf(WORKER_FLAG);
if (at >= 0) {
  const timeWait = Number(process.argv[at + 1]);
  const rounds = Number(process.argv[at + 2]);
  measure({ timeWait, rounds }, 'a fresh one (unshare --net, loopback only, tcp_tw_reuse=0)')
    .then((t) => {
      process.stdout.write(`${JSON.stringify(t)}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`agent-port-check worker: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
