// Issue 14 item 1: the engine with pools and a pair of balancers. The live capacity floor keeps a
// server of every pool in rotation (LbMode.pools), and a balancer that does not answer pauses the
// run with its message, which goes on by itself once the balancer answers again.
import { describe, expect, it } from 'vitest';
import { LbUnreachableError } from '@rollgate/domain';
import type { LbServerStatus, LoadBalancerPort } from './ports';
import { plan, setup, until } from './test-harness';

const IDS = ['admin-1', 'admin-2', 'stream-1', 'stream-2'];

/** A runtime LB that follows what it is told; `down` makes every call fail as a stopped balancer. */
function fakeLb(pools?: string[][]) {
  const draining = new Set<string>();
  const calls: string[] = [];
  const state = { down: false };
  const check = () => {
    if (state.down)
      throw new LbUnreachableError('lb2', 'unix:/run/haproxy-2/admin.sock', 'connection refused', 'demo');
  };
  const lb: LoadBalancerPort = {
    mode: async () => ({ mode: 'runtime', readmitTimeoutMs: 5000, ...(pools ? { pools } : {}) }),
    async leave(_c, ids) {
      check();
      calls.push(`leave ${ids.join(',')}`);
      for (const id of ids) draining.add(id);
    },
    async rejoin(_c, ids) {
      check();
      calls.push(`rejoin ${ids.join(',')}`);
      for (const id of ids) draining.delete(id);
    },
    async status(_c, ids) {
      check();
      const out = new Map<string, LbServerStatus>();
      for (const id of ids) out.set(id, { up: !draining.has(id), sessions: 0, totalSessions: 1 });
      return out;
    },
  };
  return { lb, calls, state };
}

describe('engine with pools and balancers (issue 14 item 1)', () => {
  it('issue 14.1: a step never takes the last in-rotation server of a pool, whatever the roles', async () => {
    // A pool across roles (one service on admin-1 and stream-1 only): group 1 would empty it.
    const { lb } = fakeLb([
      ['admin-1', 'admin-2'],
      ['stream-1', 'stream-2'],
      ['admin-1', 'stream-1'],
    ]);
    const { engine, logs, fleet } = await setup(undefined, lb);
    await engine.createRun(plan(IDS), 'tester');
    const held = await until(
      async () => logs.find((l) => l.code === 'RG0030W'),
      (l) => l !== undefined,
    );
    expect(held!.message).toContain(
      'no other healthy server of the pool of admin-1, stream-1 is in rotation, so taking admin-1, stream-1 out would leave that pool without a server',
    );
    expect(fleet.maxOut).toBe(0);
    await engine.stop();
  });

  it('issue 14.1: an unreachable balancer pauses the run naming it; the run resumes by itself when it answers', async () => {
    const { lb, calls, state } = fakeLb([
      ['admin-1', 'admin-2'],
      ['stream-1', 'stream-2'],
    ]);
    state.down = true;
    const { store, engine, logs } = await setup(undefined, lb);
    const run = await engine.createRun(plan(IDS), 'tester');
    const paused = await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'paused',
    );
    expect(paused!.failure).toMatch(
      /^load balancer lb2 \(unix:\/run\/haproxy-2\/admin\.sock\) of cluster demo does not answer/,
    );
    expect(logs.some((l) => l.code === 'RG0012W' && l.message.includes('load balancer lb2'))).toBe(true);
    expect(calls).toEqual([]);
    state.down = false;
    await until(
      () => store.getRun(run.id),
      (r) => r?.status === 'waiting-approval',
    );
    expect(
      logs.some((l) => l.code === 'RG0013I' && /every load balancer answers again/.test(l.message)),
    ).toBe(true);
    expect(calls[0]).toBe('leave admin-1,stream-1');
    await engine.stop();
  });
});
