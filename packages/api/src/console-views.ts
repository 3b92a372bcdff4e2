import { isTerminalRun } from '@rollgate/domain';
import type { EditionRecord, EngineStore, ServerPage, ServerRecord, StoredLog } from '@rollgate/engine';
import type { ServersPageInput, WatchInput } from './inputs';

/**
 * One page of the fleet, filtered, sorted and counted by the store (SQL in PostgreSQL), so a poll
 * of a 10,000-server fleet reads one page of rows, not every server.
 */
export type ServersPage = ServerPage;

export function pageServers(
  store: Pick<EngineStore, 'pageServers'>,
  input: ServersPageInput,
): Promise<ServersPage> {
  const search = input.q?.trim();
  return store.pageServers({
    ...(input.cluster !== undefined ? { cluster: input.cluster } : {}),
    ...(input.role !== undefined ? { role: input.role } : {}),
    ...(input.status !== undefined ? { status: input.status } : {}),
    ...(input.gate !== undefined ? { gateOpen: input.gate === 'open' } : {}),
    ...(search ? { search } : {}),
    sort: input.sort,
    desc: input.desc,
    offset: input.offset,
    limit: input.limit,
  });
}

/** An edition's state on one deployment target (a cluster), as the seed's edition metadata shows it. */
export interface EditionState {
  app: string;
  edition: string;
  cluster: string;
  /** VALIDATING: not active, but a validation clone (second instances) of the target runs it. */
  state: 'ACTIVE' | 'INACTIVE' | 'VALIDATING';
  /** Servers of the cluster on which it is active / installed (side by side). */
  activeOn: number;
  /** Servers whose second instance runs it (the validation clone). */
  cloneOn: number;
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
      const cloneOn = svc.filter((x) => x.besideEdition === e.name && x.activeEdition !== e.name).length;
      out.push({
        app: e.app,
        edition: e.name,
        cluster,
        state: activeOn > 0 ? 'ACTIVE' : cloneOn > 0 ? 'VALIDATING' : 'INACTIVE',
        activeOn,
        cloneOn,
        installedOn,
        servers: members.length,
      });
    }
  }
  return out;
}

/**
 * How often a watch looks for changes when nothing wakes it (see run-changes.ts: a change made in
 * this process wakes it at once); the console's live view is at most this far behind.
 */
export const WATCH_INTERVAL_MS = 500;
/**
 * After the run has ended, the watch ends once no line has come for this long: the run's last lines
 * (the coordinator's log writer flushes every 200 ms) are still sent, and `--follow` ends soon after.
 * Not waited when `linesStored` says every line is stored already (docs/adr/0055).
 */
export const WATCH_END_QUIET_MS = 300;

/**
 * The live run view: yields the view whenever the run changes and the new log lines (filtered) as
 * they arrive; ends once the run has ended and its last lines were sent, or when the client leaves.
 * `linesStored`, asked once the run has ended, resolves true when every line of the run is stored
 * (then the watch sends what is left and ends at once, without waiting for quiet).
 */
export async function* watchRun<
  V extends { run: { status: Parameters<typeof isTerminalRun>[0]; version: number } },
>(
  input: WatchInput,
  load: () => Promise<V>,
  logs: (afterId: number) => Promise<StoredLog[]>,
  signal: AbortSignal | undefined,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  linesStored: () => Promise<boolean> = () => Promise.resolve(false),
): AsyncGenerator<{ view: V | null; logs: StoredLog[] }> {
  let afterId = input.afterId ?? 0;
  let lastVersion = -1;
  let lastStepsKey = '';
  for (;;) {
    if (signal?.aborted) return;
    const view = await load();
    const ended = isTerminalRun(view.run.status);
    // Asked before the lines are read: a true answer covers every line written until now.
    const complete = ended && (await linesStored());
    let lines = await logs(afterId);
    if (lines.length > 0) afterId = lines[lines.length - 1]!.id;
    const stepsKey = JSON.stringify((view as { steps?: unknown }).steps ?? null);
    const changed = view.run.version !== lastVersion || stepsKey !== lastStepsKey;
    lastVersion = view.run.version;
    lastStepsKey = stepsKey;
    if (changed || lines.length > 0) yield { view: changed ? view : null, logs: lines };
    if (complete) {
      // A page is bounded (queries.watchLogs): read on until nothing is left.
      while (lines.length > 0 && !signal?.aborted) {
        lines = await logs(afterId);
        if (lines.length === 0) break;
        afterId = lines[lines.length - 1]!.id;
        yield { view: null, logs: lines };
      }
      return;
    }
    if (ended && lines.length === 0 && !changed) return;
    await sleep(ended ? WATCH_END_QUIET_MS : WATCH_INTERVAL_MS);
  }
}
