// How long a load balancer takes to act on a gate change when nobody tells it through a runtime
// API: the engine waits this long after closing a gate before it may assume no new request reaches
// the server (and after opening one before it counts the server as serving again). The bounds are
// the check arithmetic itself plus one check's latency, and nothing more: every ms here is paid
// twice per group of a gate-only rollout (docs/adr/0025).
//
// HTTP check on GET /gate: HAProxy marks a server DOWN after `fall` failed checks `inter` apart,
// and UP after `rise` good ones. The check that runs just before the gate changes still sees the
// old answer, so the first check that sees the new one starts at most one interval later: DOWN at
// most fall x inter after the change, UP at most rise x inter after it, each plus the latency of
// the deciding check (CHECK_LATENCY: its connection and answer on a busy host; HAProxy's timers are
// exact to the ms).
//
// agent-check: the agent's one-line answer acts at once on the administrative state ("drain" stops
// new sessions), so the worst case to notice a closed gate is the next agent check: agent-inter
// plus one check's latency. When both are configured the first to notice wins, so the smaller
// bound applies. (In the service health mode, docs/adr/0017, the HTTP check never sees the gate and
// only the agent-check notices; the generated configuration's agent-inter defaults to inter, whose
// agent bound is below the HTTP one.)
//
// Re-admission is NOT sped up by the agent-check: its "up" cannot override a failing HTTP check
// (measured on HAProxy 2.6: a server stays DOWN until its own check has passed `rise` times). A
// server whose gate was closed long enough (gate mode), or whose service was stopped (service
// mode), is DOWN by its check, so the worst case is rise x inter, and at least the next agent
// check that lifts the drain.
//
// A load balancer that is not HAProxy (a cloud LB, F5, nginx with its own probes) has its own
// arithmetic: the operator states its reaction time (reactionMs), which then replaces both bounds.

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

export interface GateWaitOptions extends GateDetectOptions, GateReadmitOptions {
  /**
   * The load balancer's stated reaction time, ms (a non-HAProxy LB): when given, it is both the
   * detect and the re-admit wait, and the check arithmetic is not used. Default none.
   */
  reactionMs?: number | null;
}

export interface GateWaits {
  /** From closing a gate to no new request reaching the server, ms. */
  detectMs: number;
  /** From opening a gate to the LB sending the server requests again, ms. */
  readmitMs: number;
  /** Set when the operator's stated reaction time gave both. */
  reactionMs?: number;
}

/** The latency allowed for the one check that decides: max 100 ms, a quarter interval when shorter. */
export function checkLatencyMs(intervalMs: number): number {
  return Math.min(100, Math.ceil(intervalMs / 4));
}

function positive(what: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${what} must be a positive number of ms, got ${v}`);
}

function agentBound(agentInterMs: number): number {
  return agentInterMs + checkLatencyMs(agentInterMs);
}

/**
 * Worst-case ms from closing a gate to HAProxy sending no new request to the server:
 * min(fall x checkIntervalMs + latency, agentInterMs + latency), latency = checkLatencyMs(interval).
 */
export function gateOnlyDetectMs(o: GateDetectOptions): number {
  positive('checkIntervalMs', o.checkIntervalMs);
  if (!Number.isInteger(o.fall) || o.fall < 1)
    throw new Error(`fall must be a whole number >= 1, got ${o.fall}`);
  const http = o.fall * o.checkIntervalMs + checkLatencyMs(o.checkIntervalMs);
  if (o.agentInterMs === undefined) return http;
  positive('agentInterMs', o.agentInterMs);
  return Math.min(http, agentBound(o.agentInterMs));
}

/**
 * Worst-case ms from opening a gate to HAProxy sending requests to the server again:
 * max(rise x checkIntervalMs + latency, agentInterMs + latency).
 */
export function gateOnlyReadmitMs(o: GateReadmitOptions): number {
  positive('checkIntervalMs', o.checkIntervalMs);
  if (!Number.isInteger(o.rise) || o.rise < 1)
    throw new Error(`rise must be a whole number >= 1, got ${o.rise}`);
  const http = o.rise * o.checkIntervalMs + checkLatencyMs(o.checkIntervalMs);
  if (o.agentInterMs === undefined) return http;
  positive('agentInterMs', o.agentInterMs);
  return Math.max(http, agentBound(o.agentInterMs));
}

/** Both gate-only waits: the operator's stated reaction time when given, else the check arithmetic. */
export function gateOnlyWaits(o: GateWaitOptions): GateWaits {
  if (o.reactionMs !== undefined && o.reactionMs !== null) {
    if (!Number.isFinite(o.reactionMs) || o.reactionMs < 0)
      throw new Error(`reactionMs must be a number of ms >= 0, got ${o.reactionMs}`);
    return { detectMs: o.reactionMs, readmitMs: o.reactionMs, reactionMs: o.reactionMs };
  }
  const agentInterMs = o.agentInterMs ?? undefined;
  return {
    detectMs: gateOnlyDetectMs({ checkIntervalMs: o.checkIntervalMs, fall: o.fall, agentInterMs }),
    readmitMs: gateOnlyReadmitMs({ checkIntervalMs: o.checkIntervalMs, rise: o.rise, agentInterMs }),
  };
}
