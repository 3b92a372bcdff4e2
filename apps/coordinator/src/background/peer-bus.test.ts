import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AgentBus, EngineStore } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
import { createPeerBus } from './peer-bus';

function setup(getServer: EngineStore['getServer']) {
  const published: string[] = [];
  const lines: string[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => lines.push(c.toString()));
  const local: AgentBus = {
    dispatch: async () => false,
    cancel: () => undefined,
    setGate: async () => false,
    isConnected: () => false,
  };
  const { bus } = createPeerBus({
    local,
    store: { getServer } as EngineStore,
    coordinatorId: 'c-here',
    publish: async (_channel, payload) => {
      published.push(payload);
    },
    log: createLogger({ name: 'test', destination: out }),
  });
  return { bus, published, lines };
}

const action = { actionId: 'a-1', runId: 'r-1', stepIndex: 0, attempt: 1, ops: [] };

describe('the peer bus', () => {
  it('publishes a command for an agent that a peer coordinator holds, and nothing for one that nobody holds', async () => {
    const held = setup(async (id) =>
      id === 'api-1' ? ({ status: 'connected', coordinatorId: 'c-peer' } as never) : null,
    );
    expect(await held.bus.dispatch('api-1', action)).toBe(true);
    expect(await held.bus.dispatch('api-2', action)).toBe(false);
    expect(held.published.map((p) => JSON.parse(p) as unknown)).toEqual([
      { k: 'dispatch', s: 'api-1', a: 'a-1' },
    ]);
  });

  it('while the database is away: dispatch and setGate say "not delivered" and cancel rejects nothing', async () => {
    const { bus, published, lines } = setup(() => Promise.reject(new Error('connect ECONNREFUSED')));
    expect(await bus.dispatch('api-1', action)).toBe(false);
    expect(await bus.setGate('api-1', false, 'upgrade')).toBe(false);
    // cancel() returns nothing to await: a rejection inside it would be unhandled and end the process.
    bus.cancel('api-1', 'a-1', 'aborted');
    await expect.poll(() => lines.length).toBe(3);
    expect(published).toEqual([]);
    expect(lines.every((l) => l.includes('could not publish a command to the peer coordinators'))).toBe(true);
  });
});
