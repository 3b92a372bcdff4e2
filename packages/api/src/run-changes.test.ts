import { describe, expect, it } from 'vitest';
import type { EngineStore } from '@rollgate/engine';
import { createRunChanges, storeWithRunChanges } from './run-changes';

describe('run changes (issue 18 item 5: the live stream wakes on a change, not on a poll)', () => {
  it('a wait ends at the run’s next change, not at its fallback interval', async () => {
    const changes = createRunChanges({ coalesceMs: 0 });
    const f = changes.follow('r1');
    const t0 = Date.now();
    setTimeout(() => changes.notify('r1'), 20);
    await f.wait(60_000);
    expect(Date.now() - t0).toBeLessThan(30_000);
    f.close();
  });

  it('a change that came before the wait ends the next wait at once; other runs do not wake it', async () => {
    const changes = createRunChanges({ coalesceMs: 0 });
    const f = changes.follow('r1');
    changes.notify('r1');
    await f.wait(60_000); // would hang the test if the change were lost
    let woke = false;
    const pending = f.wait(60_000).then(() => (woke = true));
    changes.notify('r2');
    await new Promise((r) => setTimeout(r, 50));
    expect(woke).toBe(false);
    f.close();
    await pending;
    expect(woke).toBe(true);
  });

  it('issue 18: a follower reads once the engine has settled the run, not in the middle of its step', async () => {
    let settle!: () => void;
    const engineBusy = new Promise<void>((r) => (settle = r));
    const asked: string[] = [];
    const changes = createRunChanges({
      coalesceMs: 0,
      maxDeferMs: 60_000,
      settled: (runId) => {
        asked.push(runId);
        return engineBusy;
      },
    });
    const f = changes.follow('r1');
    let woke = false;
    const pending = f.wait(60_000).then(() => (woke = true));
    changes.notify('r1');
    await new Promise((r) => setTimeout(r, 50));
    expect(asked).toEqual(['r1']);
    expect(woke).toBe(false); // the engine is still moving r1
    settle();
    await pending;
    expect(woke).toBe(true);
    f.close();
  });

  it('issue 18: a follower waits for the engine at most maxDeferMs, and not at all without a change', async () => {
    const never = new Promise<void>(() => {});
    const changes = createRunChanges({ coalesceMs: 0, maxDeferMs: 30, settled: () => never });
    const f = changes.follow('r1');
    changes.notify('r1');
    await f.wait(60_000); // would hang the test if the engine's wait were not bounded
    const t0 = Date.now();
    await f.wait(40); // no change: the fallback interval only
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35);
    f.close();
  });

  it('the store reports the runs its writes touch, after they committed', async () => {
    const notified: string[] = [];
    const writes: string[] = [];
    const base = {
      updateRun: async (id: string) => {
        writes.push(id);
        return id === 'stale' ? null : ({ id } as never);
      },
      appendLogs: async () => {
        writes.push('logs');
      },
      updateAction: async () => ({ runId: 'r3' }) as never,
    } as unknown as EngineStore;
    const store = storeWithRunChanges(base, { notify: (id) => notified.push(`${id}@${writes.length}`) });
    await store.updateRun('r1', 1, {});
    await store.updateRun('stale', 1, {});
    await store.appendLogs([{ runId: 'r2' } as never, { runId: 'r2' } as never, { runId: null } as never]);
    await store.updateAction('a', ['pending'], {});
    expect(notified).toEqual(['r1@1', 'r2@3', 'r3@3']);
  });

  it("issue 18: reports a step's one-commit end (completeStep) and passes an agent report's lazy commit on", async () => {
    const notified: string[] = [];
    const seen: unknown[] = [];
    const base = {
      completeStep: async (c: { runId: string }) => (c.runId === 'stale' ? null : ({ id: c.runId } as never)),
      updateAction: async (...args: unknown[]) => (seen.push(args[4]), { runId: 'r5' } as never),
    } as unknown as EngineStore;
    const store = storeWithRunChanges(base, { notify: (id) => notified.push(id) });
    const c = { index: 0, finishedAt: 1, reopen: [], expectedVersion: 1, runPatch: {} };
    expect(await store.completeStep!({ ...c, runId: 'r4' })).toEqual({ id: 'r4' });
    expect(await store.completeStep!({ ...c, runId: 'stale' })).toBeNull();
    await store.updateAction('a', ['running'], {}, undefined, { lazyCommit: true });
    expect(notified).toEqual(['r4', 'r5']);
    expect(seen).toEqual([{ lazyCommit: true }]);
    // A store without completeStep stays without it: the engine then writes step by step.
    expect(storeWithRunChanges({} as EngineStore, { notify: () => {} }).completeStep).toBeUndefined();
  });

  it("issue 18: a run's lines are stored once its success was written here, the engine settled and the writer flushed", async () => {
    const order: string[] = [];
    let settle!: () => void;
    const changes = createRunChanges({
      maxDeferMs: 60_000,
      settled: () => new Promise<void>((r) => (settle = () => (order.push('settled'), r()))),
      flushLines: async () => void order.push('flushed'),
    });
    const store = storeWithRunChanges(
      {
        updateRun: async (id: string, _v: number, patch: { status?: string }) => ({ id, ...patch }),
      } as unknown as EngineStore,
      changes,
    );
    await store.updateRun('running', 1, { status: 'running' });
    await store.updateRun('aborted', 1, { status: 'aborted' });
    expect(await changes.linesStored('running')).toBe(false);
    expect(await changes.linesStored('aborted')).toBe(false);
    expect(await changes.linesStored('elsewhere')).toBe(false);
    expect(order).toEqual([]);
    await store.updateRun('done', 1, { status: 'succeeded' });
    const stored = changes.linesStored('done');
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]); // the engine has not settled the run: no flush yet
    settle();
    expect(await stored).toBe(true);
    expect(order).toEqual(['settled', 'flushed']);
  });

  it('issue 18: a failed flush, or no writer, leaves the stream to wait for quiet; old runs are forgotten', async () => {
    const failing = createRunChanges({
      flushLines: async () => {
        throw new Error('database gone');
      },
    });
    failing.succeeded('r1');
    expect(await failing.linesStored('r1')).toBe(false);
    const noWriter = createRunChanges();
    noWriter.succeeded('r1');
    expect(await noWriter.linesStored('r1')).toBe(false);
    const flushed = createRunChanges({ flushLines: async () => {} });
    for (let i = 0; i <= 1000; i++) flushed.succeeded(`r${i}`);
    expect(await flushed.linesStored('r0')).toBe(false);
    expect(await flushed.linesStored('r1')).toBe(true);
    expect(await flushed.linesStored('r1000')).toBe(true);
  });

  it('issue 18: a flush that does not end within maxFlushMs leaves the stream to wait for quiet', async () => {
    const hung = createRunChanges({ flushLines: () => new Promise<void>(() => {}), maxFlushMs: 30 });
    hung.succeeded('r1');
    const t0 = Date.now();
    expect(await hung.linesStored('r1')).toBe(false); // would hang the test without the bound
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });
});
