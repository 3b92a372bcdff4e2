// Faults that must land inside one op of a rollout (kill the agent, stop the database) wait for the
// victim to be running it: the agent's own /status says which action and op it is in.
import type { RunView } from '@rollgate/api';
import type { FleetAgent } from '../../fleet';
import { waitFor } from '../wait';

/** The action and op an agent is running, as its gate's /status reports it. */
export interface RunningOp {
  actionId: string;
  opIndex: number;
  /** The op's summary line, e.g. "wait until demo-app is healthy". */
  op: string;
}

/** The step kinds whose actions stop, change or start the service (not staging, not the LB). */
const SERVICE_STEPS = ['upgrade', 'configure', 'start'];

/**
 * Waits (polling every 5 ms, so a short op is not missed) until `agent` runs an op matching `op`
 * in an action of `run` that changes its service, outside the preparation phase.
 */
export async function waitForOp(
  agent: FleetAgent,
  run: Pick<RunView, 'run' | 'steps'>,
  op: RegExp,
  timeoutMs = 60_000,
): Promise<RunningOp> {
  const prefixes = run.steps
    .filter((s) => SERVICE_STEPS.includes(s.kind) && s.phase !== 'preparation')
    .map((s) => `${run.run.id}.s${s.index}.${agent.id}.`);
  if (prefixes.length === 0) throw new Error(`run ${run.run.id} changes no service on ${agent.id}`);
  return waitFor(
    `${agent.id} to run an op matching ${op} in run ${run.run.id}`,
    async () => {
      const res = await fetch(`http://127.0.0.1:${agent.gatePort}/status`);
      const r = ((await res.json()) as { runningAction: RunningOp | null }).runningAction;
      return r && prefixes.some((p) => r.actionId.startsWith(p)) && op.test(r.op) ? r : null;
    },
    timeoutMs,
    5,
  );
}
