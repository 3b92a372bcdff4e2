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
});
