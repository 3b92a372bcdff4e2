import { describe, expect, it } from 'vitest';
import { checkCapacityFloor, ledgerEvents, logEvents, type RotationEvent } from './capacity-floor';

const roles = { 'admin-1': 'admin', 'admin-2': 'admin', 'stream-1': 'stream', 'stream-2': 'stream' };
const ev = (at: number, serverId: string, kind: 'out' | 'in'): RotationEvent => ({ at, serverId, kind });

describe('checkCapacityFloor', () => {
  it('accepts one group out at a time and reports the most out at once', () => {
    const r = checkCapacityFloor(
      [
        ev(1, 'admin-1', 'out'),
        ev(1, 'stream-1', 'out'),
        ev(5, 'admin-1', 'in'),
        ev(5, 'stream-1', 'in'),
        ev(6, 'admin-2', 'out'),
        ev(6, 'stream-2', 'out'),
        ev(9, 'admin-2', 'in'),
        ev(9, 'stream-2', 'in'),
      ],
      { maxOut: 2, roles },
    );
    expect(r).toEqual({ events: 8, maxOut: 2, violations: [], stillOut: [] });
  });

  it('catches an overlap at the event where it happens, however short', () => {
    const r = checkCapacityFloor(
      [ev(1, 'admin-1', 'out'), ev(1, 'stream-1', 'out'), ev(4, 'stream-2', 'out'), ev(4, 'admin-1', 'in')],
      { maxOut: 2 },
    );
    expect(r.maxOut).toBe(3);
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]!.at).toBe(4);
    expect(r.violations[0]!.why).toMatch(/3 servers out of rotation \(admin-1, stream-1, stream-2\)/);
  });

  it('keeps the recorded order within one millisecond: back in, then the next one out, is fine', () => {
    const r = checkCapacityFloor([ev(1, 'admin-1', 'out'), ev(7, 'admin-1', 'in'), ev(7, 'admin-2', 'out')], {
      maxOut: 1,
      roles,
    });
    expect(r.violations).toEqual([]);
    expect(r.stillOut).toEqual(['admin-2']);
  });

  it('sorts by time whatever order the sources were concatenated in', () => {
    const r = checkCapacityFloor([ev(9, 'admin-2', 'out'), ev(1, 'admin-1', 'out'), ev(5, 'admin-1', 'in')], {
      maxOut: 1,
    });
    expect(r.violations).toEqual([]);
  });

  it('refuses the last server of a role out of rotation, except during declared downtime', () => {
    const events = [ev(1, 'admin-1', 'out'), ev(2, 'admin-2', 'out')];
    const r = checkCapacityFloor(events, { maxOut: 2, roles });
    expect(r.violations.map((v) => v.why)).toEqual([
      'every "admin" server (admin-1, admin-2) out of rotation when admin-2 left',
    ]);
    expect(
      checkCapacityFloor(events, { maxOut: 2, roles, downtime: [{ from: 2, to: 3 }] }).violations,
    ).toEqual([]);
  });

  it('reports the servers an incomplete history leaves out', () => {
    expect(checkCapacityFloor([ev(1, 'stream-2', 'out')], { maxOut: 2 }).stillOut).toEqual(['stream-2']);
  });
});

describe('event sources', () => {
  it('turns ledger rows into out/in events; an open row stays out', () => {
    const events = ledgerEvents([
      { runId: 'r', serverId: 'admin-1', stepIndex: 2, closedAt: 10, reopenedAt: 20 },
      { runId: 'r', serverId: 'stream-1', stepIndex: 2, closedAt: 10, reopenedAt: null },
    ]);
    expect(events.map((e) => [e.at, e.serverId, e.kind])).toEqual([
      [10, 'admin-1', 'out'],
      [20, 'admin-1', 'in'],
      [10, 'stream-1', 'out'],
    ]);
    expect(checkCapacityFloor(events, { maxOut: 2 }).stillOut).toEqual(['stream-1']);
  });

  it('reads the per-server gate lines of a run log and skips the summaries', () => {
    const events = logEvents([
      { at: 1, code: 'RG0060I', serverId: 'admin-1' },
      { at: 2, code: 'RG0061I', serverId: null },
      { at: 3, code: 'RG0010I', serverId: 'admin-1' },
      { at: 4, code: 'RG0061I', serverId: 'admin-1' },
    ]);
    expect(events.map((e) => [e.at, e.kind])).toEqual([
      [1, 'out'],
      [4, 'in'],
    ]);
  });
});
