import { describe, expect, it } from 'vitest';
import { liveCapacityBreach, unservedPools, type FloorServer, type LiveFloorInput } from './capacity-floor';
import { besideId } from './lb-config';

const up = (id: string, role: string): FloorServer => ({
  id,
  role,
  connected: true,
  agentStatus: 'connected',
  gateOpen: true,
});

const fleet = [up('a1', 'admin'), up('a2', 'admin'), up('s1', 'stream'), up('s2', 'stream')];

const input = (o: Partial<LiveFloorInput>): LiveFloorInput => ({
  servers: fleet,
  leaving: [],
  incoming: [],
  alreadyOut: [],
  maxOutOfRotation: 2,
  allowsDowntime: false,
  pools: [],
  ...o,
});

describe('liveCapacityBreach (issue 15 item 1: the live capacity floor as a pure domain function)', () => {
  it('lets a step that takes nothing out of rotation go at once', () => {
    expect(liveCapacityBreach(input({ servers: [], maxOutOfRotation: 0 }))).toBeNull();
  });

  it('lets one group go while the other serves every role', () => {
    expect(liveCapacityBreach(input({ leaving: ['a1', 's1'] }))).toBeNull();
  });

  it('holds a step that would put more servers out than the plan allows, counting those already out', () => {
    const breach = liveCapacityBreach(input({ leaving: ['a1', 's1'], alreadyOut: ['s2'] }));
    expect(breach?.code).toBe('CAPACITY_TOO_MANY_OUT');
    expect(breach?.message).toBe('3 servers would be out of rotation (s2, a1, s1); at most 2 may be');
  });

  it('holds the budget even inside an announced downtime', () => {
    const breach = liveCapacityBreach(
      input({ leaving: ['a1', 'a2', 's1'], allowsDowntime: true, maxOutOfRotation: 2 }),
    );
    expect(breach?.code).toBe('CAPACITY_TOO_MANY_OUT');
  });

  it('refuses to take the last serving server of a role out, and says why each other one does not count', () => {
    const servers = [
      up('a1', 'admin'),
      { ...up('a2', 'admin'), connected: false, agentStatus: 'lost' },
      up('a3', 'admin'),
      { ...up('a4', 'admin'), gateOpen: false },
    ];
    const breach = liveCapacityBreach(
      input({ servers, leaving: ['a1'], alreadyOut: ['a3'], maxOutOfRotation: 4 }),
    );
    expect(breach).toEqual({
      code: 'CAPACITY_ROLE_EMPTY',
      message:
        'no other healthy "admin" server is in rotation (a2: agent lost; a3: out of rotation; a4: gate closed), so taking a1 out would stop the service',
    });
  });

  it('lets an announced downtime empty a role', () => {
    expect(liveCapacityBreach(input({ leaving: ['a1', 'a2'], allowsDowntime: true }))).toBeNull();
  });

  it('counts the incoming half of a switch as serving: it enters by the same exchange', () => {
    const servers = [up('a1', 'admin'), { ...up('a2', 'admin'), gateOpen: false }];
    const step = { servers, leaving: ['a1'], maxOutOfRotation: 1 };
    expect(liveCapacityBreach(input(step))?.code).toBe('CAPACITY_ROLE_EMPTY');
    expect(liveCapacityBreach(input({ ...step, incoming: ['a2'], alreadyOut: ['a2'] }))).toBeNull();
  });

  it('lets a single server leave when its second instance enters in its place', () => {
    const servers = [up('a1', 'admin')];
    expect(liveCapacityBreach(input({ servers, leaving: ['a1'] }))?.code).toBe('CAPACITY_ROLE_EMPTY');
    expect(liveCapacityBreach(input({ servers, leaving: ['a1'], incoming: [besideId('a1')] }))).toBeNull();
  });

  it('keeps a server in every load-balancer pool the leaving servers belong to', () => {
    // Roles are served (s2 stays), but the pool of a1 and s1 would have no server left.
    const breach = liveCapacityBreach(
      input({
        leaving: ['a1', 's1'],
        pools: [
          ['a2', 's2'],
          ['a1', 's1'],
        ],
      }),
    );
    expect(breach).toEqual({
      code: 'CAPACITY_POOL_EMPTY',
      message:
        'no other healthy server of the pool of a1, s1 is in rotation, so taking a1, s1 out would leave that pool without a server',
    });
  });

  it('ignores a pool the step does not touch, even an empty one', () => {
    expect(
      liveCapacityBreach(
        input({ leaving: ['a1'], alreadyOut: ['s1', 's2'], maxOutOfRotation: 3, pools: [['s1', 's2']] }),
      ),
    ).toBeNull();
  });

  it('checks the role floor before the pool floor, so the reason names the role', () => {
    const breach = liveCapacityBreach(input({ leaving: ['a1', 'a2'], pools: [['a1', 'a2']] }));
    expect(breach?.code).toBe('CAPACITY_ROLE_EMPTY');
  });
});

describe('unservedPools (the pool rule both twins share)', () => {
  it('names every non-empty pool with no server in rotation, in order', () => {
    const out = new Set(['a1', 's1', 's2']);
    const pools = [['a1', 's1'], [], ['a2', 's2'], ['s2']];
    expect(unservedPools(pools, (id) => !out.has(id))).toEqual([['a1', 's1'], ['s2']]);
  });
});
