'use client';

import { useEffect, useState } from 'react';
import { INITIAL_SNAPSHOT, poll, type Snapshot } from '../snapshot';
import { createConsoleClient } from '../trpc-client';
import { ConsoleView } from './console-view';

export interface ConsoleProps {
  /** Time between polls of the coordinator, ms. Default 2000. */
  pollMs?: number;
}

/**
 * The live console: polls the coordinator (through /api/trpc) and renders each snapshot. Polls are
 * chained, never overlapping, and skipped while the tab is hidden.
 */
export function Console({ pollMs = 2000 }: ConsoleProps) {
  const [snapshot, setSnapshot] = useState<Snapshot>(INITIAL_SNAPSHOT);

  useEffect(() => {
    const client = createConsoleClient();
    let current = INITIAL_SNAPSHOT;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    const tick = async () => {
      clearTimeout(timer);
      // One chain of polls only: a tick asked for while one is in flight is already covered by it.
      if (inFlight || stopped) return;
      inFlight = true;
      try {
        if (document.visibilityState !== 'hidden') {
          const next = await poll(client, current, Date.now());
          if (stopped) return;
          current = next;
          setSnapshot(next);
        }
      } finally {
        inFlight = false;
      }
      if (!stopped) timer = setTimeout(tick, pollMs);
    };
    void tick();
    // Coming back to the tab refreshes at once instead of showing minutes-old state for up to pollMs.
    const onVisible = () => {
      if (document.visibilityState === 'visible') void tick();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [pollMs]);

  return <ConsoleView snapshot={snapshot} />;
}
