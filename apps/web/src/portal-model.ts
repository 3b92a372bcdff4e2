/** The customer portal's reading of the coordinator's answers (pure; unit-tested). */
import { errorInfo } from './errors';

export type PortalProblem =
  /** The link is not valid, or has expired: nothing more to ask. */
  | { kind: 'invalid'; message: string }
  /** The coordinator (or the console's server) did not answer: try again. */
  | { kind: 'unreachable'; message: string }
  | { kind: 'other'; message: string };

export const INVALID_LINK =
  'This portal link is not valid or has expired. Ask your contact at the service provider for a new one.';

export function portalProblem(err: unknown): PortalProblem {
  const info = errorInfo(err);
  // A malformed token fails the input's validation: to the customer it is just as invalid.
  if (info.code === 'UNAUTHORIZED' || info.code === 'FORBIDDEN' || info.code === 'BAD_REQUEST') {
    return { kind: 'invalid', message: info.code === 'UNAUTHORIZED' ? info.message : INVALID_LINK };
  }
  if (info.unreachable) {
    return {
      kind: 'unreachable',
      message: 'The upgrade service does not answer right now; this page keeps trying.',
    };
  }
  return { kind: 'other', message: info.message };
}

export interface ProbeRow {
  name: string;
  kind: string;
  ok: boolean;
  ms: number;
  detail: string;
}

/** A functionality test's recorded results, whatever shape the union gives them. */
export function probeRows(result: unknown): ProbeRow[] {
  const r = result as { kind?: unknown; probes?: unknown } | null;
  if (!r || r.kind !== 'functionalTest' || !Array.isArray(r.probes)) return [];
  return (r.probes as Partial<ProbeRow>[]).map((p) => ({
    name: String(p.name ?? ''),
    kind: String(p.kind ?? ''),
    ok: p.ok === true,
    ms: typeof p.ms === 'number' ? p.ms : 0,
    detail: String(p.detail ?? ''),
  }));
}

/** `850 ms`, `1.2 s`. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The customer's view of a run's status. */
export const PORTAL_STATUS: Record<string, string> = {
  pending: 'scheduled',
  running: 'in progress',
  paused: 'paused',
  'waiting-approval': 'waiting for your verification',
  succeeded: 'completed',
  failed: 'failed',
  aborted: 'stopped',
};
