// Where a Rollgate rollout's wall time went, from its own run log and run view, beside the
// service's own log. Per server group (one upgrade step), the group's window (its step's start to
// the next step's start, or to the run's end) is split into what the physics costs (the load
// balancer's reaction, the drain, the service's stop and start-to-ready) and what Rollgate adds
// (the engine's own share: dispatch, the agent's steps around the service, health detection,
// re-admission, the gap to the next step). Re-admission is also shown on its own.
import type { RunView } from '@rollgate/api';
import type { StoredLog } from '@rollgate/engine';
import type { ServerIntrinsic } from './vs-ansible-fleet';

export const PHASES = [
  'CLI start',
  'staging',
  'LB reaction',
  'drain',
  'stop',
  'start-to-ready',
  're-admission',
  'engine share',
  'CLI end',
] as const;
export type PhaseName = (typeof PHASES)[number];

export interface GroupPhases {
  servers: string[];
  /** The group's window, s. */
  window: number;
  'LB reaction': number;
  drain: number;
  stop: number;
  'start-to-ready': number;
  /**
   * Health verified by the agent → the engine has the server back: in `engine` in runtime mode,
   * in `LB reaction` in gate-only mode (there it is the LB's check interval × rise).
   */
  're-admission': number;
  /** The window minus LB reaction, drain, stop and start-to-ready. */
  engine: number;
  /**
   * From the engine's timing line (RG0119I), when it writes one: the agent's action beyond the
   * service's own stop and start-to-ready, and the engine's own time plus the gap to the next step.
   */
  agentOverhead?: number;
  engineOwn?: number;
}

/** The JSON the engine appends to its per-step timing line (RG0119I, `… | {"v":1,…}`). */
interface TimingLine {
  v: number;
  step: number;
  totalMs: number;
  lbMs: number;
  drainMs: number;
  agentMs: number;
  readmitMs: number;
  engineMs: number;
}

function timingLine(l: StoredLog): TimingLine | null {
  if (l.code !== 'RG0119I') return null;
  const i = l.message.lastIndexOf(' | {');
  if (i < 0) return null;
  try {
    const t = JSON.parse(l.message.slice(i + 3)) as TimingLine;
    return t.v === 1 && typeof t.totalMs === 'number' ? t : null;
  } catch {
    return null;
  }
}

export interface RunPhases {
  /** Seconds per rollout, per phase (groups summed). */
  totals: Record<PhaseName, number>;
  perGroup: GroupPhases[];
  /** Where the figures came from (the run log's timestamps, or the engine's own timing events). */
  source: string;
}

const s = (ms: number) => Math.max(0, ms) / 1000;

function at(
  logs: StoredLog[],
  pred: (l: StoredLog) => boolean,
  pick: 'first' | 'last' = 'first',
): number | null {
  const hits = logs.filter(pred).map((l) => l.at);
  if (hits.length === 0) return null;
  return pick === 'first' ? Math.min(...hits) : Math.max(...hits);
}

/**
 * @param servers the service's own stop and start-to-ready per server, indexed like `ids`
 * @param cli when the CLI process started and ended (epoch ms)
 */
