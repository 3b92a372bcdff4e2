import {
  compileRollback,
  rollbackOptions,
  type DbBackupResult,
  type Plan,
  type RollbackMethod,
} from '@rollgate/domain';
import type { EngineStore, RunRecord } from './ports';

/** One way back, as offered to the operator (and to the customer for authorisation). */
export interface RollbackChoice {
  method: RollbackMethod;
  applicable: boolean;
  why: string;
  estimateMinutes: number;
  recommended: boolean;
}

/** What the run did that decides how it can be undone: read from its steps and their evidence. */
async function rollbackContext(store: EngineStore, run: RunRecord) {
  const steps = await store.getSteps(run.id);
  const stepOf = (key: string) => {
    const planStep = run.plan.steps.find((s) => s.key === key);
    return planStep ? { planStep, record: steps.find((s) => s.index === planStep.index) } : null;
  };
  // Any attempt at the schema step counts: a command that failed halfway may have changed it.
  const db = stepOf('db-upgrade');
  const schemaMigrated = (db?.record?.attempt ?? 0) > 0;
  let databaseBackup: { label: string; verified: boolean } | null = null;
  const backup = stepOf('prep.database-backup');
  if (backup?.record?.status === 'succeeded' && run.options.backupLabel) {
    const actions = await store.getActions(run.id, backup.planStep.index);
    const result = actions
      .find((a) => a.status === 'succeeded')
      ?.results.find((r): r is DbBackupResult => r.kind === 'dbBackup');
    databaseBackup = { label: run.options.backupLabel, verified: result?.verified === true };
  }
  const snap = stepOf('prep.snapshots');
  const snapshotsTaken = snap
    ? (await store.getActions(run.id, snap.planStep.index))
        .filter((a) => a.status === 'succeeded')
        .map((a) => a.serverId)
    : [];
  return { schemaMigrated, databaseBackup, snapshotsTaken };
}

export async function rollbackChoices(store: EngineStore, run: RunRecord): Promise<RollbackChoice[]> {
  if (run.plan.procedure === 'rollback') return [];
  const ctx = await rollbackContext(store, run);
  return rollbackOptions({ plan: run.plan, ...ctx });
}

/**
 * The plan that undoes `run` with `method` (default: the recommended one). Throws an Error whose
 * message says why when the method does not apply or the run does not know what it upgraded from.
 */
export async function planRollback(
  store: EngineStore,
  run: RunRecord,
  method?: RollbackMethod,
): Promise<{ plan: Plan; choice: RollbackChoice }> {
  if (run.plan.procedure === 'rollback') {
    throw new Error(
      `Run ${run.id} is itself a rollback; start a new upgrade or rollback from its parent run.`,
    );
  }
  const from = run.plan.fromEdition;
  if (!from) {
    throw new Error(
      `Run ${run.id} does not record the edition its servers ran before, so there is nothing to roll back to; reinstall it with a new upgrade run.`,
    );
  }
  const ctx = await rollbackContext(store, run);
  const choices = rollbackOptions({ plan: run.plan, ...ctx });
  const choice = method ? choices.find((c) => c.method === method) : choices.find((c) => c.recommended);
  if (!choice || !choice.applicable) {
    const usable = choices.filter((c) => c.applicable).map((c) => c.method);
    throw new Error(
      `Rollback method "${method ?? 'recommended'}" does not apply to run ${run.id}${choice ? `: ${choice.why}` : ''}. ` +
        (usable.length > 0 ? `Use one of: ${usable.join(', ')}.` : 'No rollback method applies.'),
    );
  }
  const servers = (await store.listServers({ cluster: run.plan.cluster }))
    .filter((s) => run.plan.groups.some((g) => g.servers.some((m) => m.id === s.id)))
    .map((s) => ({ id: s.id, cluster: s.cluster, role: s.role }));
  const outOfRotation = [...new Set((await store.openLedger(run.id)).map((l) => l.serverId))];
  const plan = compileRollback({
    ofRun: run.id,
    method: choice.method,
    original: run.plan,
    servers,
    fromEdition: from,
    ...(run.options.backupLabel ? { backupLabel: run.options.backupLabel } : {}),
    outOfRotation,
  });
  return { plan, choice };
}

export const RUN_KIND: Record<Plan['procedure'], RunRecord['kind']> = {
  minor: 'minor-upgrade',
  major: 'major-upgrade',
  rollback: 'rollback',
  rollout: 'rollout',
  activation: 'activation',
  backout: 'backout',
  distribute: 'distribute',
  validate: 'validate',
  deactivate: 'deactivate',
};
