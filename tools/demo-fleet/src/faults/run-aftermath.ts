// What every fault test checks once its run is over, from records the fault could not forge: each
// agent's journal against the coordinator's actions (exactly once), and the capacity floor from
// both the ledger (its whole history, committed before any gate closes) and the run's log.
import type { RunView } from '@rollgate/api';
import type { Fleet } from '../../fleet';
import { checkCapacityFloor, ledgerEvents, logEvents, type FloorReport } from './capacity-floor';
import { checkExactlyOnce } from './exactly-once';
import { readLedger } from './ledger';

export interface RunAftermath {
  /** checkExactlyOnce's problems; empty when every action ran once. */
  exactlyOnce: string[];
  /** The floor at every ledger event of the run. */
  ledgerFloor: FloorReport;
  /** The floor at every gate line of the run's log. */
  logFloor: FloorReport;
}

/**
 * @param done the run's view once it has ended
 * @param ledgerDir the directory that holds the coordinator's pg-state.json (its data directory,
 *   or the data directory of the database the test gave it)
 */
export async function runAftermath(fleet: Fleet, done: RunView, ledgerDir: string): Promise<RunAftermath> {
  const runId = done.run.id;
  const journals = Object.fromEntries(
    await Promise.all(fleet.agents.map(async (a) => [a.id, await fleet.journal(a)] as const)),
  );
  const logs = await fleet.api.upgrade.logs.query({ runId, limit: 5000 });
  const ledger = (await readLedger(ledgerDir)).filter((r) => r.runId === runId);
  const rules = {
    maxOut: done.run.plan.maxOutOfRotation,
    roles: Object.fromEntries(fleet.agents.map((a) => [a.id, a.role])),
  };
  return {
    exactlyOnce: checkExactlyOnce(
      journals,
      done.steps.flatMap((s) => s.actions),
      { runIds: [runId] },
    ),
    ledgerFloor: checkCapacityFloor(ledgerEvents(ledger), rules),
    logFloor: checkCapacityFloor(logEvents(logs), rules),
  };
}
