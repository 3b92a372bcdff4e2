// Where the request being served came from, for the audit log: every mutation's audit entry says
// from where, without each service passing the address along. The HTTP server runs each API call
// inside the caller's origin; the store's appendAudit adds it to the entry's details.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EngineStore } from '@rollgate/engine';

const origin = new AsyncLocalStorage<{ from: string }>();

/** Runs `fn` (and everything it awaits) as serving a request from `from`. */
export function withRequestOrigin<T>(from: string, fn: () => T): T {
  return origin.run({ from }, fn);
}

/** The address of the request being served, if any (the engine's own work has none). */
export function requestOrigin(): string | undefined {
  return origin.getStore()?.from;
}

/**
 * The store, with every audit entry written while serving a request carrying `details.from`
 * (unless the caller set one). Entries the coordinator writes on its own (a scheduled start, an
 * automatic rollback) have none.
 */
export function auditWithOrigin<S extends Pick<EngineStore, 'appendAudit'>>(store: S): S {
  const append = store.appendAudit.bind(store);
  // The stores are plain objects of closures: a copy with one method replaced is the same store.
  return {
    ...store,
    appendAudit: (event: Parameters<EngineStore['appendAudit']>[0]) => {
      const from = requestOrigin();
      return append(
        from === undefined || 'from' in event.details
          ? event
          : { ...event, details: { ...event.details, from } },
      );
    },
  };
}
