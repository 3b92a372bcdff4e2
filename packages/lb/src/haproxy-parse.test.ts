// Parsing HAProxy 2.6's own answers, captured from a real HAProxy by fixtures/capture-fixtures.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  adminStateFromFlags,
  normaliseStatus,
  parseServersState,
  parseShowStat,
  splitResponses,
} from './haproxy-parse';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseShowStat (captured from HAProxy 2.6)', () => {
  const rows = parseShowStat(fixture('show-stat.csv'));

  it('reads one row per server, by column name', () => {
    expect(rows.map((r) => r.name)).toEqual([
      'admin-1',
      'admin-2',
      'stream-1',
      'stream-2',
      'stream-3',
      'stream-4',
    ]);
    expect(rows.every((r) => r.backend === 'rollgate_demo')).toBe(true);
  });

  it('reports sessions, totals and lastsess of the server that took the request', () => {
    expect(rows[0]).toMatchObject({
      name: 'admin-1',
      status: 'UP',
      statusText: 'UP',
      scur: 1,
      stot: 1,
      qcur: 0,
      lastsess: 1,
      weight: 1,
      checkStatus: 'L7OK',
      checkDesc: 'Layer7 check passed',
      agentStatus: '',
    });
    expect(rows[0]?.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('normalises every status HAProxy printed: runtime drain/maint, DOWN, agent drain/down', () => {
    expect(rows.map((r) => [r.name, r.status, r.statusText])).toEqual([
      ['admin-1', 'UP', 'UP'],
      ['admin-2', 'DRAIN', 'DRAIN'],
      ['stream-1', 'MAINT', 'MAINT'],
      ['stream-2', 'DOWN', 'DOWN'],
      ['stream-3', 'DRAIN', 'DRAIN (agent)'],
      ['stream-4', 'DOWN', 'DOWN (agent)'],
    ]);
    // Never used: lastsess -1 becomes null; paused checks have no status.
    expect(rows[1]?.lastsess).toBeNull();
    expect(rows[2]?.checkStatus).toBe('');
    expect(rows[3]).toMatchObject({ checkStatus: 'L4CON', checkDesc: 'Layer4 connection problem' });
    expect(rows[4]).toMatchObject({ agentStatus: 'CHECKED', agentDesc: 'No status change' });
    expect(rows[5]).toMatchObject({ agentStatus: 'L7STS', checkStatus: 'L7OK' });
  });

  it('skips FRONTEND and BACKEND rows of a full "show stat"', () => {
    const all = parseShowStat(fixture('show-stat-all.csv'));
    expect(all.map((r) => r.name)).toEqual(rows.map((r) => r.name));
  });

  it('refuses text that is not a show stat answer, quoting it', () => {
    expect(() => parseShowStat('No such proxy.\n')).toThrow(/not a "show stat" answer.*No such proxy/);
  });
});

describe('normaliseStatus', () => {
  it.each([
    ['UP 1/2', 'UP'],
    ['DOWN 1/2', 'DOWN'],
    ['MAINT (via be/s1)', 'MAINT'],
    ['MAINT (resolution)', 'MAINT'],
    ['NOLB', 'NOLB'],
    ['no check', 'NOCHECK'],
    ['* weird', 'OTHER'],
  ])('%s -> %s', (text, status) => expect(normaliseStatus(text)).toBe(status));
});

describe('parseServersState (captured from HAProxy 2.6)', () => {
  const rows = parseServersState(fixture('show-servers-state.txt'));

  it('gives operational and admin state of each server', () => {
    expect(rows.map((r) => [r.name, r.opState, r.adminState])).toEqual([
      ['admin-1', 'running', 'ready'],
      ['admin-2', 'running', 'drain'],
      ['stream-1', 'stopped', 'maint'],
      ['stream-2', 'stopped', 'ready'],
      ['stream-3', 'running', 'drain'],
      ['stream-4', 'stopped', 'ready'],
    ]);
  });

  it('reads ids, address, weights, check health, the agent port and why the admin state is set', () => {
    expect(rows[1]).toMatchObject({
      backendId: 3,
      backend: 'rollgate_demo',
      id: 2,
      address: '127.0.0.1',
      adminFlags: 8,
      adminReasons: ['forced drain (runtime API or agent)'],
      userWeight: 1,
      initialWeight: 1,
      checkHealth: 3,
      agentPort: 0,
    });
    expect(rows[1]?.port).toBeGreaterThan(0);
    expect(rows[2]?.adminReasons).toEqual(['forced maint (runtime API or agent)']);
    expect(rows[4]?.agentPort).toBeGreaterThan(0);
    expect(rows[0]?.adminReasons).toEqual([]);
  });

  it('refuses an error answer', () => {
    expect(() => parseServersState("Can't find backend.\n")).toThrow(/not a "show servers state" answer/);
  });
});

describe('adminStateFromFlags', () => {
  it('maintenance wins over drain; hostname-from-CLI is neither', () => {
    expect(adminStateFromFlags(0)).toBe('ready');
    expect(adminStateFromFlags(0x08)).toBe('drain');
    expect(adminStateFromFlags(0x10)).toBe('drain');
    expect(adminStateFromFlags(0x09)).toBe('maint');
    expect(adminStateFromFlags(0x04)).toBe('maint');
    expect(adminStateFromFlags(0x20)).toBe('maint');
    expect(adminStateFromFlags(0x40)).toBe('ready');
  });
});

describe('splitResponses', () => {
  it('splits a captured multi-command exchange into one answer per command', () => {
    const outs = splitResponses(`${fixture('set-server-mixed.txt')}\n`);
    expect(outs).toHaveLength(4);
    expect(outs.slice(0, 3)).toEqual(['', 'No such backend.', 'No such server.']);
    expect(outs[3]).toMatch(/^1\n# be_id be_name/);
    expect(parseServersState(outs[3]!)).toHaveLength(6);
  });

  it('a lone newline is one empty answer; two successes are two', () => {
    expect(splitResponses('\n')).toEqual(['']);
    expect(splitResponses('\n\n')).toEqual(['', '']);
  });

  it('keeps an answer cut short before its blank line', () => {
    expect(splitResponses('\nNo such server.')).toEqual(['', 'No such server.']);
  });
});
