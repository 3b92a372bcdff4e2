// How long something took, in the words the console and the CLI both print (issue 15 item 3).

/** A short duration for `ms` milliseconds: `4s`, `2m 05s`, `3h 07m`, `2d 4h`; negative counts as 0. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long ago `at` (epoch ms) was at `now`, e.g. `2m 05s ago`; `never` when there is no `at`. */
export function formatAge(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return 'never';
  return `${formatDuration(now - at)} ago`;
}
