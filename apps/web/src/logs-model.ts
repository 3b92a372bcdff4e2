/** The live logs: merging what the subscription sends, and the filters it is opened with. */
import type { LogLine, WatchEvent } from './api-types';
import type { Tone } from './view-model';

/** The most lines the page keeps; older ones drop off the top. */
export const MAX_LOG_LINES = 2000;

/**
 * Appends new lines, dropping any already held (a reconnected subscription resends from its start),
 * in id order, keeping the last `cap`. Returns `prev` itself when nothing is new, so React skips a render.
 */
export function mergeLogs(prev: LogLine[], incoming: LogLine[], cap = MAX_LOG_LINES): LogLine[] {
  const lastId = prev.length > 0 ? prev[prev.length - 1]!.id : -1;
  const fresh = incoming.filter((l) => l.id > lastId);
  if (fresh.length === 0) return prev;
  fresh.sort((a, b) => a.id - b.id);
  const merged = prev.concat(fresh);
  return merged.length > cap ? merged.slice(merged.length - cap) : merged;
}

export interface LogFilters {
  serverId: string;
  /** A step index as text ('' for every step). */
  stepIndex: string;
  code: string;
}

export const NO_LOG_FILTERS: LogFilters = { serverId: '', stepIndex: '', code: '' };

export const LOG_CODE = /^RG\d{4}[IWE]$/;

/** The `upgrade.watch` input; a code that is not yet a whole message code is not sent. */
export function watchInput(runId: string, f: LogFilters) {
  const step = f.stepIndex === '' ? undefined : Number(f.stepIndex);
  const code = f.code.trim().toUpperCase();
  return {
    runId,
    ...(f.serverId ? { serverId: f.serverId } : {}),
    ...(step !== undefined && Number.isInteger(step) && step >= 0 ? { stepIndex: step } : {}),
    ...(LOG_CODE.test(code) ? { code } : {}),
  };
}

/** Folds one subscription message into the page's state. */
export function applyWatchEvent<V>(
  state: { view: V | null; logs: LogLine[] },
  event: { view: V | null; logs: WatchEvent['logs'] },
): { view: V | null; logs: LogLine[] } {
  const logs = mergeLogs(state.logs, event.logs);
  const view = event.view ?? state.view;
  return logs === state.logs && view === state.view ? state : { view, logs };
}

export function logTone(level: LogLine['level']): Tone {
  return level === 'error' ? 'bad' : level === 'warn' ? 'warn' : level === 'debug' ? 'idle' : 'active';
}

/** `14:03:07.125` (UTC): log lines are read in order, the date is on the run. */
export function clockTime(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}
