// Issue 13 item 3: a health flap of the last server of a pool never makes the engine take it out.
// The engine reads agent health (the reported gate: wish AND health) in one place, the capacity
// floor before a step takes servers out; a flap there only HOLDS the step. It never closes the
// flapping server's gate, and never lets both servers of a role be out by its wish at once.
import { describe, expect, it } from 'vitest';
import { plan, setup, until } from './test-harness';

describe('capacity floor under a health flap of the last server (issue 13 item 3)', () => {
  it('holds while the remaining server flaps, never takes it out, and completes once it is steady', async () => {
    const { store, engine, logs, fleet } = await setup(undefined, undefined, { ids: ['admin-1', 'admin-2'] });
    // admin-2 starts flapped down: the step that takes admin-1 out must wait.
    await store.touchServers([{ id: 'admin-2', lastHeartbeatAt: 0, gateOpen: false }]);
    const run = await engine.createRun(plan(['admin-1', 'admin-2']), 'tester');
    await until(
      async () => logs.filter((l) => l.code === 'RG0030W').length,
      (n) => n > 0,
    );
    // Then it flaps for a while (its reported gate only: the wish stays the engine's), then steadies.
    let up = false;
    const flapUntil = Date.now() + 400;
    while (Date.now() < flapUntil) {
      up = !up;
      await store.touchServers([
        { id: 'admin-2', lastHeartbeatAt: 0, gateOpen: up && fleet.gates.get('admin-2')! },
      ]);
      await new Promise((r) => setTimeout(r, 7));
    }
    await store.touchServers([{ id: 'admin-2', lastHeartbeatAt: 0, gateOpen: fleet.gates.get('admin-2')! }]);
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    // Each admin went out for its own group, never both at once.
    expect(fleet.maxOut).toBe(1);
    // The hold said why.
    expect(logs.find((l) => l.code === 'RG0030W')!.message).toContain('admin-2: gate closed');
    await engine.stop();
  });
});