export function phasesFromRun(
  view: RunView,
  logs: StoredLog[],
  servers: ServerIntrinsic[],
  ids: string[],
  cli: { cliStart: number; cliEnd: number },
): RunPhases {
  const runStart = view.run.startedAt ?? cli.cliStart;
  const runEnd = view.run.finishedAt ?? cli.cliEnd;
  const svc = new Map(ids.map((id, i) => [id, servers[i]!]));
  const groups = view.steps.filter((st) => st.leavesRotation.length > 0 && st.startedAt !== null);
  const staging = view.steps
    .filter((st) => st.kind === 'prepare' && st.startedAt !== null && st.finishedAt !== null)
    .reduce((sum, st) => sum + (st.finishedAt! - st.startedAt!), 0);

  let timedGroups = 0;
  const perGroup: GroupPhases[] = groups.map((st, gi) => {
    const start = st.startedAt!;
    const end = groups[gi + 1]?.startedAt ?? runEnd;
    const inStep = logs.filter((l) => l.stepIndex === st.index);
    const members = st.leavesRotation;
    // Runtime API: the engine sets drain (RG0110I) and reports the sessions gone (RG0111I).
    const setDrain = at(inStep, (l) => l.source === 'engine' && l.code === 'RG0110I');
    const drained = at(inStep, (l) => l.source === 'engine' && l.code === 'RG0111I', 'last');
    // Gate-only: the agent's drain op waits for the LB to notice the closed gate, then for the
    // sessions; both are counted as the LB's reaction (no session figure to split them by).
    let agentDrain = 0;
    for (const id of members) {
      const began = at(
        inStep,
        (l) => l.serverId === id && l.code === 'RG0100I' && /: drain\b/.test(l.message),
      );
      const ended = at(
        inStep,
        (l) => l.serverId === id && l.code === 'RG0101I' && /: drain\b/.test(l.message),
      );
      if (began !== null && ended !== null) agentDrain = Math.max(agentDrain, ended - began);
    }
    let lbReaction = agentDrain;
    let drain = 0;
    if (setDrain !== null && drained !== null) {
      lbReaction = setDrain - start;
      drain = drained - setDrain;
    }
    const stop = Math.max(0, ...members.map((id) => (svc.get(id)?.stopS ?? 0) * 1000));
    const startToReady = Math.max(0, ...members.map((id) => (svc.get(id)?.startToReadyS ?? 0) * 1000));
    // Re-admission: the agent verified the service healthy → the engine has the server back.
    const healthy = at(
      inStep,
      (l) => l.source === 'agent' && l.code === 'RG0101I' && /healthy/.test(l.message),
      'last',
    );
    const back =
      at(inStep, (l) => l.source === 'engine' && l.code === 'RG0061I' && l.serverId !== null, 'last') ??
      st.finishedAt;
    const readmission = healthy !== null && back !== null ? back - healthy : 0;
    // Gate-only: the wait for the LB to see the open gate (the engine computes it from the LB's
    // check interval and rise, and adds nothing) is the LB's reaction on the way back.
    if (setDrain === null) lbReaction += readmission;
    const window = end - start;
    const timed = inStep.map(timingLine).find((t) => t !== null);
    if (timed) {
      // The engine's own account: time inside LB calls, the drain, the agent's action, re-admission.
      timedGroups++;
      // Runtime: time inside LB calls and the drain; gate-only: the agent's drain op (inside agentMs).
      const atLb = timed.lbMs + timed.drainMs > 0;
      lbReaction = atLb ? timed.lbMs : agentDrain + timed.readmitMs;
      drain = atLb ? timed.drainMs : 0;
      return {
        servers: members,
        window: s(window),
        'LB reaction': s(lbReaction),
        drain: s(drain),
        stop: s(stop),
        'start-to-ready': s(startToReady),
        're-admission': s(timed.readmitMs),
        engine: s(window - lbReaction - drain - stop - startToReady),
        agentOverhead: s(timed.agentMs - (atLb ? 0 : agentDrain) - stop - startToReady),
        engineOwn: s(timed.engineMs + (end - start - timed.totalMs)),
      };
    }
    return {
      servers: members,
      window: s(window),
      'LB reaction': s(lbReaction),
      drain: s(drain),
      stop: s(stop),
      'start-to-ready': s(startToReady),
      're-admission': s(readmission),
      engine: s(window - lbReaction - drain - stop - startToReady),
    };
  });

  const total = (k: keyof GroupPhases) => perGroup.reduce((sum, g) => sum + (g[k] as number), 0);
  return {
    totals: {
      'CLI start': s(runStart - cli.cliStart),
      staging: s(staging),
      'LB reaction': total('LB reaction'),
      drain: total('drain'),
      stop: total('stop'),
      'start-to-ready': total('start-to-ready'),
      're-admission': total('re-admission'),
      'engine share': total('engine'),
      'CLI end': s(cli.cliEnd - runEnd),
    },
    perGroup,
    source:
      timedGroups === perGroup.length && timedGroups > 0
        ? "the engine's timing lines (RG0119I), step times and svc.js logs"
        : `run log timestamps (RG0110I/RG0111I/RG0101I/RG0061I)${timedGroups > 0 ? ` and ${timedGroups} timing lines (RG0119I)` : ''}, step times and svc.js logs`,
  };
}
