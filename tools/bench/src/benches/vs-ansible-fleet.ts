// What both sides of `vs-ansible` share: the peer baseline's files (../shared/peer-ansible), its
// HAProxy configuration, its service's own logs (the intrinsic stop and start-to-ready times) and
// its wrk load with editions.lua.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../lib/proc';

/** The peer baseline's folder: svc.js, rolling.yml, inventory.ini, ansible.cfg, editions.lua. */
export const DEFAULT_PEER_DIR = join(ROOT, '../shared/peer-ansible');

export type Load = 'none' | 'keepalive' | 'close';
export const LOADS: readonly Load[] = ['none', 'keepalive', 'close'];

/** Checks that the peer folder has what the bench runs, and says what is missing. */
export function checkPeerDir(dir: string): void {
  const missing = ['svc.js', 'rolling.yml', 'inventory.ini', 'ansible.cfg', 'editions.lua'].filter(
    (f) => !existsSync(join(dir, f)),
  );
  if (missing.length > 0)
    throw new Error(`${dir} lacks ${missing.join(', ')}: pass --peer-dir <the peer-ansible folder>`);
}

/** Debian's ansible, haproxy and wrk, installed when missing (as the test suite installs its own). */
export function ensureTools(): void {
  execFileSync(
    'bash',
    [
      join(ROOT, 'tools/scripts/ensure-system-deps.sh'),
      'ansible-playbook:ansible',
      'wrk:wrk',
      'haproxy:haproxy',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
}

export interface HaproxyServerLine {
  name: string;
  port: number;
  /** HAProxy's agent-check port (gate-only); none: the service check only, as the peer. */
  agentCheckPort?: number;
}

export interface PeerHaproxyOptions {
  socketPath: string;
  frontPort: number;
  servers: HaproxyServerLine[];
  /** Check interval, ms; default 1000 (the peer's `inter 1s`). */
  interMs?: number;
  fall?: number;
  rise?: number;
}

/**
 * The peer's haproxy.cfg (run.sh's setup_fleet): HTTP check on the service's /health, `inter 1s
 * fall 2 rise 2`, the runtime socket at level admin, only abnormal requests logged. Gate-only adds
 * an agent-check on the agent's port at the same interval.
 */
export function peerHaproxyConfig(o: PeerHaproxyOptions): string {
  const inter = o.interMs ?? 1000;
  const fall = o.fall ?? 2;
  const rise = o.rise ?? 2;
  return `global
    stats socket ${o.socketPath} mode 600 level admin
    stats timeout 30s
    maxconn 4096
    log stdout format iso local0 info

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s

frontend fe
    bind 127.0.0.1:${o.frontPort}
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /health
${o.servers
  .map(
    (s) =>
      `    server ${s.name} 127.0.0.1:${s.port} check inter ${inter}ms fall ${fall} rise ${rise}` +
      (s.agentCheckPort
        ? ` agent-check agent-addr 127.0.0.1 agent-port ${s.agentCheckPort} agent-inter ${inter}ms`
        : ''),
  )
  .join('\n')}
`;
}

/** Writes `<dir>/<name>/EDITION` (the peer's editions are a one-line file). */
export async function writeEditionDir(dir: string, name: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'EDITION'), `${name}\n`);
  return d;
}

/** Packs `cwd`'s `entries` into a .tar.gz with Debian's tar. */
export function tarGz(file: string, cwd: string, entries: string[]): void {
  execFileSync('tar', ['-C', cwd, '-czf', file, ...entries]);
}

// ---------------------------------------------------------------- the service's own log

interface SvcEvent {
  ev: 'start' | 'ready' | 'sigterm' | 'exit';
  t: number;
  pid: number;
  proc_start?: number | null;
  time_origin?: number;
  edition?: string;
}

export interface ServerIntrinsic {
  /** exit − sigterm of the process stopped in the window, s. */
  stopS: number | null;
  /** ready − kernel start of the process started in the window, s. */
  startToReadyS: number | null;
  sigtermAt: number | null;
  startAt: number | null;
  readyAt: number | null;
}

