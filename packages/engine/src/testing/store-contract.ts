import type { ActionOp, ActionStatus, GateRecord, Plan, RunStatus } from '@rollgate/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_RUN_OPTIONS,
  StaleLeaseError,
  StoreConflictError,
  type ActionRecord,
  type AuditEvent,
  type EditionRecord,
  type EngineStore,
  type LedgerEntry,
  type LogRecord,
  type RunLeases,
  type RunRecord,
  type ServerRecord,
  type StepRecord,
} from '../ports';

/**
 * The behaviour every EngineStore must have, as vitest suites. Run it against each
 * implementation (PostgreSQL in @rollgate/db, the in-memory store of the engine's unit tests):
 *
 *   describeStoreContract('memory store', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
 *
 * `makeStore` is called before every test and must return an EMPTY store; `cleanup` after it.
 *
 * Where the port leaves an order open, this contract fixes it, so both stores agree:
 * - listRuns: newest first (createdAt descending); `limit` keeps the newest.
 * - getSteps: by index.
 * - queryLogs: ascending id (= append order); ids grow with every append; `limit` keeps the oldest
 *   matching lines (so following with afterId never skips one).
 * - listAudit: newest first (`at` descending, later append first on equal `at`); `limit` keeps the newest.
 * Lists whose order is not fixed here are compared as sets.
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Promise<{ store: EngineStore & RunLeases; cleanup(): Promise<void> }>,
): void {
  describe(`EngineStore contract: ${name}`, () => {
    let store: EngineStore & RunLeases;
    let cleanup: (() => Promise<void>) | null = null;

    beforeEach(async () => {
      const made = await makeStore();
      store = made.store;
      cleanup = () => made.cleanup();
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = null;
    });

    describe('runs and steps', () => {
      it('stores a run with its steps and reads them back unchanged', async () => {
        const r = run('r1', { startedAt: T0 + 5, failure: null });
        await store.createRun(r, [step('r1', 1), step('r1', 0), step('r1', 2)]);
        expect(await store.getRun('r1')).toEqual(r);
        const s = await store.getSteps('r1');
        expect(s.map((x) => x.index)).toEqual([0, 1, 2]);
        expect(s[0]).toEqual(step('r1', 0));
        expect(await store.getRun('nope')).toBeNull();
        expect(await store.getSteps('nope')).toEqual([]);
      });

      it('keeps millisecond timestamps and the plan document exactly', async () => {
        const r = run('r1', { createdAt: T0 + 123, startedAt: T0 + 456, finishedAt: T0 + 789 });
        await store.createRun(r, []);
        const got = await store.getRun('r1');
        expect(got?.createdAt).toBe(T0 + 123);
        expect(got?.startedAt).toBe(T0 + 456);
        expect(got?.finishedAt).toBe(T0 + 789);
        expect(got?.plan).toEqual(plan());
      });

      it('lists runs newest first, filtered by status, limited to the newest', async () => {
        await store.createRun(run('a', { createdAt: T0, status: 'running' }), []);
        await store.createRun(run('b', { createdAt: T0 + 10, status: 'succeeded' }), []);
        await store.createRun(run('c', { createdAt: T0 + 20, status: 'paused' }), []);
        expect((await store.listRuns()).map((r) => r.id)).toEqual(['c', 'b', 'a']);
        expect((await store.listRuns({ statuses: ['running', 'paused'] })).map((r) => r.id)).toEqual([
          'c',
          'a',
        ]);
        expect((await store.listRuns({ limit: 2 })).map((r) => r.id)).toEqual(['c', 'b']);
        expect(await store.listRuns({ statuses: ['aborted'] })).toEqual([]);
      });

      it('updateRun applies the patch and bumps the version when the expected version matches', async () => {
        const r = run('r1');
        await store.createRun(r, []);
        const updated = await store.updateRun('r1', 1, {
          status: 'running',
          startedAt: T0 + 1,
          currentStep: 2,
        });
        expect(updated).toEqual({ ...r, status: 'running', startedAt: T0 + 1, currentStep: 2, version: 2 });
        expect(await store.getRun('r1')).toEqual(updated);
        // An empty patch is still a transition: it bumps the version.
        expect((await store.updateRun('r1', 2, {}))?.version).toBe(3);
      });

      it('updateRun returns null and changes nothing when the version is stale (optimistic lock)', async () => {
        await store.createRun(run('r1'), []);
        expect(await store.updateRun('r1', 1, { status: 'running' })).not.toBeNull();
        expect(await store.updateRun('r1', 1, { status: 'aborted', failure: 'late writer' })).toBeNull();
        const got = await store.getRun('r1');
        expect(got?.status).toBe('running');
        expect(got?.failure).toBeNull();
        expect(got?.version).toBe(2);
        expect(await store.updateRun('nope', 1, { status: 'running' })).toBeNull();
      });

      it('updateRun lets exactly one of two concurrent writers with the same version win', async () => {
        await store.createRun(run('r1'), []);
        const results = await Promise.all([
          store.updateRun('r1', 1, { status: 'running' }),
          store.updateRun('r1', 1, { status: 'aborted' }),
        ]);
        expect(results.filter((x) => x !== null)).toHaveLength(1);
        const winner = results.find((x) => x !== null)!;
        expect(await store.getRun('r1')).toEqual(winner);
        expect(winner.version).toBe(2);
      });

      it('updateRun can clear nullable fields', async () => {
        await store.createRun(run('r1', { failure: 'stuck', finishedAt: T0 + 9 }), []);
        const updated = await store.updateRun('r1', 1, {
          failure: null,
          finishedAt: null,
          status: 'running',
        });
        expect(updated?.failure).toBeNull();
        expect(updated?.finishedAt).toBeNull();
      });

      it('keeps the readiness evidence, options, schedule, exclusions and rollback proposal of a run', async () => {
        const readiness: GateRecord[] = [
          {
            gate: 'contacts',
            required: true,
            status: 'met',
            evidence: { lead: { name: 'Ann Lee', contact: '+44 20 7946 0000' } },
            by: 'operator@example.com',
            at: T0 + 1,
          },
          {
            gate: 'snapshots',
            required: false,
            status: 'waived',
            evidence: null,
            by: 'admin',
            at: T0 + 2,
            reason: 'physical hosts',
          },
        ];
        await store.createRun(
          run('r1', {
            scheduledAt: T0 + 3_600_000,
            options: {
              onFailure: 'rollback',
              windowEndsAt: T0 + 7_200_000,
              rollbackAlertMs: 60_000,
              backupLabel: 'rg-1',
            },
            readiness,
            parentRunId: 'r0',
          }),
          [],
        );
        const proposal = {
          method: 'restore-database' as const,
          estimateMinutes: 25,
          reason: '40 min of the window left',
          proposedAt: T0 + 5,
          status: 'awaiting' as const,
          decidedBy: null,
          decidedAt: null,
          comment: '',
          rollbackRunId: null,
        };
        const updated = await store.updateRun('r1', 1, { excluded: ['s2'], proposal });
        expect(updated).toMatchObject({ excluded: ['s2'], proposal, readiness, parentRunId: 'r0' });
        expect(await store.getRun('r1')).toEqual(updated);
        expect((await store.updateRun('r1', 2, { proposal: null }))?.proposal).toBeNull();
      });

      it('updateStep patches only the given fields of one step', async () => {
        await store.createRun(run('r1'), [step('r1', 0), step('r1', 1)]);
        await store.updateStep('r1', 1, { status: 'failed', error: 'probe failed', finishedAt: T0 + 50 });
        const [s0, s1] = await store.getSteps('r1');
        expect(s0).toEqual(step('r1', 0));
        expect(s1).toEqual({
          ...step('r1', 1),
          status: 'failed',
          error: 'probe failed',
          finishedAt: T0 + 50,
        });
      });
    });

    describe('startStep', () => {
      it('marks the step running and records its actions and ledger entries', async () => {
        await store.createRun(run('r1'), [step('r1', 0), step('r1', 1)]);
        const acts = [action('r1', 0, 's1'), action('r1', 0, 's2')];
        const ledger = [closed('r1', 's1', 0), closed('r1', 's2', 0)];
        await store.startStep('r1', 0, 1, T0 + 100, acts, ledger);
        const [s0, s1] = await store.getSteps('r1');
        expect(s0).toMatchObject({ status: 'running', attempt: 1, startedAt: T0 + 100 });
        expect(s1).toEqual(step('r1', 1));
        expect(byId(await store.getActions('r1', 0))).toEqual(byId(acts));
        expect(sortLedger(await store.openLedger('r1'))).toEqual(sortLedger(ledger));
      });

      it('is idempotent: a replay adds no duplicates and leaves existing actions as they are', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        const acts = [action('r1', 0, 's1'), action('r1', 0, 's2')];
        const ledger = [closed('r1', 's1', 0)];
        await store.startStep('r1', 0, 1, T0 + 100, acts, ledger);
        const a1 = acts[0]!;
        await store.updateAction(a1.id, ['pending'], { status: 'dispatched', dispatchedAt: T0 + 101 });
        // The coordinator restarted and replays the same step start.
        await store.startStep('r1', 0, 1, T0 + 200, acts, ledger);
        const got = await store.getActions('r1', 0);
        expect(got).toHaveLength(2);
        expect(got.find((a) => a.id === a1.id)).toMatchObject({
          status: 'dispatched',
          dispatchedAt: T0 + 101,
        });
        expect(await store.openLedger('r1')).toHaveLength(1);
        expect((await store.getSteps('r1'))[0]).toMatchObject({ status: 'running', attempt: 1 });
      });

      it('records a new attempt with new action ids beside the old ones', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        await store.startStep('r1', 0, 1, T0 + 100, [action('r1', 0, 's1', 1)], []);
        await store.updateStep('r1', 0, { status: 'failed', error: 'boom', finishedAt: T0 + 150 });
        await store.startStep('r1', 0, 2, T0 + 200, [action('r1', 0, 's1', 2)], []);
        expect((await store.getSteps('r1'))[0]).toMatchObject({
          status: 'running',
          attempt: 2,
          startedAt: T0 + 200,
        });
        expect((await store.getActions('r1', 0)).map((a) => a.attempt).sort()).toEqual([1, 2]);
      });

      it('accepts a step with no actions and no ledger entries (e.g. sign-off)', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        await store.startStep('r1', 0, 1, T0, [], []);
        expect((await store.getSteps('r1'))[0]?.status).toBe('running');
        expect(await store.getActions('r1')).toEqual([]);
      });
    });

    describe('actions', () => {
      it('reads actions by run, by step and by id', async () => {
        await store.createRun(run('r1'), [step('r1', 0), step('r1', 1)]);
        await store.createRun(run('r2'), [step('r2', 0)]);
        const a = action('r1', 0, 's1');
        const b = action('r1', 1, 's1');
        const c = action('r2', 0, 's1');
        await store.startStep('r1', 0, 1, T0, [a], []);
        await store.startStep('r1', 1, 1, T0, [b], []);
        await store.startStep('r2', 0, 1, T0, [c], []);
        expect(byId(await store.getActions('r1'))).toEqual(byId([a, b]));
        expect(await store.getActions('r1', 1)).toEqual([b]);
        expect(await store.getAction(c.id)).toEqual(c);
        expect(await store.getAction('nope')).toBeNull();
      });

      it('keeps what an action produced (its evidence) with its terminal state', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        const a = action('r1', 0, 's1');
        await store.startStep('r1', 0, 1, T0, [a], []);
        const result = {
          kind: 'functionalTest' as const,
          baseUrl: 'http://127.0.0.1:8080',
          probes: [{ name: 'login', kind: 'login' as const, ok: true, ms: 12, detail: 'status 200' }],
          passed: 1,
          failed: 0,
        };
        expect(a.results).toEqual([]);
        const done = await store.updateAction(a.id, ['pending'], {
          status: 'succeeded',
          finishedAt: T0 + 9,
          results: [result],
        });
        expect(done?.results).toEqual([result]);
        expect((await store.getAction(a.id))?.results).toEqual([result]);
        expect((await store.updateAction(a.id, ['succeeded'], { status: 'skipped' }))?.results).toEqual([
          result,
        ]);
      });

      it('issue 15 item 4: keeps every result of an action whose ops produced several, in op order', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        const a = action('r1', 0, 's1');
        await store.startStep('r1', 0, 1, T0, [a], []);
        const first = { kind: 'command' as const, command: 'snapshot', exitCode: 0, outputTail: '', ms: 3 };
        const last = { kind: 'command' as const, command: 'db-upgrade', exitCode: 2, outputTail: 'x', ms: 4 };
        const done = await store.updateAction(a.id, ['pending'], {
          status: 'failed',
          finishedAt: T0 + 9,
          results: [first, last],
        });
        for (const got of [done, await store.getAction(a.id), (await store.getActions('r1'))[0]]) {
          expect(got?.results).toEqual([first, last]);
        }
      });

      it('updateAction moves an action only from one of the given states', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        const a = action('r1', 0, 's1');
        await store.startStep('r1', 0, 1, T0, [a], []);
        const d = await store.updateAction(a.id, ['pending'], { status: 'dispatched', dispatchedAt: T0 + 1 });
        expect(d).toEqual({ ...a, status: 'dispatched', dispatchedAt: T0 + 1 });
        expect(await store.getAction(a.id)).toEqual(d);
        // Not in `from` any more: nothing changes.
        expect(await store.updateAction(a.id, ['pending'], { status: 'cancelled' })).toBeNull();
        expect((await store.getAction(a.id))?.status).toBe('dispatched');
        const f = await store.updateAction(a.id, ['dispatched', 'accepted', 'running'], {
          status: 'failed',
          error: 'exit 1',
          finishedAt: T0 + 2,
        });
        expect(f).toMatchObject({
          status: 'failed',
          error: 'exit 1',
          finishedAt: T0 + 2,
          dispatchedAt: T0 + 1,
        });
        expect(await store.updateAction(a.id, [], { status: 'running' })).toBeNull();
        expect(await store.updateAction('nope', ['pending'], { status: 'dispatched' })).toBeNull();
      });

      it('updateAction lets exactly one of two concurrent transitions from the same state win', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        const a = action('r1', 0, 's1', 1, { status: 'running' });
        await store.startStep('r1', 0, 1, T0, [a], []);
        const results = await Promise.all([
          store.updateAction(a.id, ['running'], { status: 'succeeded', finishedAt: T0 + 1 }),
          store.updateAction(a.id, ['running'], { status: 'failed', finishedAt: T0 + 2 }),
        ]);
        expect(results.filter((x) => x !== null)).toHaveLength(1);
        expect(await store.getAction(a.id)).toEqual(results.find((x) => x !== null));
      });

      it('getOutstandingActions lists non-terminal actions of runs that are not terminal', async () => {
        const statuses: ActionStatus[] = [
          'pending',
          'dispatched',
          'accepted',
          'running',
          'succeeded',
          'failed',
          'cancelled',
        ];
        await store.createRun(run('live', { status: 'running' }), [step('live', 0)]);
        await store.createRun(run('paused', { status: 'paused' }), [step('paused', 0)]);
        await store.createRun(run('done', { status: 'succeeded' }), [step('done', 0)]);
        await store.createRun(run('gone', { status: 'aborted' }), [step('gone', 0)]);
        const live = statuses.map((s, i) => action('live', 0, `s${i}`, 1, { status: s }));
        await store.startStep('live', 0, 1, T0, live, []);
        await store.startStep(
          'paused',
          0,
          1,
          T0,
          [action('paused', 0, 's1', 1, { status: 'dispatched' })],
          [],
        );
        await store.startStep('done', 0, 1, T0, [action('done', 0, 's1', 1, { status: 'pending' })], []);
        await store.startStep('gone', 0, 1, T0, [action('gone', 0, 's1', 1, { status: 'running' })], []);

        const all = await store.getOutstandingActions();
        expect(all.map((a) => a.id).sort()).toEqual(
          [...live.slice(0, 4).map((a) => a.id), actionIdOf('paused', 0, 's1', 1)].sort(),
        );
        const s1 = await store.getOutstandingActions('s1');
        expect(s1.map((a) => a.id).sort()).toEqual(
          [actionIdOf('live', 0, 's1', 1), actionIdOf('paused', 0, 's1', 1)].sort(),
        );
        expect(await store.getOutstandingActions('nobody')).toEqual([]);
        expect(all.find((a) => a.id === live[0]!.id)).toEqual(live[0]);
      });

      it('getOutstandingActions follows the run status: a run that ends takes its actions with it', async () => {
        await store.createRun(run('r1', { status: 'running' }), [step('r1', 0)]);
        await store.startStep('r1', 0, 1, T0, [action('r1', 0, 's1')], []);
        expect(await store.getOutstandingActions()).toHaveLength(1);
        await store.updateRun('r1', 1, { status: 'aborted' });
        expect(await store.getOutstandingActions()).toEqual([]);
      });
    });

    describe('load-balancer ledger', () => {
      it('lists open entries, per run or all, until they are reopened', async () => {
        await store.createRun(run('r1'), [step('r1', 0), step('r1', 3)]);
        await store.createRun(run('r2'), [step('r2', 0)]);
        await store.startStep('r1', 0, 1, T0, [], [closed('r1', 's1', 0), closed('r1', 's2', 0)]);
        await store.startStep('r1', 3, 1, T0 + 5, [], [closed('r1', 's1', 3)]);
        await store.startStep('r2', 0, 1, T0, [], [closed('r2', 's1', 0)]);
        expect(await store.openLedger()).toHaveLength(4);
        expect(sortLedger(await store.openLedger('r2'))).toEqual([closed('r2', 's1', 0)]);

        // Reopening a server closes every open entry of that server in that run, and only those.
        await store.reopenLedger('r1', 's1', T0 + 10);
        expect(sortLedger(await store.openLedger('r1'))).toEqual([closed('r1', 's2', 0)]);
        expect(sortLedger(await store.openLedger('r2'))).toEqual([closed('r2', 's1', 0)]);

        // Reopening again (a replay) or reopening an unknown server is harmless.
        await store.reopenLedger('r1', 's1', T0 + 20);
        await store.reopenLedger('r1', 'nobody', T0 + 20);
        expect(await store.openLedger()).toHaveLength(2);
        expect(await store.openLedger('nope')).toEqual([]);
      });

      it('an open entry has reopenedAt null and keeps its closedAt', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        await store.startStep('r1', 0, 1, T0, [], [closed('r1', 's1', 0, T0 + 7)]);
        expect(await store.openLedger('r1')).toEqual([
          { runId: 'r1', serverId: 's1', stepIndex: 0, closedAt: T0 + 7, reopenedAt: null },
        ]);
      });
    });

    describe('logs', () => {
      it('appends in order and assigns growing ids; an empty append is a no-op', async () => {
        await store.appendLogs([]);
        await store.appendLogs([logLine({ message: 'one' }), logLine({ message: 'two' })]);
        await store.appendLogs([logLine({ message: 'three' })]);
        const got = await store.queryLogs({});
        expect(got.map((l) => l.message)).toEqual(['one', 'two', 'three']);
        expect(isIncreasing(got.map((l) => l.id))).toBe(true);
        const { id: _id, ...first } = got[0]!;
        expect(first).toEqual(logLine({ message: 'one' }));
      });

      it('filters by run, server, step and code, in any combination', async () => {
        await store.appendLogs([
          logLine({ runId: 'r1', serverId: 's1', stepIndex: 0, code: 'RG0010I', message: 'a' }),
          logLine({ runId: 'r1', serverId: 's2', stepIndex: 0, code: 'RG0020I', message: 'b' }),
          logLine({ runId: 'r1', serverId: 's1', stepIndex: 1, code: 'RG0020I', message: 'c' }),
          logLine({ runId: 'r2', serverId: 's1', stepIndex: 0, code: 'RG0010I', message: 'd' }),
          logLine({ runId: null, serverId: 's1', stepIndex: null, code: 'RG0900W', message: 'e' }),
        ]);
        const msgs = async (q: Parameters<EngineStore['queryLogs']>[0]) =>
          (await store.queryLogs(q)).map((l) => l.message);
        expect(await msgs({ runId: 'r1' })).toEqual(['a', 'b', 'c']);
        expect(await msgs({ serverId: 's1' })).toEqual(['a', 'c', 'd', 'e']);
        expect(await msgs({ runId: 'r1', stepIndex: 0 })).toEqual(['a', 'b']);
        expect(await msgs({ code: 'RG0020I' })).toEqual(['b', 'c']);
        expect(await msgs({ runId: 'r1', serverId: 's1', stepIndex: 1, code: 'RG0020I' })).toEqual(['c']);
        expect(await msgs({ runId: 'nope' })).toEqual([]);
      });

      it('follows with afterId: only newer lines, ascending, limit keeps the oldest', async () => {
        await store.appendLogs([1, 2, 3, 4, 5].map((i) => logLine({ runId: 'r1', message: `m${i}` })));
        const first = await store.queryLogs({ runId: 'r1', limit: 2 });
        expect(first.map((l) => l.message)).toEqual(['m1', 'm2']);
        const next = await store.queryLogs({ runId: 'r1', afterId: first[1]!.id, limit: 2 });
        expect(next.map((l) => l.message)).toEqual(['m3', 'm4']);
        await store.appendLogs([
          logLine({ runId: 'r1', message: 'm6' }),
          logLine({ runId: 'r2', message: 'x' }),
        ]);
        const rest = await store.queryLogs({ runId: 'r1', afterId: next[1]!.id });
        expect(rest.map((l) => l.message)).toEqual(['m5', 'm6']);
        expect(await store.queryLogs({ runId: 'r1', afterId: rest[1]!.id })).toEqual([]);
      });

      it('stores any text exactly (quotes, backslashes, braces, commas, newlines, unicode, "NULL")', async () => {
        const nasty = [
          'say "hi"',
          'C:\\path\\to',
          '{a,b}',
          'a, b',
          'line1\nline2\ttab',
          'NULL',
          '',
          'héllo ✓ 日本',
        ];
        await store.appendLogs(
          nasty.map((message, i) => logLine({ message, code: `C${i}`, runId: i % 2 ? null : 'r1' })),
        );
        expect((await store.queryLogs({})).map((l) => l.message)).toEqual(nasty);
      });

      it('keeps one line per (server, stream, seq): an agent resending unacknowledged lines adds nothing', async () => {
        const agentLine = (seq: number, message: string) =>
          logLine({ serverId: 'admin-1', source: 'agent', streamId: 'st-1', seq, message });
        await store.appendLogs([agentLine(1, 'a'), agentLine(2, 'b')]);
        await store.appendLogs([agentLine(2, 'b'), agentLine(3, 'c'), logLine({ message: 'engine' })]);
        // Same seq on another stream (the agent restarted) or another server is a different line.
        await store.appendLogs([
          logLine({ serverId: 'admin-1', source: 'agent', streamId: 'st-2', seq: 1, message: 'a2' }),
          logLine({ serverId: 'admin-2', source: 'agent', streamId: 'st-1', seq: 1, message: 'x' }),
        ]);
        const got = await store.queryLogs({});
        expect(got.map((l) => l.message)).toEqual(['a', 'b', 'c', 'engine', 'a2', 'x']);
        expect(got[2]).toMatchObject({ streamId: 'st-1', seq: 3 });
      });

      it('takes a large batch in one call, whole and in order', async () => {
        const lines = Array.from({ length: 2500 }, (_, i) =>
          logLine({ runId: 'big', message: `line ${i}`, at: T0 + i }),
        );
        await store.appendLogs(lines);
        const got = await store.queryLogs({ runId: 'big', limit: 5000 });
        expect(got).toHaveLength(2500);
        expect(got.every((l, i) => l.message === `line ${i}` && l.at === T0 + i)).toBe(true);
        expect(isIncreasing(got.map((l) => l.id))).toBe(true);
      });
    });

    describe('fleet', () => {
      it('upserts servers and reads them back', async () => {
        const s1 = server('s1');
        await store.upsertServer(s1);
        expect(await store.getServer('s1')).toEqual(s1);
        const changed = {
          ...s1,
          agentVersion: '1.1.0',
          status: 'lost' as const,
          gateOpen: false,
          connectedAt: null,
        };
        await store.upsertServer(changed);
        expect(await store.getServer('s1')).toEqual(changed);
        expect(await store.listServers()).toHaveLength(1);
        expect(await store.getServer('nope')).toBeNull();
        // Which coordinator the agent is connected to (several coordinators share the store).
        await store.upsertServer({ ...changed, coordinatorId: 'coord-b' });
        expect((await store.getServer('s1'))?.coordinatorId).toBe('coord-b');
        // A touch from the coordinator the agent left is ignored; its current one's applies.
        await store.touchServers([
          { id: 's1', lastHeartbeatAt: T0 + 5, status: 'disconnected', coordinatorId: 'coord-a' },
        ]);
        expect((await store.getServer('s1'))?.status).toBe('lost');
        await store.touchServers([
          { id: 's1', lastHeartbeatAt: T0 + 6, status: 'connected', coordinatorId: 'coord-b' },
        ]);
        expect((await store.getServer('s1'))?.status).toBe('connected');
      });

      it('lists servers, optionally of one cluster', async () => {
        await store.upsertServer(server('a1', { cluster: 'alpha' }));
        await store.upsertServer(server('a2', { cluster: 'alpha' }));
        await store.upsertServer(server('b1', { cluster: 'beta' }));
        expect((await store.listServers()).map((s) => s.id).sort()).toEqual(['a1', 'a2', 'b1']);
        expect((await store.listServers({ cluster: 'alpha' })).map((s) => s.id).sort()).toEqual(['a1', 'a2']);
        expect(await store.listServers({ cluster: 'none' })).toEqual([]);
      });

      it('touchServers applies many heartbeats at once and keeps fields a touch leaves out', async () => {
        for (const id of ['s1', 's2', 's3']) await store.upsertServer(server(id));
        const services = [
          {
            name: 'app',
            installedEditions: ['1.0', '2.0'],
            activeEdition: '2.0',
            health: 'healthy' as const,
          },
        ];
        await store.touchServers([
          { id: 's1', lastHeartbeatAt: T0 + 1000 },
          { id: 's2', lastHeartbeatAt: T0 + 2000, status: 'lost', gateOpen: false, services },
          { id: 'unknown', lastHeartbeatAt: T0 + 3000, status: 'connected' },
        ]);
        expect(await store.getServer('s1')).toEqual({ ...server('s1'), lastHeartbeatAt: T0 + 1000 });
        expect(await store.getServer('s2')).toEqual({
          ...server('s2'),
          lastHeartbeatAt: T0 + 2000,
          status: 'lost',
          gateOpen: false,
          services,
        });
        expect(await store.getServer('s3')).toEqual(server('s3'));
        expect(await store.getServer('unknown')).toBeNull();
        await store.touchServers([]);
      });

      it('touchServers: several touches of one server in a call apply in order', async () => {
        await store.upsertServer(server('s1'));
        await store.touchServers([
          { id: 's1', lastHeartbeatAt: T0 + 1, status: 'lost', gateOpen: false },
          { id: 's1', lastHeartbeatAt: T0 + 2, status: 'connected' },
        ]);
        expect(await store.getServer('s1')).toMatchObject({
          lastHeartbeatAt: T0 + 2,
          status: 'connected',
          gateOpen: false,
        });
      });
    });

    describe('pageServers', () => {
      const svc = (active: string, installed: string[], health: 'healthy' | 'unhealthy' | 'stopped') => [
        { name: 'app', installedEditions: installed, activeEdition: active, health },
      ];
      const fleet = [
        server('a1', { role: 'admin', lastHeartbeatAt: T0 + 30, services: svc('1.0', ['1.0'], 'healthy') }),
        server('a2', {
          role: 'stream',
          status: 'lost',
          gateOpen: false,
          lastHeartbeatAt: T0 + 10,
          services: svc('2.0', ['1.0', '2.0'], 'unhealthy'),
        }),
        server('a3', {
          role: 'stream',
          status: 'disconnected',
          gateOpen: false,
          services: svc('1.0', ['1.0'], 'stopped'),
        }),
        server('b1', {
          cluster: 'beta',
          role: 'admin',
          hostname: 'Web-01.Beta.example',
          lastHeartbeatAt: T0 + 20,
          services: svc('1.0', ['1.0', '2.0_FIX'], 'healthy'),
        }),
        server('b2_x', {
          cluster: 'beta',
          role: 'stream',
          hostname: 'b2%.example',
          lastHeartbeatAt: T0 + 20,
        }),
      ];
      const ids = (p: { rows: ServerRecord[] }) => p.rows.map((r) => r.id);
      beforeEach(async () => {
        for (const s of fleet) await store.upsertServer(s);
      });

      it('filters by cluster, role, status and gate, counts every match and pages with offset and limit', async () => {
        expect(ids(await store.pageServers({}))).toEqual(['a1', 'a2', 'a3', 'b1', 'b2_x']);
        expect(ids(await store.pageServers({ cluster: 'beta' }))).toEqual(['b1', 'b2_x']);
        expect(ids(await store.pageServers({ role: 'stream' }))).toEqual(['a2', 'a3', 'b2_x']);
        expect(ids(await store.pageServers({ status: 'connected' }))).toEqual(['a1', 'b1', 'b2_x']);
        expect(ids(await store.pageServers({ gateOpen: false }))).toEqual(['a2', 'a3']);
        expect(
          ids(await store.pageServers({ cluster: 'alpha', role: 'stream', gateOpen: false, status: 'lost' })),
        ).toEqual(['a2']);
        const page = await store.pageServers({ offset: 1, limit: 2 });
        expect(ids(page)).toEqual(['a2', 'a3']);
        expect(page.total).toBe(5);
        const past = await store.pageServers({ offset: 10, limit: 2 });
        expect(past.rows).toEqual([]);
        expect(past.total).toBe(5);
        expect((await store.pageServers({ cluster: 'none' })).total).toBe(0);
      });

      it('returns whole server records, exactly as stored', async () => {
        expect((await store.pageServers({ cluster: 'alpha', limit: 2 })).rows).toEqual(fleet.slice(0, 2));
      });

      it('searches ids, host names and roles in any case, and whole edition names active or installed', async () => {
        expect(ids(await store.pageServers({ search: 'WEB-01' }))).toEqual(['b1']);
        expect(ids(await store.pageServers({ search: 'Strea' }))).toEqual(['a2', 'a3', 'b2_x']);
        expect(ids(await store.pageServers({ search: '2.0' }))).toEqual(['a2']);
        expect(ids(await store.pageServers({ search: '2.0_fix' }))).toEqual(['b1']);
        // Part of an edition name is not a match (only ids, host names and roles match in part).
        expect(ids(await store.pageServers({ search: '2.0_' }))).toEqual([]);
        // LIKE's wildcards are plain characters here.
        expect(ids(await store.pageServers({ search: '%' }))).toEqual(['b2_x']);
        expect(ids(await store.pageServers({ search: '_x' }))).toEqual(['b2_x']);
        expect(ids(await store.pageServers({ search: 'a', cluster: 'beta', role: 'admin' }))).toEqual(['b1']);
      });

      it('sorts by each key, ties broken by id ascending, in either direction', async () => {
        expect(ids(await store.pageServers({ sort: 'id', desc: true }))).toEqual([
          'b2_x',
          'b1',
          'a3',
          'a2',
          'a1',
        ]);
        expect(ids(await store.pageServers({ sort: 'cluster', desc: true }))).toEqual([
          'b1',
          'b2_x',
          'a1',
          'a2',
          'a3',
        ]);
        expect(ids(await store.pageServers({ sort: 'role' }))).toEqual(['a1', 'b1', 'a2', 'a3', 'b2_x']);
        expect(ids(await store.pageServers({ sort: 'status' }))).toEqual(['a1', 'b1', 'b2_x', 'a3', 'a2']);
        // A server never heard from sorts as the oldest heartbeat.
        expect(ids(await store.pageServers({ sort: 'lastHeartbeatAt' }))).toEqual([
          'a3',
          'a2',
          'b1',
          'b2_x',
          'a1',
        ]);
        expect(ids(await store.pageServers({ sort: 'lastHeartbeatAt', desc: true, limit: 3 }))).toEqual([
          'a1',
          'b1',
          'b2_x',
        ]);
      });

      it("summarises the matching servers and lists the whole fleet's clusters and roles", async () => {
        const all = await store.pageServers({ limit: 1 });
        expect(all.summary).toEqual({ connected: 3, lost: 1, disconnected: 1, gateClosed: 2, unhealthy: 2 });
        expect(all.clusters).toEqual(['alpha', 'beta']);
        expect(all.roles).toEqual(['admin', 'stream']);
        const beta = await store.pageServers({ cluster: 'beta', role: 'admin' });
        expect(beta.summary).toEqual({ connected: 1, lost: 0, disconnected: 0, gateClosed: 0, unhealthy: 0 });
        expect(beta.clusters).toEqual(['alpha', 'beta']);
        expect(beta.roles).toEqual(['admin', 'stream']);
      });
    });

    describe('markDispatched', () => {
      it('moves every listed pending action to dispatched in one call and returns the ids it moved', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        const acts = ['s1', 's2', 's3'].map((s) => action('r1', 0, s));
        await store.startStep('r1', 0, 1, T0, acts, []);
        await store.updateAction(acts[2]!.id, ['pending'], { status: 'accepted' });
        const moved = await store.markDispatched!(
          acts.map((a) => a.id),
          T0 + 7,
        );
        expect(moved.sort()).toEqual([acts[0]!.id, acts[1]!.id].sort());
        const got = byId(await store.getActions('r1', 0));
        expect(got.map((a) => [a.status, a.dispatchedAt])).toEqual([
          ['dispatched', T0 + 7],
          ['dispatched', T0 + 7],
          ['accepted', null],
        ]);
        expect(await store.markDispatched!([], T0)).toEqual([]);
      });
    });

    describe('updateAction with lazyCommit (docs/adr/0050)', () => {
      it('issue 18: moves the action like an ordinary update, readable at once, and keeps the state check', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        const a = action('r1', 0, 's1');
        await store.startStep('r1', 0, 1, T0, [a], []);
        const moved = await store.updateAction(
          a.id,
          ['pending', 'dispatched', 'accepted', 'running'],
          { status: 'succeeded', finishedAt: T0 + 5 },
          undefined,
          { lazyCommit: true },
        );
        expect(moved).toMatchObject({ status: 'succeeded', finishedAt: T0 + 5 });
        expect(await store.getAction(a.id)).toMatchObject({ status: 'succeeded' });
        expect(
          await store.updateAction(a.id, ['running'], { status: 'failed' }, undefined, { lazyCommit: true }),
        ).toBeNull();
      });
    });

    describe('completeStep (docs/adr/0050)', () => {
      it("issue 18: in one write closes the ledger entries named (an earlier run's too), marks the step succeeded and patches the run", async () => {
        await store.createRun(run('old'), [step('old', 0)]);
        await store.startStep('old', 0, 1, T0, [], [closed('old', 's1', 0)]);
        await store.createRun(run('r1'), [step('r1', 0), step('r1', 1)]);
        await store.startStep('r1', 0, 1, T0, [], [closed('r1', 's1', 0), closed('r1', 's2', 0)]);
        const updated = await store.completeStep!({
          runId: 'r1',
          index: 0,
          finishedAt: T0 + 9,
          reopen: [
            { runId: 'old', serverId: 's1' },
            { runId: 'r1', serverId: 's1' },
          ],
          expectedVersion: 1,
          runPatch: { currentStep: 1 },
        });
        expect(updated).toMatchObject({ id: 'r1', currentStep: 1, version: 2 });
        expect(await store.getRun('r1')).toMatchObject({ currentStep: 1, version: 2 });
        expect((await store.getSteps('r1'))[0]).toMatchObject({
          status: 'succeeded',
          finishedAt: T0 + 9,
          error: null,
        });
        expect(await store.openLedger('old')).toEqual([]);
        expect(sortLedger(await store.openLedger('r1'))).toEqual([closed('r1', 's2', 0)]);
      });

      it('issue 18: a stale version writes nothing at all and returns null; a stale lease is refused', async () => {
        await store.createRun(run('r1'), [step('r1', 0)]);
        await store.startStep('r1', 0, 1, T0, [], [closed('r1', 's1', 0)]);
        const c = {
          runId: 'r1',
          index: 0,
          finishedAt: T0 + 9,
          reopen: [{ runId: 'r1', serverId: 's1' }],
          expectedVersion: 7,
          runPatch: { currentStep: 1 },
        };
        expect(await store.completeStep!(c)).toBeNull();
        expect(await store.getRun('r1')).toMatchObject({ currentStep: 0, version: 1 });
        expect((await store.getSteps('r1'))[0]).toMatchObject({ status: 'running' });
        expect(await store.openLedger('r1')).toHaveLength(1);
        const old = await store.acquireLease('r1', 'coord-a', 60_000);
        await store.acquireLease('r1', 'coord-b', 60_000, true);
        await expect(
          store.completeStep!({ ...c, expectedVersion: 1 }, { runId: 'r1', token: old!.token }),
        ).rejects.toBeInstanceOf(StaleLeaseError);
        expect(await store.getRun('r1')).toMatchObject({ currentStep: 0, version: 1 });
        expect(await store.openLedger('r1')).toHaveLength(1);
      });
    });

    describe('run leases and fencing', () => {
      it('grants a free lease with token 1, refuses another holder while it lasts, renews for its holder', async () => {
        const a = await store.acquireLease('r1', 'coord-a', 60_000);
        expect(a).toEqual({ runId: 'r1', holder: 'coord-a', token: 1 });
        expect(await store.acquireLease('r1', 'coord-b', 60_000)).toBeNull();
        expect(await store.renewLease(a!, 60_000)).toBe(true);
        const stored = await store.getLease('r1');
        expect(stored).toMatchObject({ runId: 'r1', holder: 'coord-a', token: 1 });
        expect(stored!.expiresAt).toBeGreaterThan(Date.now() + 30_000);
        expect(await store.getLease('nope')).toBeNull();
      });

      it('an expired lease is taken over with the next token; the old holder can no longer renew it', async () => {
        const a = await store.acquireLease('r1', 'coord-a', 30);
        await new Promise((r) => setTimeout(r, 80));
        const b = await store.acquireLease('r1', 'coord-b', 60_000);
        expect(b).toEqual({ runId: 'r1', holder: 'coord-b', token: 2 });
        expect(await store.renewLease(a!, 60_000)).toBe(false);
        expect(await store.getLease('r1')).toMatchObject({ holder: 'coord-b', token: 2 });
      });

      it('the same holder re-acquires at once (a restarted coordinator) with a new token; force takes any lease', async () => {
        await store.acquireLease('r1', 'coord-a', 60_000);
        expect((await store.acquireLease('r1', 'coord-a', 60_000))?.token).toBe(2);
        expect(await store.acquireLease('r1', 'coord-b', 60_000)).toBeNull();
        expect(await store.acquireLease('r1', 'coord-b', 60_000, true)).toEqual({
          runId: 'r1',
          holder: 'coord-b',
          token: 3,
        });
      });

      it('a released lease can be taken by another holder at once', async () => {
        const a = await store.acquireLease('r1', 'coord-a', 60_000);
        await store.releaseLease(a!);
        expect((await store.acquireLease('r1', 'coord-b', 60_000))?.token).toBe(2);
        // Releasing a lease that was lost changes nothing.
        await store.releaseLease(a!);
        expect(await store.acquireLease('r1', 'coord-c', 60_000)).toBeNull();
      });

      it("refuses a stale token's updateRun, updateStep, startStep, updateAction, markDispatched and reopenLedger", async () => {
        await store.createRun(run('r1'), [step('r1', 0), step('r1', 1)]);
        const old = await store.acquireLease('r1', 'coord-a', 60_000);
        const stale = { runId: 'r1', token: old!.token };
        const a0 = action('r1', 0, 's1');
        await store.startStep('r1', 0, 1, T0, [a0], [closed('r1', 's1', 0)], stale);
        // Another coordinator takes the run over: every write with the old token is refused.
        const now = await store.acquireLease('r1', 'coord-b', 60_000, true);
        const fresh = { runId: 'r1', token: now!.token };
        await expect(store.updateRun('r1', 1, { status: 'paused' }, stale)).rejects.toBeInstanceOf(
          StaleLeaseError,
        );
        await expect(store.updateStep('r1', 0, { status: 'failed' }, stale)).rejects.toBeInstanceOf(
          StaleLeaseError,
        );
        await expect(
          store.startStep('r1', 1, 1, T0, [action('r1', 1, 's1')], [closed('r1', 's1', 1)], stale),
        ).rejects.toBeInstanceOf(StaleLeaseError);
        await expect(
          store.updateAction(a0.id, ['pending'], { status: 'cancelled' }, stale),
        ).rejects.toBeInstanceOf(StaleLeaseError);
        await expect(store.markDispatched!([a0.id], T0 + 1, stale)).rejects.toBeInstanceOf(StaleLeaseError);
        await expect(store.reopenLedger('r1', 's1', T0 + 2, stale)).rejects.toBeInstanceOf(StaleLeaseError);
        // Nothing of it was written.
        expect(await store.getRun('r1')).toMatchObject({ status: 'pending', version: 1 });
        const [s0, s1] = await store.getSteps('r1');
        expect(s0).toMatchObject({ status: 'running', attempt: 1 });
        expect(s1).toEqual(step('r1', 1));
        expect(await store.getActions('r1', 1)).toEqual([]);
        expect(await store.getAction(a0.id)).toMatchObject({ status: 'pending', dispatchedAt: null });
        expect(await store.openLedger('r1')).toHaveLength(1);
        // The current token's writes go through, and unfenced writes (an agent's report) too.
        expect(await store.updateRun('r1', 1, { status: 'running' }, fresh)).toMatchObject({ version: 2 });
        expect(await store.markDispatched!([a0.id], T0 + 3, fresh)).toEqual([a0.id]);
        expect(await store.updateAction(a0.id, ['dispatched'], { status: 'accepted' })).toMatchObject({
          status: 'accepted',
        });
        await store.reopenLedger('r1', 's1', T0 + 4, fresh);
        expect(await store.openLedger('r1')).toEqual([]);
        // A version conflict under a valid fence is still a plain null, not a lease error.
        expect(await store.updateRun('r1', 1, { status: 'paused' }, fresh)).toBeNull();
      });

      it('refuses a fenced write for a run that no coordinator leads', async () => {
        await store.createRun(run('r2'), [step('r2', 0)]);
        await expect(
          store.updateRun('r2', 1, { status: 'running' }, { runId: 'r2', token: 1 }),
        ).rejects.toBeInstanceOf(StaleLeaseError);
      });
    });

    describe('clusters', () => {
      it('keeps cluster settings ({} when none), replaces them, beside the LB configuration', async () => {
        expect(await store.getClusterSettings('demo')).toEqual({});
        const settings = {
          readiness: { require: ['contacts' as const], optional: [] },
          preparation: { fileBackup: true, snapshots: 'all' as const, repositoryCheck: 'repository-check' },
          designatedServer: 'admin-1',
        };
        await store.setClusterSettings('demo', settings);
        expect(await store.getClusterSettings('demo')).toEqual(settings);
        await store.setClusterLb('demo', null);
        expect(await store.getClusterSettings('demo')).toEqual(settings);
        await store.setClusterSettings('demo', {});
        expect(await store.getClusterSettings('demo')).toEqual({});
      });

      it('keeps a cluster load-balancer configuration, replaces it and clears it', async () => {
        expect(await store.getClusterLb('demo')).toBeNull();
        const runtime = {
          mode: 'haproxy-runtime' as const,
          balancers: [{ name: 'lb', runtime: { socketPath: '/run/haproxy/admin.sock' } }],
          pools: [{ name: 'demo', backend: 'demo', servers: { 'admin-1': 's1' } }],
          checkIntervalMs: 1000,
          fall: 2,
          rise: 2,
          readmitTimeoutMs: 30_000,
          readmitWait: 'up' as const,
        };
        await store.setClusterLb('demo', runtime);
        expect(await store.getClusterLb('demo')).toEqual(runtime);
        const gateOnly = { ...runtime, mode: 'gate-only' as const, balancers: [], pools: [] };
        await store.setClusterLb('demo', gateOnly);
        expect(await store.getClusterLb('demo')).toEqual(gateOnly);
        expect(await store.getClusterLb('other')).toBeNull();
        await store.setClusterLb('demo', null);
        expect(await store.getClusterLb('demo')).toBeNull();
      });
    });

    describe('editions', () => {
      it('stores editions and reads them back, optional fields absent or present', async () => {
        const plain = edition('app', '1.0');
        const full = edition('app', '2.0', {
          description: 'New reports',
          dbUpgradeCommand: 'migrate',
          size: 5_000_000_000,
        });
        await store.insertEdition(plain);
        await store.insertEdition(full);
        expect(await store.getEdition('app', '1.0')).toEqual(plain);
        expect(await store.getEdition('app', '2.0')).toEqual(full);
        expect(await store.getEdition('app', '3.0')).toBeNull();
        expect(await store.getEdition('other', '1.0')).toBeNull();
      });

      it('refuses a second edition of the same name for an app with StoreConflictError', async () => {
        await store.insertEdition(edition('app', '1.0.1_FIX'));
        await expect(
          store.insertEdition(edition('app', '1.0.1_FIX', { sha256: 'b'.repeat(64) })),
        ).rejects.toBeInstanceOf(StoreConflictError);
        // The first one is untouched, and the same name is free for another app.
        expect((await store.getEdition('app', '1.0.1_FIX'))?.sha256).toBe('a'.repeat(64));
        await store.insertEdition(edition('other', '1.0.1_FIX'));
      });

      it('issue 16 item 6: an edition agents fetch by URL keeps its URL apart from the record (docs/adr/0039)', async () => {
        const byAgents = edition('app', '4.0', {
          sha256: 'c'.repeat(64),
          fetchBy: 'agents',
          source: 'https://artifacts.example/app-4.0.tgz',
        });
        const url = 'https://artifacts.example/app-4.0.tgz?X-Signature=secret';
        await store.insertEdition(byAgents, url);
        await store.insertEdition(edition('app', '5.0', { sha256: 'd'.repeat(64) }));
        expect(await store.getEdition('app', '4.0')).toEqual(byAgents);
        expect(JSON.stringify(await store.listEditions('app'))).not.toContain('secret');
        expect(await store.editionFetchUrl('4.0', 'c'.repeat(64))).toBe(url);
        expect(await store.editionFetchUrl('4.0', 'd'.repeat(64))).toBeNull();
        expect(await store.editionFetchUrl('5.0', 'd'.repeat(64))).toBeNull();
      });

      it('lists editions, optionally of one app', async () => {
        await store.insertEdition(edition('app', '1.0'));
        await store.insertEdition(edition('app', '2.0'));
        await store.insertEdition(edition('web', '1.0'));
        const key = (e: EditionRecord) => `${e.app}/${e.name}`;
        expect((await store.listEditions()).map(key).sort()).toEqual(['app/1.0', 'app/2.0', 'web/1.0']);
        expect((await store.listEditions('app')).map(key).sort()).toEqual(['app/1.0', 'app/2.0']);
        expect(await store.listEditions('none')).toEqual([]);
      });
    });

    describe('audit', () => {
      it('lists events newest first (later append first on equal time), limited to the newest', async () => {
        const e1 = audit(T0, 'created run', { runId: 'r1' });
        const e2 = audit(T0 + 1, 'started run', { runId: 'r1', nested: { steps: [1, 2], ok: true } });
        const e3 = audit(T0 + 1, 'paused run', { runId: 'r1', reason: null });
        for (const e of [e1, e2, e3]) await store.appendAudit(e);
        expect(await store.listAudit()).toEqual([e3, e2, e1]);
        expect(await store.listAudit({ limit: 2 })).toEqual([e3, e2]);
      });

      it('records an entry quoting a NUL an untrusted party sent (issue 17: a refusal is never lost)', async () => {
        const e = {
          ...audit(T0, 'agents.update-refused', { why: 'forged\u0000', ['k\u0000']: ['\u0000'] }),
          target: '\u202e\u0000evil',
        };
        await store.appendAudit(e);
        const [got] = await store.listAudit();
        expect(got?.action).toBe('agents.update-refused');
        // PostgreSQL cannot hold U+0000: it may become U+FFFD, nothing else changes.
        const nul = (v: unknown): unknown =>
          JSON.parse(JSON.stringify(v).replace(/\\u0000|\\ufffd|\ufffd/gi, '?'));
        expect(nul(got)).toEqual(nul(e));
      });
    });
  });
}

// Fixtures. Timestamps carry odd milliseconds so a store that truncates them fails.
const T0 = 1_700_000_000_123;

function actionIdOf(runId: string, stepIndex: number, serverId: string, attempt: number): string {
  return `${runId}.s${stepIndex}.${serverId}.a${attempt}`;
}

const OPS: ActionOp[] = [
  { op: 'gate', state: 'closed' },
  { op: 'drain', service: 'app', maxWaitMs: 30_000 },
  { op: 'stop', service: 'app', timeoutMs: 10_000 },
];

function plan(): Plan {
  return {
    procedure: 'minor',
    cluster: 'alpha',
    service: 'app',
    toEdition: { app: 'app', name: '2.0', sha256: 'a'.repeat(64), size: 1234, description: 'Two' },
    groups: [{ index: 1, servers: [{ id: 's1', cluster: 'alpha', role: 'admin', hostname: 'h1' }] }],
    steps: [
      {
        index: 0,
        key: 'g1.stop',
        kind: 'stop',
        title: 'Take group 1 out of rotation and stop it',
        seedStep: 1,
        group: 1,
        phase: 'service-at-risk',
        performedBy: ['engineer'],
        servers: ['s1'],
        ops: OPS,
        leavesRotation: ['s1'],
        rejoinsRotation: [],
      },
    ],
    maxOutOfRotation: 1,
    window: { atRiskMinutes: 30, downtimeMinutes: 0, basis: 'measured' },
  };
}

function run(id: string, over: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    kind: 'minor-upgrade',
    status: 'pending' as RunStatus,
    plan: plan(),
    currentStep: 0,
    failure: null,
    createdBy: 'operator@example.com',
    createdAt: T0,
    startedAt: null,
    finishedAt: null,
    version: 1,
    scheduledAt: null,
    options: { ...DEFAULT_RUN_OPTIONS },
    readiness: [],
    excluded: [],
    proposal: null,
    parentRunId: null,
    ...over,
  };
}

function step(runId: string, index: number, over: Partial<StepRecord> = {}): StepRecord {
  return {
    runId,
    index,
    status: 'pending',
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
    ...over,
  };
}

function action(
  runId: string,
  stepIndex: number,
  serverId: string,
  attempt = 1,
  over: Partial<ActionRecord> = {},
): ActionRecord {
  return {
    id: actionIdOf(runId, stepIndex, serverId, attempt),
    runId,
    stepIndex,
    serverId,
    attempt,
    ops: OPS,
    status: 'pending',
    error: null,
    createdAt: T0 + stepIndex,
    dispatchedAt: null,
    finishedAt: null,
    results: [],
    ...over,
  };
}

function closed(runId: string, serverId: string, stepIndex: number, at = T0): LedgerEntry {
  return { runId, serverId, stepIndex, closedAt: at, reopenedAt: null };
}

function logLine(over: Partial<LogRecord> = {}): LogRecord {
  return {
    runId: 'r1',
    actionId: null,
    serverId: null,
    stepIndex: null,
    at: T0,
    level: 'info',
    code: 'RG0010I',
    message: 'rollout started',
    source: 'engine',
    ...over,
  };
}

function server(id: string, over: Partial<ServerRecord> = {}): ServerRecord {
  return {
    id,
    cluster: 'alpha',
    role: 'admin',
    hostname: `${id}.example.internal`,
    agentVersion: '1.0.0',
    capabilities: ['gate.v1', 'journal.v1'],
    gateUrl: `http://127.0.0.1:9000/${id}/gate`,
    status: 'connected',
    gateOpen: true,
    services: [{ name: 'app', installedEditions: ['1.0'], activeEdition: '1.0', health: 'healthy' }],
    lastHeartbeatAt: null,
    connectedAt: T0,
    ...over,
  };
}

function edition(app: string, name: string, over: Partial<EditionRecord> = {}): EditionRecord {
  return {
    app,
    name,
    sha256: 'a'.repeat(64),
    size: 1024,
    createdAt: T0,
    createdBy: 'operator@example.com',
    ...over,
  };
}

function audit(at: number, action: string, details: Record<string, unknown>): AuditEvent {
  return { at, actor: 'operator@example.com', action, target: 'run:r1', details };
}

function byId<T extends { id: string }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => a.id.localeCompare(b.id));
}

function sortLedger(xs: LedgerEntry[]): LedgerEntry[] {
  const k = (e: LedgerEntry) => `${e.runId}/${e.serverId}/${String(e.stepIndex).padStart(6, '0')}`;
  return [...xs].sort((a, b) => k(a).localeCompare(k(b)));
}

function isIncreasing(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || x > xs[i - 1]!);
}
export { describeAuthStoreContract } from './auth-store-contract';
