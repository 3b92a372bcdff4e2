// `<dataDir>/state.json`: what must survive an agent restart besides the journal — today only the
// coordinator's gate wish, so a server the coordinator took out of rotation stays out while the
// agent restarts or the coordinator is unreachable.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic, type SyncLater } from '../lib/fs-util';

export type GateWish = 'open' | 'closed';

const stateSchema = z.object({
  gateWish: z.enum(['open', 'closed']),
  gateWishAt: z.number(),
  gateWishReason: z.string().default(''),
});
export type AgentState = z.infer<typeof stateSchema>;

export interface StateStore {
  get(): AgentState;
  /**
   * Persists atomically (tmp + rename) before resolving; a no-op when the wish is unchanged. With
   * `later`, the fsync is handed to it (an action's end, docs/adr/0050) instead of awaited here.
   */
  setGateWish(wish: GateWish, reason: string, later?: SyncLater): Promise<boolean>;
}

export interface StateStoreOptions {
  dataDir: string;
  /** Clock; default Date.now. */
  now?: () => number;
  onWarning?: (msg: string, details: Record<string, unknown>) => void;
}

/** Loads state.json; with no file (first start) the wish is open, so a fresh server serves. */
export async function openStateStore(opts: StateStoreOptions): Promise<StateStore> {
  const path = join(opts.dataDir, 'state.json');
  const now = opts.now ?? Date.now;
  let state: AgentState = { gateWish: 'open', gateWishAt: 0, gateWishReason: 'no wish recorded yet' };
  try {
    const parsed = stateSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    if (parsed.success) state = parsed.data;
    else opts.onWarning?.('state.json is not valid; starting with the gate wish open', { path });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      opts.onWarning?.('state.json could not be read; starting with the gate wish open', {
        path,
        err: String(err),
      });
    }
  }
  let chain: Promise<unknown> = Promise.resolve();
  return {
    get: () => state,
    setGateWish(wish, reason, later) {
      const run = chain.then(async () => {
        if (state.gateWish === wish) return false;
        const next = { gateWish: wish, gateWishAt: now(), gateWishReason: reason };
        await writeFileAtomic(path, `${JSON.stringify(next, null, 2)}\n`, 0o644, later);
        state = next;
        return true;
      });
      chain = run.catch(() => {});
      return run;
    },
  };
}
