// Issue 15 item 4: an action with several result-producing ops keeps every result, not the last.
import type { ActionOp, ActionResult } from '@rollgate/domain';
import { describe, expect, it } from 'vitest';
import { createAgentEvents, type AgentEventsContext } from './agent-events';
import type { ActionRecord } from './ports';

const backup: ActionResult = {
  kind: 'dbBackup',
  file: '/var/backups/db.dump',
  bytes: 10,
  sha256: 'a'.repeat(64),
  tables: { 'public.users': 3 },
  verified: true,
  verifyMs: 5,
};
const command: ActionResult = { kind: 'command', command: 'db-upgrade', exitCode: 0, outputTail: '', ms: 1 };

function harness(ops: ActionOp[]) {
  const action: ActionRecord = {
    id: 'r1.s1.db-1.a1',
    runId: 'r1',
    stepIndex: 1,
    serverId: 'db-1',
    attempt: 1,
    ops,
    status: 'running',
    error: null,
    createdAt: 1,
    dispatchedAt: 2,
    finishedAt: null,
    results: [],
  };
  const store: AgentEventsContext['store'] = {
    getAction: async () => structuredClone(action),
    getOutstandingActions: async () => [],
    getRun: async () => null,
    updateAction: async (_id, _from, patch) => Object.assign(action, patch),
  };
  const serial: AgentEventsContext['queue']['serial'] = (_runId, fn) => fn();
  const ctx = {
    store,
    bus: { dispatch: () => true },
    clock: { now: () => 10 },
    emit: () => undefined,
    queue: { serial },
    leases: { leadsNow: () => false, lead: async () => false, lost: () => undefined },
    dispatch: async () => undefined,
    kick: async () => undefined,
    notifyLeader: undefined,
  } as unknown as AgentEventsContext;
  const events = createAgentEvents(ctx);
  const report = (results: ActionResult[]) =>
    events.onActionUpdate({
      actionId: action.id,
      serverId: 'db-1',
      status: 'succeeded',
      reason: '',
      atMs: 9,
      results,
    });
  return { action, report };
}

const ops: ActionOp[] = [
  { op: 'dbBackup', service: 'app', label: 'pre', verify: true, timeoutMs: 60_000 },
  { op: 'command', service: 'app', command: 'db-upgrade', timeoutMs: 60_000 },
];

describe('action results (issue 15 item 4)', () => {
  it('issue 15 item 4: keeps every result of a multi-op action in op order', async () => {
    const { action, report } = harness(ops);
    expect(await report([backup, command])).toBeNull();
    expect(action.status).toBe('succeeded');
    expect(action.results).toEqual([backup, command]);
  });

  it('issue 15 item 4: a single result is a list of one', async () => {
    const { action, report } = harness(ops);
    expect(await report([backup])).toBeNull();
    expect(action.results).toEqual([backup]);
  });

  it('issue 15 item 4: refuses more results than result-producing ops, and any result no op produces', async () => {
    const one = harness([ops[1]!]);
    expect(await one.report([command, command])).toMatch(/1 op\(s\) that produce a result, not 2/);
    expect(await one.report([backup])).toMatch(/no op that produces a "dbBackup" result/);
    expect(one.action.status).toBe('running');
  });
});
