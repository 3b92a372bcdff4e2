import { isTerminalRun } from '@rollgate/domain';
import type { EditionRecord, ServerRecord, StoredLog } from '@rollgate/engine';
import type { ServersPageInput, WatchInput } from './inputs';

/** One page of the fleet, filtered and sorted on the server so a 10,000-server fleet stays fast. */
export interface ServersPage {
  rows: ServerRecord[];
  /** Servers matching the filters (all pages). */
  total: number;
  /** Counts over the matching servers, for the fleet's health summary. */
  summary: { connected: number; lost: number; disconnected: number; gateClosed: number; unhealthy: number };
  clusters: string[];
  /** Every role in the fleet (for the console's role filter). */
  roles: string[];
}

const health = (s: ServerRecord) =>
  s.services.some((x) => x.health === 'unhealthy' || x.health === 'stopped') ? 'unhealthy' : 'healthy';

export function pageServers(all: ServerRecord[], input: ServersPageInput): ServersPage {
  const q = input.q?.trim().toLowerCase();
  const rows = all.filter(
    (s) =>
      (input.cluster === undefined || s.cluster === input.cluster) &&
      (input.role === undefined || s.role === input.role) &&
      (input.status === undefined || s.status === input.status) &&
      (input.gate === undefined || s.gateOpen === (input.gate === 'open')) &&
      (!q ||
        s.id.toLowerCase().includes(q) ||
        s.hostname.toLowerCase().includes(q) ||
        s.role.toLowerCase().includes(q) ||
        s.services.some((x) => x.activeEdition.toLowerCase() === q || x.installedEditions.includes(q))),
  );
  const key = input.sort;
  const dir = input.desc ? -1 : 1;
  const value = (s: ServerRecord): string | number =>
    key === 'lastHeartbeatAt' ? (s.lastHeartbeatAt ?? 0) : key === 'status' ? s.status : s[key];
  rows.sort((a, b) => {
    const x = value(a);
    const y = value(b);
    return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1) * dir;
  });
  const summary = { connected: 0, lost: 0, disconnected: 0, gateClosed: 0, unhealthy: 0 };
  for (const s of rows) {
    summary[s.status]++;
    if (!s.gateOpen) summary.gateClosed++;
    if (health(s) === 'unhealthy') summary.unhealthy++;
  }
  return {
    rows: rows.slice(input.offset, input.offset + input.limit),
    total: rows.length,
    summary,
    clusters: [...new Set(all.map((s) => s.cluster))].sort(),
    roles: [...new Set(all.map((s) => s.role))].sort(),
  };
}

/** An edition's state on one deployment target (a cluster), as the seed's edition metadata shows it. */
export interface EditionState {
  app: string;
  edition: string;
  cluster: string;
  state: 'ACTIVE' | 'INACTIVE';
  /** Servers of the cluster on which it is active / installed (side by side). */
  activeOn: number;
  installedOn: number;
  servers: number;
}

export function editionStates(editions: EditionRecord[], servers: ServerRecord[]): EditionState[] {
  const clusters = [...new Set(servers.map((s) => s.cluster))].sort();
  const out: EditionState[] = [];
  for (const e of editions) {
    for (const cluster of clusters) {
      const members = servers.filter((s) => s.cluster === cluster);
      const svc = members.map((s) => s.services.find((x) => x.name === e.app)).filter((x) => x !== undefined);
      if (svc.length === 0) continue;
      const activeOn = svc.filter((x) => x.activeEdition === e.name).length;
      const installedOn = svc.filter((x) => x.installedEditions.includes(e.name)).length;
      out.push({
        app: e.app,
        edition: e.name,
        cluster,
        state: activeOn > 0 ? 'ACTIVE' : 'INACTIVE',
        activeOn,
        installedOn,
        servers: members.length,
      });
    }
  }
  return out;
}

/** How often a watch looks for changes; the console's live view is at most this far behind. */
export const WATCH_INTERVAL_MS = 500;

/**
 * The live run view: yields the view whenever the run changes and the new log lines (filtered) as
 * they arrive; ends once the run has ended and its last lines were sent, or when the client leaves.
 */
export async function* watchRun<
  V extends { run: { status: Parameters<typeof isTerminalRun>[0]; version: number } },
>(
  input: WatchInput,
  load: () => Promise<V>,
  logs: (afterId: number) => Promise<StoredLog[]>,
  signal: AbortSignal | undefined,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): AsyncGenerator<{ view: V | null; logs: StoredLog[] }> {
  let afterId = input.afterId ?? 0;
  let lastVersion = -1;
  let lastStepsKey = '';
  for (;;) {
    if (signal?.aborted) return;
    const view = await load();
    const lines = await logs(afterId);
    if (lines.length > 0) afterId = lines[lines.length - 1]!.id;
    const stepsKey = JSON.stringify((view as { steps?: unknown }).steps ?? null);
    const changed = view.run.version !== lastVersion || stepsKey !== lastStepsKey;
    lastVersion = view.run.version;
    lastStepsKey = stepsKey;
    if (changed || lines.length > 0) yield { view: changed ? view : null, logs: lines };
    if (isTerminalRun(view.run.status) && lines.length === 0 && !changed) return;
    await sleep(WATCH_INTERVAL_MS);
  }
}
