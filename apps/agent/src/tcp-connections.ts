// Counts a service's ESTABLISHED TCP connections from /proc/net/tcp and /proc/net/tcp6: the drain
// op waits for this to reach zero. Reading /proc works for any service without its cooperation.
import { readFile } from 'node:fs/promises';

const ESTABLISHED = '01';
const LISTEN = '0A';

/** Counts lines of a /proc/net/tcp{,6} table with this local port and TCP state (hex, e.g. '01'). */
function countState(table: string, port: number, wanted: string): number {
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
  return (port) => sumTables(tables, (t) => countEstablished(t, port));
}

/** Returns a function telling whether anything listens on a local TCP port. */
export function createListenCheck(opts: ConnectionCounterOptions = {}): (port: number) => Promise<boolean> {
  const tables = opts.tables ?? ['/proc/net/tcp', '/proc/net/tcp6'];
  return async (port) => (await sumTables(tables, (t) => countListening(t, port))) > 0;
}
