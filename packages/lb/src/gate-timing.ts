// How long HAProxy takes to act on a gate change when nobody tells it through the runtime API: the
// engine waits this long after closing a gate before it may assume no new request reaches the
// server (and after opening one before it counts the server as serving again).
//
// HTTP check on GET /gate: HAProxy marks a server DOWN after `fall` failed checks `inter` apart,
// and UP after `rise` good ones. A check already under way when the gate changes may still report
// the old answer, so the worst case is one interval more: (fall + 1) x inter, (rise + 1) x inter.
// That extra interval is also the margin for the check's own duration and timer slack.
//
// agent-check: the agent's one-line answer acts at once on the administrative state ("drain" stops
// new sessions), so the worst case to notice a closed gate is the next agent check: agent-inter,
// plus a margin of a quarter interval (at least 200 ms) for the connection and timer slack. When
// both are configured the first to notice wins, so the smaller bound applies. (In the service
// health mode, docs/adr/0017, the HTTP check never sees the gate and only the agent-check notices;
// the generated configuration's agent-inter defaults to inter, whose agent bound is below the HTTP
// one for any inter >= 200 ms, so the smaller bound is still the agent's.)
//
// Re-admission is NOT sped up by the agent-check: its "up" cannot override a failing HTTP check
// (measured on HAProxy 2.6: a server stays DOWN until its own check has passed `rise` times). A
// server whose gate was closed long enough (gate mode), or whose service was stopped (service
// mode), is DOWN by its check, so the worst case is (rise + 1) x inter, and at least the next
// agent check that lifts the drain.

export interface GateDetectOptions {
  /** HTTP health check interval (`inter`), ms. */
  checkIntervalMs: number;
  /** Failed checks to mark DOWN (`fall`). */
  fall: number;
  /** Agent-check interval (`agent-inter`), ms; omit when the agent-check is not configured. */
  agentInterMs?: number;
}

export interface GateReadmitOptions {
  /** HTTP health check interval (`inter`), ms. */
  checkIntervalMs: number;
  /** Good checks to mark UP (`rise`). */
  rise: number;
  /** Agent-check interval (`agent-inter`), ms; omit when the agent-check is not configured. */
  agentInterMs?: number;
}

function positive(what: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${what} must be a positive number of ms, got ${v}`);
}

function agentBound(agentInterMs: number): number {
  return agentInterMs + Math.max(200, Math.ceil(agentInterMs / 4));
}

/**
 * Worst-case ms from closing a gate to HAProxy sending no new request to the server:
 * min((fall + 1) x checkIntervalMs, agentInterMs + max(200, agentInterMs / 4)).
 */
export function gateOnlyDetectMs(o: GateDetectOptions): number {
  positive('checkIntervalMs', o.checkIntervalMs);
  if (!Number.isInteger(o.fall) || o.fall < 1)
    throw new Error(`fall must be a whole number >= 1, got ${o.fall}`);
  const http = (o.fall + 1) * o.checkIntervalMs;
  if (o.agentInterMs === undefined) return http;
  positive('agentInterMs', o.agentInterMs);
  return Math.min(http, agentBound(o.agentInterMs));
}

/**
 * Worst-case ms from opening a gate to HAProxy sending requests to the server again:
 * max((rise + 1) x checkIntervalMs, agentInterMs + max(200, agentInterMs / 4)).
 */
export function gateOnlyReadmitMs(o: GateReadmitOptions): number {
  positive('checkIntervalMs', o.checkIntervalMs);
  if (!Number.isInteger(o.rise) || o.rise < 1)
    throw new Error(`rise must be a whole number >= 1, got ${o.rise}`);
  const http = (o.rise + 1) * o.checkIntervalMs;
  if (o.agentInterMs === undefined) return http;
  positive('agentInterMs', o.agentInterMs);
  return Math.max(http, agentBound(o.agentInterMs));
}
