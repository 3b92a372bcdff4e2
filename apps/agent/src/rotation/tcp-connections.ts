// Counts a service's ESTABLISHED TCP connections (the drain op waits for this to reach zero) and
// tells whether anything listens on its port, for any service, without its cooperation.
//
// Both used to read and parse all of /proc/net/tcp{,6}, which lists every socket of the machine:
// under Connection: close load it holds tens of thousands of TIME_WAIT entries and one read cost
// ~175 ms, parsed synchronously on the agent's event loop (issue 18.3). Now the listen check is a
// connect probe of the one port (port-probe.ts) and the count asks the kernel for the matching
// sockets only (`ss` with a state and port filter, evaluated in the kernel by inet_diag); the
// /proc scan remains as the fallback where `ss` is missing, and for the bench's comparison.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { isPortListening, type PortProbeOptions } from './port-probe';

const ESTABLISHED = '01';
const LISTEN = '0A';

/**
 * Counts lines of a /proc/net/tcp{,6} table with this local port and TCP state (hex, e.g. '01').
 * It runs on the agent's event loop over tables of tens of thousands of lines, so it walks the
 * text by index instead of splitting it into arrays (several times faster, no garbage per line).
 */
function countState(table: string, port: number, wanted: string): number {
  let n = 0;
  let pos = 0;
  const len = table.length;
  while (pos < len) {
    let end = table.indexOf('\n', pos);
    if (end < 0) end = len;
    // Columns: sl, local_address, rem_address, st — separated by runs of spaces.
    let p = pos;
    let k = 0;
    let localStart = -1;
    let localEnd = -1;
    let stateStart = -1;
    while (k < 4 && p < end) {
      while (p < end && table.charCodeAt(p) <= 32) p++;
      const start = p;
      while (p < end && table.charCodeAt(p) > 32) p++;
      if (p === start) break;
      if (k === 1) {
        localStart = start;
        localEnd = p;
      } else if (k === 3) stateStart = start;
      k++;
    }
    if (k === 4 && p - stateStart === wanted.length && table.startsWith(wanted, stateStart)) {
      const colon = table.lastIndexOf(':', localEnd - 1);
      if (colon >= localStart && parseInt(table.slice(colon + 1, localEnd), 16) === port) n += 1;
    }
    pos = end + 1;
  }
  return n;
}

/** TCP sockets of this network namespace, TIME_WAIT included (/proc/net/sockstat{,6}: cheap). */
export async function tcpSocketCount(): Promise<number> {
  let total = 0;
  for (const [file, re] of [
    ['/proc/net/sockstat', /^TCP: inuse (\d+).*?\btw (\d+)/m],
    ['/proc/net/sockstat6', /^TCP6: inuse (\d+)/m],
  ] as const) {
    try {
      const m = re.exec(await readFile(file, 'utf8'));
      if (m) total += Number(m[1]) + Number(m[2] ?? 0);
    } catch {
      // no such table here
    }
  }
  return total;
}

/**
 * Counts lines of a /proc/net/tcp{,6} table whose local port is `port` and state is ESTABLISHED.
 * Line format: `sl local_address rem_address st ...`, addresses as HEXIP:HEXPORT.
 */
export function countEstablished(table: string, port: number): number {
  return countState(table, port, ESTABLISHED);
}

/** Counts listening sockets on a local port in one table. */
export function countListening(table: string, port: number): number {
  return countState(table, port, LISTEN);
}

export interface ConnectionCounterOptions {
  /** Tables to read; default /proc/net/tcp and /proc/net/tcp6 (a missing one counts as empty). */
  tables?: string[];
  /**
   * How to count: 'ss' asks the kernel for the port's ESTABLISHED sockets only, 'proc' reads the
   * whole tables, 'auto' reads the tables while they are small and asks ss when they hold more
   * than `ssAbove` sockets (TIME_WAIT included). Default 'auto', or 'proc' when `tables` is given
   * (tests read fixture tables).
   */
  method?: 'auto' | 'ss' | 'proc';
  /**
   * 'auto': sockets in the tables above which ss is used; default 2000. Below it a table read
   * costs a few ms, less than starting ss; above it the read and its parse grow with every
   * TIME_WAIT entry while ss's kernel-side filter does not.
   */
  ssAbove?: number;
  /** The ss program; default "ss" on the PATH. */
  ssPath?: string;
}

/** Counts the port's ESTABLISHED sockets (IPv4 and IPv6) with ss; rejects when ss cannot run. */
export function countEstablishedSs(port: number, ssPath = 'ss'): Promise<number> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return Promise.reject(new Error(`not a TCP port: ${port}`));
  }
  return new Promise((resolve, reject) => {
    execFile(
      ssPath,
      ['-H', '-t', '-n', 'state', 'established', `( sport = :${port} )`],
      {
        timeout: 5000,
        maxBuffer: 64 * 1024 * 1024,
        env: { LC_ALL: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      },
      (err, stdout) => {
        if (err) reject(err);
        else resolve(stdout.split('\n').filter((l) => l.trim() !== '').length);
      },
    );
  });
}

async function sumTables(tables: string[], count: (table: string) => number): Promise<number> {
  let total = 0;
  for (const t of tables) {
    try {
      total += count(await readFile(t, 'utf8'));
    } catch (err) {
      // No IPv6 in this kernel/namespace: nothing to count there.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return total;
}

/** Returns a function counting ESTABLISHED connections to a local port across the tables. */
export function createConnectionCounter(
  opts: ConnectionCounterOptions = {},
): (port: number) => Promise<number> {
  const tables = opts.tables ?? ['/proc/net/tcp', '/proc/net/tcp6'];
  const scan = (port: number) => sumTables(tables, (t) => countEstablished(t, port));
  const method = opts.method ?? (opts.tables ? 'proc' : 'auto');
  if (method === 'proc') return scan;
  const ssPath = opts.ssPath ?? 'ss';
  if (method === 'ss') return (port) => countEstablishedSs(port, ssPath);
  // auto: the first failure to run ss (not installed) switches to the tables for good.
  let ssWorks = true;
  const ssAbove = opts.ssAbove ?? 2000;
  return async (port) => {
    if (ssWorks && (await tcpSocketCount()) > ssAbove) {
      try {
        return await countEstablishedSs(port, ssPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        ssWorks = false;
      }
    }
    return scan(port);
  };
}

/** The old listen check: scans the whole tables for a LISTEN socket on the port (bench baseline). */
export function createListenScan(opts: ConnectionCounterOptions = {}): (port: number) => Promise<boolean> {
  const tables = opts.tables ?? ['/proc/net/tcp', '/proc/net/tcp6'];
  return async (port) => (await sumTables(tables, (t) => countListening(t, port))) > 0;
}

export interface ListenCheckOptions extends Omit<PortProbeOptions, 'hosts'> {
  /** Addresses to probe for a port; default 127.0.0.1 and ::1 (port-probe.ts). */
  hostsFor?: (port: number) => readonly string[] | undefined;
}

/**
 * Returns a function telling whether anything listens on a local TCP port: a connect probe of
 * that port only (port-probe.ts), whatever the size of the socket table.
 */
export function createListenCheck(opts: ListenCheckOptions = {}): (port: number) => Promise<boolean> {
  return (port) => isPortListening(port, { hosts: opts.hostsFor?.(port), timeoutMs: opts.timeoutMs });
}
