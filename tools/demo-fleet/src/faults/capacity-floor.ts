// The capacity-floor checker the fault tests share: a pure function over what a run recorded
// (its out-of-rotation ledger, its gate log lines), asserting at EVERY event that no more servers
// were out of rotation than the plan allows and that no role was left without a server in
// rotation. Sampling gates misses short overlaps; replaying every recorded event does not.

/** A server leaving rotation ('out') or coming back ('in'); 'in' clears every reason it was out. */
export interface RotationEvent {
  at: number;
  serverId: string;
  kind: 'out' | 'in';
  /** Where the event comes from, for messages (e.g. 'ledger', 'log'). */
  source?: string;
}

export interface FloorRules {
  /** The plan's maxOutOfRotation (one server group). */
  maxOut: number;
  /** serverId → role; with it, a role with every server out is a violation. */
  roles?: Record<string, string>;
  /** Times during which a role may be emptied (a major upgrade's announced downtime). */
  downtime?: { from: number; to: number }[];
}

export interface FloorViolation {
  at: number;
  out: string[];
  why: string;
}

export interface FloorReport {
  /** Events replayed. */
  events: number;
  /** The most servers out of rotation at once. */
  maxOut: number;
  violations: FloorViolation[];
  /** Servers still out of rotation after the last event. */
  stillOut: string[];
}

/** The ledger rows as the store keeps them (lb_ledger): each closes a server, maybe reopens it. */
export interface LedgerRow {
  runId: string;
  serverId: string;
  stepIndex: number;
  closedAt: number;
  reopenedAt: number | null;
}

export function ledgerEvents(rows: LedgerRow[]): RotationEvent[] {
  const events: RotationEvent[] = [];
  for (const r of rows) {
    events.push({
      at: r.closedAt,
      serverId: r.serverId,
      kind: 'out',
      source: `ledger ${r.runId} step ${r.stepIndex + 1}`,
    });
    if (r.reopenedAt !== null) {
      events.push({ at: r.reopenedAt, serverId: r.serverId, kind: 'in', source: `ledger ${r.runId}` });
    }
  }
  return events;
}

/** Message codes of the engine's gate lines (MSG.gateClosed / MSG.gateOpened in @rollgate/domain). */
export const GATE_CLOSED_CODE = 'RG0060I';
export const GATE_OPENED_CODE = 'RG0061I';

/** The run log's per-server gate lines (lines without a serverId are summaries and are skipped). */
export function logEvents(lines: { at: number; code: string; serverId: string | null }[]): RotationEvent[] {
  const events: RotationEvent[] = [];
  for (const l of lines) {
    if (!l.serverId) continue;
    if (l.code === GATE_CLOSED_CODE)
      events.push({ at: l.at, serverId: l.serverId, kind: 'out', source: 'log' });
    else if (l.code === GATE_OPENED_CODE)
      events.push({ at: l.at, serverId: l.serverId, kind: 'in', source: 'log' });
  }
  return events;
}

export function checkCapacityFloor(events: RotationEvent[], rules: FloorRules): FloorReport {
  // Stable by time: at one millisecond the recorded order stands (the engine reopens a server
  // before it starts the next step, and both may carry the same clock reading).
  const sorted = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i);
  const out = new Set<string>();
  const violations: FloorViolation[] = [];
  let maxOut = 0;
  const inDowntime = (at: number) => (rules.downtime ?? []).some((d) => at >= d.from && at <= d.to);
  const roleMembers = new Map<string, string[]>();
  for (const [id, role] of Object.entries(rules.roles ?? {})) {
    roleMembers.set(role, [...(roleMembers.get(role) ?? []), id]);
  }
  for (const { e } of sorted) {
    if (e.kind === 'out') out.add(e.serverId);
    else out.delete(e.serverId);
    if (e.kind === 'in') continue;
    maxOut = Math.max(maxOut, out.size);
    const now = [...out].sort();
    if (out.size > rules.maxOut) {
      violations.push({
        at: e.at,
        out: now,
        why: `${out.size} servers out of rotation (${now.join(', ')}) when ${e.serverId} left${e.source ? ` (${e.source})` : ''}; at most ${rules.maxOut} may be`,
      });
    }
    const role = rules.roles?.[e.serverId];
    const members = role === undefined ? undefined : roleMembers.get(role);
    if (members && members.every((m) => out.has(m)) && !inDowntime(e.at)) {
      violations.push({
        at: e.at,
        out: now,
        why: `every "${role}" server (${members.join(', ')}) out of rotation when ${e.serverId} left${e.source ? ` (${e.source})` : ''}`,
      });
    }
  }
  return { events: sorted.length, maxOut, violations, stillOut: [...out].sort() };
}
