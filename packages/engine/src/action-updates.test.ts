// Which agent reports the engine takes (docs/adr/0018): only the action's own server's, only for an
// action that was sent to it, and only a result one of the action's ops produces.
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine';
import { createMemoryStore } from './memory-store';
import type { AgentBus, DispatchAction } from './ports';
import { plan, registerServers, silent, until } from './test-harness';

const IDS = ['admin-1', 'admin-2', 'stream-1', 'stream-2'];

async function heldFleet(connected: (id: string) => boolean = () => true) {
  const store = createMemoryStore();
  await registerServers(store, IDS);
  // Agents that take actions and report nothing: the test reports for them.
  const held: DispatchAction[] = [];
  const bus: AgentBus = {
    dispatch: (serverId, action) => connected(serverId) && (held.push(action), true),
    cancel() {},
    setGate: () => true,
    isConnected: (id) => connected(id),
  };
  let n = 0;
  const engine = createEngine({
    store,
    bus,
    clock: { now: () => Date.now() },
    emit: () => undefined,
    log: silent,
    newRunId: () => `r-upd-${++n}`,
    tickMs: 20,
  });
  await engine.start();
  return { store, engine, held };
}

describe('action updates: an agent is trusted with its own server only', () => {
  it('issue 17 item 1: refuses another server, an unsent action and a result no op produces; takes the owner', async () => {
    // The agents are away at first: the first step's actions are created but not sent.
    let online = false;
    const { store, engine, held } = await heldFleet(() => online);
    const run = await engine.createRun(plan(), 'tester');
    const pending = await until(
      async () => (await store.getOutstandingActions()).find((a) => a.status === 'pending'),
      (a) => a !== undefined,
    );
    // Not sent, so not reportable, even by its own server — unless the gateway saw it go out on
    // the sender's stream (the "dispatched" write may commit after a fast agent answers).
    expect(
      await engine.onActionUpdate({
        actionId: pending!.id,
        serverId: pending!.serverId,
        status: 'succeeded',
        reason: '',
        atMs: 0,
      }),
    ).toMatch(/has not been sent/);
    expect((await store.getAction(pending!.id))!.status).toBe('pending');

    online = true;
    for (const id of IDS) await engine.onAgentConnected(id);
    await until(
      async () => held.length,
      (n) => n > 0,
    );
    const sent = held[0]!;
    const upd = (over: Partial<Parameters<typeof engine.onActionUpdate>[0]>) =>
      engine.onActionUpdate({
        actionId: sent.actionId,
        serverId: 'admin-1',
        status: 'failed',
        reason: 'forged',
        atMs: 0,
        ...over,
      });
    const other = IDS.find((id) => !sent.actionId.includes(`.${id}.`))!;
    const owner = IDS.find((id) => sent.actionId.includes(`.${id}.`))!;
    const before = await store.getAction(sent.actionId);

    expect(await upd({ serverId: other })).toMatch(/belongs to server/);
    expect(await upd({ actionId: `${run.id}.s99.${owner}.a1`, serverId: owner })).toMatch(/no action/);
    // A command result for an action without a command op.
    expect(
      await upd({
        serverId: owner,
        status: 'succeeded',
        results: [{ kind: 'command', command: 'x', exitCode: 0, outputTail: '', ms: 1 }],
      }),
    ).toMatch(/no op that produces a "command" result/);
    expect(await store.getAction(sent.actionId)).toEqual(before);
    expect((await store.getRun(run.id))!.status).toBe('running');

    // The owner's own report is taken.
    expect(await upd({ serverId: owner, status: 'succeeded', reason: '' })).toBeNull();
    expect((await store.getAction(sent.actionId))!.status).toBe('succeeded');
    await engine.stop();
  });
});

describe('action updates: progress that changes nothing', () => {
  it('issue 18: a repeated RUNNING (each op reports one) is answered at once, without a store write; the result still lands', async () => {
    const { store, engine, held } = await heldFleet();
    await engine.createRun(plan(), 'tester');
    const sent = await until(
      async () => held[0],
      (a) => a !== undefined,
    );
    const owner = IDS.find((id) => sent!.actionId.includes(`.${id}.`))!;
    const writes: string[] = [];
    const write = store.updateAction.bind(store);
    store.updateAction = (id, from, patch) => {
      writes.push(`${patch.status}`);
      return write(id, from, patch);
    };
    const report = (status: 'running' | 'succeeded', serverId = owner) =>
      engine.onActionUpdate({ actionId: sent!.actionId, serverId, status, reason: '', atMs: 0 });

    expect(await report('running')).toBeNull();
    expect((await store.getAction(sent!.actionId))!.status).toBe('running');
    for (let op = 2; op <= 7; op++) expect(await report('running')).toBeNull();
    expect(writes).toEqual(['running']);
    // The owner check still comes first.
    const other = IDS.find((id) => id !== owner)!;
    expect(await report('running', other)).toMatch(/belongs to server/);

    expect(await report('succeeded')).toBeNull();
    expect(writes).toEqual(['running', 'succeeded']);
    expect((await store.getAction(sent!.actionId))!.status).toBe('succeeded');
    await engine.stop();
  });
});
