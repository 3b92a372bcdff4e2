// What every benchmark returns: figures, printed as JSON and then as a table. Nothing is asserted.

export interface Figure {
  bench: string;
  case: string;
  value: number;
  unit: string;
  /** The target from the issue, in words (e.g. "≤ 1.5 GB"), when the figure has one. */
  target?: string;
  /** Whether the value meets the target; absent when there is no target. */
  meets?: boolean;
  note?: string;
}

export interface BenchResult {
  figures: Figure[];
  /** How the figures were obtained: shown in the JSON so a number is never read without its method. */
  method: string;
  /** Raw per-trial data behind the figures, printed in the JSON only (not in the table). */
  details?: unknown;
}

export const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

/** A figure with a "≤ target" check. */
export function atMost(f: Omit<Figure, 'target' | 'meets'>, max: number, targetText: string): Figure {
  return { ...f, target: targetText, meets: f.value <= max };
}

/** A figure with a "≥ target" check. */
export function atLeast(f: Omit<Figure, 'target' | 'meets'>, min: number, targetText: string): Figure {
  return { ...f, target: targetText, meets: f.value >= min };
}

export const MB = 1024 * 1024;

export function printReport(
  results: { name: string; result: BenchResult | null; error?: string }[],
  meta: Record<string, unknown>,
): void {
  const figures = results.flatMap((r) => r.result?.figures ?? []);
  console.log(
    JSON.stringify(
      {
        ...meta,
        benches: results.map((r) => ({
          name: r.name,
          ...(r.result ? { method: r.result.method } : {}),
          ...(r.error ? { error: r.error } : {}),
          figures: r.result?.figures ?? [],
          ...(r.result?.details !== undefined ? { details: r.result.details } : {}),
        })),
      },
      null,
      2,
    ),
  );
  console.log();
  console.table(
    figures.map((f) => ({
      bench: f.bench,
      case: f.case,
      value: `${f.value} ${f.unit}`,
      target: f.target ?? '',
      meets: f.meets === undefined ? '' : f.meets ? 'yes' : 'NO',
      note: f.note ?? '',
    })),
  );
  for (const r of results) if (r.error) console.log(`${r.name}: FAILED to run: ${r.error}`);
}
