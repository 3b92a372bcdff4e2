import { isTerminalRun } from '@rollgate/domain';
import type { EngineLogger } from './engine-types';
import {
  StaleLeaseError,
  type Clock,
  type EngineStore,
  type Fence,
  type Lease,
  type RunLeases,
} from './ports';

export interface LeaseContext {
  /** None: this engine is the only one and leads every run (no fences). */
  leases: RunLeases | undefined;
  /** This engine's name as a lease holder. */
  holder: string;
  /** How long a lease lasts without renewal, in ms (by the store's clock). */
  ttlMs: number;
  clock: Clock;
  log: EngineLogger;
  store: Pick<EngineStore, 'getRun'>;
  /** Work is still queued for the run: an ended run's lease is kept until it is done. */
  busy: (runId: string) => boolean;
}

/** Which runs this engine leads, and the fence every write for one of them carries. */
export interface LeaseKeeper {
  /** Whether this engine holds the run's lease now (always true without leases). */
  leadsNow(runId: string): boolean;
  /**
   * Makes sure this engine leads the run: 'held' (already), the lease (just acquired, with a new
   * token) or null (another coordinator leads it). `force` takes it over whatever its state.
   */
  lead(runId: string, force?: boolean): Promise<'held' | Lease | null>;
  /** The fence of a write for `runId`: refused (StaleLeaseError) when this engine does not lead it. */
  fenceOf(runId: string): Fence | undefined;
  /** Forgets a lease that the store refused or that lapsed: this engine stops evaluating the run. */
  lost(runId: string, why: string, token?: number): void;
  /** Renews every held lease once (and releases those of ended runs). */
  renew(): Promise<void>;
  /** Hands every held lease back (a clean stop: the runs move at once, not after the TTL). */
  releaseAll(): Promise<void>;
}

/**
 * Leadership of runs among coordinators sharing one store. A lease is trusted locally only until
 * the last renewal's send time plus the TTL, so it lapses here no later than in the store.
 */
export function createLeaseKeeper(ctx: LeaseContext): LeaseKeeper {
  const { leases, holder, ttlMs, clock, log, store } = ctx;
  const held = new Map<string, { lease: Lease; validUntil: number }>();

  function leadsNow(runId: string): boolean {
    if (!leases) return true;
    const h = held.get(runId);
    // Measured from when the renewal was sent, so it lapses here no later than in the store.
    return h !== undefined && h.validUntil > clock.now();
  }

  async function lead(runId: string, force = false): Promise<'held' | Lease | null> {
    if (!leases || leadsNow(runId)) return 'held';
    held.delete(runId);
    const sentAt = clock.now();
    const lease = await leases.acquireLease(runId, holder, ttlMs, force);
    if (!lease) return null;
    held.set(runId, { lease, validUntil: sentAt + ttlMs });
    log.info({ runId, holder, token: lease.token, force }, 'run lease acquired');
    return lease;
  }

  function fenceOf(runId: string): Fence | undefined {
    if (!leases) return undefined;
    const h = held.get(runId);
    if (!h || h.validUntil <= clock.now()) throw new StaleLeaseError(runId, h?.lease.token ?? 0);
    return { runId, token: h.lease.token };
  }

  function lost(runId: string, why: string, token?: number) {
    const h = held.get(runId);
    // A refusal of an older token than the one held now (a write that raced a re-acquisition) is
    // not a loss.
    if (!h || (token !== undefined && token !== 0 && h.lease.token !== token)) return;
    held.delete(runId);
    log.warn({ runId, holder, why }, 'run lease lost: another coordinator leads the run now');
  }

  async function renew(): Promise<void> {
    if (!leases) return;
    for (const [runId, h] of [...held]) {
      const sentAt = clock.now();
      try {
        const run = await store.getRun(runId);
        if (!run || isTerminalRun(run.status)) {
          // Ended: let another coordinator take it at once should an operator act on it again.
          if (ctx.busy(runId)) continue;
          held.delete(runId);
          await leases.releaseLease(h.lease);
          continue;
        }
        if (await leases.renewLease(h.lease, ttlMs)) {
          if (held.get(runId) === h) h.validUntil = sentAt + ttlMs;
        } else lost(runId, 'renewal refused', h.lease.token);
      } catch (err) {
        // The store is unreachable: keep the lease until it lapses locally, then stop.
        log.warn({ err, runId }, 'run lease renewal failed');
      }
    }
  }

  async function releaseAll(): Promise<void> {
    if (!leases) return;
    await Promise.all([...held.values()].map((h) => leases.releaseLease(h.lease).catch(() => undefined)));
    held.clear();
  }

  return { leadsNow, lead, fenceOf, lost, renew, releaseAll };
}
