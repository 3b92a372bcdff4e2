'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { errorInfo } from '../errors';

export interface Polled<T> {
  data: T | null;
  /** The last read's error message, null when it succeeded. */
  error: string | null;
  /** Reads again now (e.g. after a mutation). */
  refresh: () => void;
}

/**
 * Reads `load` now and every `everyMs` (chained, never overlapping; skipped while the tab is
 * hidden) and again whenever `key` changes. The last data stays on screen through a failed read.
 */
export function usePolled<T>(load: () => Promise<T>, everyMs: number, key = ''): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const tickRef = useRef<() => void>(() => {});

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    let again = false;
    const tick = async () => {
      clearTimeout(timer);
      if (stopped) return;
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      try {
        if (document.visibilityState !== 'hidden') {
          const next = await loadRef.current();
          if (stopped) return;
          setData(next);
          setError(null);
        }
      } catch (err) {
        if (!stopped) setError(errorInfo(err).message);
      } finally {
        inFlight = false;
      }
      if (stopped) return;
      if (again) {
        again = false;
        void tick();
      } else timer = setTimeout(tick, everyMs);
    };
    tickRef.current = () => void tick();
    void tick();
    const onVisible = () => {
      if (document.visibilityState === 'visible') void tick();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [everyMs, key]);

  const refresh = useCallback(() => tickRef.current(), []);
  return { data, error, refresh };
}

/** The current time, ticking every `everyMs`: ages ("12s ago") stay true without new data. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