/**
 * From svc.js's JSON lines: the process that got SIGTERM within [from, to] and the one that started
 * within it (as summarize.py computes them, with the kernel start time of the process).
 */
export function intrinsicFromSvcLog(text: string, from: number, to: number): ServerIntrinsic {
  const procs = new Map<number, Partial<Record<SvcEvent['ev'], SvcEvent>>>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as SvcEvent;
      const p = procs.get(e.pid) ?? {};
      p[e.ev] = e;
      procs.set(e.pid, p);
    } catch {
      // a torn line
    }
  }
  const out: ServerIntrinsic = {
    stopS: null,
    startToReadyS: null,
    sigtermAt: null,
    startAt: null,
    readyAt: null,
  };
  for (const p of procs.values()) {
    if (p.sigterm && p.exit && p.sigterm.t >= from && p.sigterm.t <= to) {
      out.stopS = (p.exit.t - p.sigterm.t) / 1000;
      out.sigtermAt = p.sigterm.t;
    }
    const started = p.start ? (p.start.proc_start ?? p.start.time_origin ?? p.start.t) : null;
    if (p.start && p.ready && started !== null && started >= from && started <= to) {
      out.startToReadyS = (p.ready.t - started) / 1000;
      out.startAt = started;
      out.readyAt = p.ready.t;
    }
  }
  return out;
}

/** Σ over the servers of stop + start-to-ready, s (the peer's "intrinsic time"). */
export function sumIntrinsic(servers: ServerIntrinsic[]): number {
  return servers.reduce((s, x) => s + (x.stopS ?? 0) + (x.startToReadyS ?? 0), 0);
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------- wrk with editions.lua

export interface WrkReport {
  requests: number;
  /** Answers other than 2xx plus socket errors (connect, read, write, timeout). */
  failed: number;
  non2xx: number;
  errors: Record<string, number>;
  counts: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
}

export interface RunningWrk {
  /** SIGINT (wrk prints its summary), then the parsed EDITIONS_JSON line. */
  stop(): Promise<WrkReport>;
}

/**
 * The peer's load: `wrk -t2 -c8 --timeout 5s -s editions.lua URL [-- close]`, closed loop at full
 * speed, until stopped (at most `maxSeconds`).
 */
export function startWrk(
  peerDir: string,
  url: string,
  load: Exclude<Load, 'none'>,
  maxSeconds = 300,
): RunningWrk {
  const args = [
    '-t2',
    '-c8',
    `-d${maxSeconds}s`,
    '--timeout',
    '5s',
    '-s',
    join(peerDir, 'editions.lua'),
    url,
  ];
  if (load === 'close') args.push('--', 'close');
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop() {
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      const m = /^EDITIONS_JSON (.*)$/m.exec(out);
      if (!m) throw new Error(`wrk printed no EDITIONS_JSON line:\n${out.slice(-2000)}`);
      const j = JSON.parse(m[1]!) as {
        requests: number;
        errors: Record<string, number>;
        counts: Record<string, number>;
        latency_us: { p50: number; p99: number; max: number };
      };
      const non2xx = Object.entries(j.counts)
        .filter(([k]) => !k.startsWith('2'))
        .reduce((s, [, v]) => s + v, 0);
      const sock = ['connect', 'read', 'write', 'timeout'].reduce((s, k) => s + (j.errors[k] ?? 0), 0);
      return {
        requests: j.requests,
        failed: non2xx + sock,
        non2xx,
        errors: j.errors,
        counts: j.counts,
        latencyMs: {
          p50: j.latency_us.p50 / 1000,
          p99: j.latency_us.p99 / 1000,
          max: j.latency_us.max / 1000,
        },
      };
    },
  };
}

/** The editions the load balancer serves now (8 requests, as run.sh's after.txt). */
export async function editionsServed(url: string): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) {
    try {
      const body = (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as {
        edition?: string;
      };
      seen.add(body.edition ?? '?');
    } catch (err) {
      seen.add(`error: ${(err as Error).message}`);
    }
  }
  return [...seen].sort();
}
