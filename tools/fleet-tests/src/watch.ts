// Samples HAProxy's view of every server while something happens, so a test can say "no server
// left rotation at any moment", not only "all UP at the end".
import type { ServerStat } from '@rollgate/lb';
import { inRotation } from './haproxy';

export interface RotationSample {
  at: number;
  backend: string;
  server: string;
  /** The status column as HAProxy prints it, e.g. "DOWN", "DRAIN (agent)". */
  statusText: string;
}

export interface RotationWatch {
  /**
   * Stops sampling; every sample of a server out of rotation, how many rounds were read, and the
   * first few reads that failed (a slow runtime API on a busy machine: that round saw nothing).
   */
  stop(): Promise<{ rounds: number; outOfRotation: RotationSample[]; errors: string[] }>;
}

/**
 * Reads `show stat` of every backend every `everyMs` (default 100 ms) until stopped. `ignore`
 * names servers that may legitimately be out (e.g. the one a rollout is upgrading).
 */
export function watchRotation(
  stats: () => Promise<ServerStat[]>,
  opts: { everyMs?: number; ignore?: (s: ServerStat) => boolean } = {},
): RotationWatch {
  const outOfRotation: RotationSample[] = [];
  const errors: string[] = [];
  let rounds = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        for (const s of await stats()) {
          if (!inRotation(s) && !opts.ignore?.(s))
            outOfRotation.push({
              at: Date.now(),
              backend: s.backend,
              server: s.name,
              statusText: s.statusText,
            });
        }
        rounds++;
      } catch (err) {
        if (errors.length < 5) errors.push(String(err));
      }
      await new Promise((r) => setTimeout(r, opts.everyMs ?? 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { rounds, outOfRotation, errors };
    },
  };
}
