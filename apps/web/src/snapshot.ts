/**
 * One poll of the coordinator, and how it folds into what the console shows. Kept apart from React
 * so the states (connecting, connected, unreachable, no run yet) are unit-tested without a browser.
 */
import type { ConsoleClient, RunView, ServerRow } from './api-types';

export type Connection = 'connecting' | 'connected' | 'unreachable';

export interface Snapshot {
  connection: Connection;
  /** Coordinator version from `health`, once known. */
  version: string | null;
  /** null until the first successful read. */
  servers: ServerRow[] | null;
  /** The latest run; null when there is none yet or it has not been read. */
  run: RunView | null;
  /** True once the coordinator answered that there is no run at all. */
  noRunYet: boolean;
  /** Why the console is not showing live data (unreachable), or a failed read; null when all is well. */
  error: string | null;
  /** When data last arrived (epoch ms), to show how stale it is. */
  updatedAt: number | null;
  /** The time the snapshot was taken; ages are computed against it so rendering stays pure. */
  now: number;
}

export const INITIAL_SNAPSHOT: Snapshot = {
  connection: 'connecting',
  version: null,
  servers: null,
  run: null,
  noRunYet: false,
  error: null,
  updatedAt: null,
  now: 0,
};

type PollClient = {
  health: Pick<ConsoleClient['health'], 'query'>;
  servers: { list: Pick<ConsoleClient['servers']['list'], 'query'> };
  upgrade: { status: Pick<ConsoleClient['upgrade']['status'], 'query'> };
};

interface ErrorInfo {
  /** The coordinator (or the console's server) did not answer: show the unreachable state. */
  unreachable: boolean;
  /** tRPC error code when the coordinator answered with one. */
  code: string | null;
  message: string;
}

/** Reads a tRPC client error without importing the class (works for any thrown value). */
export function errorInfo(err: unknown): ErrorInfo {
  const e = err as { message?: unknown; data?: { code?: unknown } | null };
  const code = typeof e?.data?.code === 'string' ? e.data.code : null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // BAD_GATEWAY / GATEWAY_TIMEOUT come from our route handler; no code at all means the console's
  // own server did not answer (the browser's fetch failed).
  const unreachable = code === null || code === 'BAD_GATEWAY' || code === 'GATEWAY_TIMEOUT';
  return {
    unreachable,
    code,
    message: code === null ? `The console's server does not answer (${message}).` : message,
  };
}

/** Polls health, servers and the latest run at once, and folds the answers into the previous snapshot. */
export async function poll(client: PollClient, prev: Snapshot, now: number): Promise<Snapshot> {
  const [health, servers, run] = await Promise.allSettled([
    client.health.query(),
    client.servers.list.query({}),
    client.upgrade.status.query({}),
  ]);
  if (health.status === 'rejected') {
    const info = errorInfo(health.reason);
    // Keep the last data on screen (marked stale) rather than blanking the page during a restart.
    return { ...prev, connection: info.unreachable ? 'unreachable' : 'connected', error: info.message, now };
  }
  const next: Snapshot = {
    ...prev,
    connection: 'connected',
    version: health.value.version,
    error: null,
    now,
  };
  const errors: string[] = [];
  if (servers.status === 'fulfilled') next.servers = servers.value;
  else errors.push(errorInfo(servers.reason).message);
  if (run.status === 'fulfilled') {
    next.run = run.value;
    next.noRunYet = false;
  } else {
    const info = errorInfo(run.reason);
    if (info.code === 'NOT_FOUND') {
      next.run = null;
      next.noRunYet = true;
    } else {
      errors.push(info.message);
    }
  }
  if (errors.length > 0) next.error = errors.join(' ');
  else next.updatedAt = now;
  return next;
}
