// When a manager's answers mean "restarted on its own" and when they do not (pure logic: the
// manager is a fake that answers what the test says).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rollgate/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createExternalManager } from './external-manager';
import type { ManagerStatus } from './service-manager';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rg-external-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fake() {
  let answer: ManagerStatus = { state: 'stopped', pid: null, detail: 'STOPPED' };
  const restarts: string[] = [];
  const m = createExternalManager({
    kind: 'commands',
    service: 'web',
    dataDir: dir,
    who: 'its manager',
    startsWith: 'ctl start',
    stopsWith: () => 'ctl stop',
    query: async () => answer,
    doStart: async () => {
      answer = { state: 'running', pid: null, detail: 'up' };
    },
    doStop: async () => {
      answer = { state: 'stopped', pid: null, detail: 'down' };
    },
    log: createLogger({ name: 'test', level: 'silent' }),
    onRestart: (_s, d) => restarts.push(d),
    reuseMs: 0,
    watchMs: 0,
  });
  return { m, restarts, set: (a: ManagerStatus) => (answer = a) };
}

describe('restarts noticed by an external manager (issue 14 item 3)', () => {
  it('down then up again without the agent is a restart, even with no pid to compare', async () => {
    const { m, restarts, set } = fake();
    await m.start({ edition: '1.0', dir: '/e/1.0', env: {} });
    set({ state: 'stopped', pid: null, detail: 'crashed' });
    expect(await m.refresh()).toBe(false);
    expect(restarts).toEqual([]);
    set({ state: 'running', pid: null, detail: 'up' });
    expect(await m.refresh()).toBe(true);
    expect(restarts).toEqual(['its manager restarted web (back up)']);
    expect(m.running()).toEqual({ pid: null, edition: '1.0' });
  });

  it("the agent's own stop and start are not restarts; an unknown answer (manager unreachable) is not a crash", async () => {
    const { m, restarts, set } = fake();
    await m.start({ edition: '1.0', dir: '/e/1.0', env: {} });
    await m.stop(1000);
    await m.start({ edition: '2.0', dir: '/e/2.0', env: {} });
    set({ state: 'unknown', pid: null, detail: 'connection refused' });
    expect(await m.refresh()).toBe(false);
    set({ state: 'running', pid: null, detail: 'up' });
    expect(await m.refresh()).toBe(true);
    expect(restarts).toEqual([]);
    expect(m.restarts()).toBe(0);
    expect(m.running()?.edition).toBe('2.0');
  });

  it('a restarted agent adopts the edition it started from its record; a unit it did not start runs "unknown"', async () => {
    const first = fake();
    await first.m.start({ edition: '3.0', dir: '/e/3.0', env: {} });
    const again = fake(); // same data dir: the record of the first is there
    again.set({ state: 'running', pid: 77, detail: 'RUNNING pid 77' });
    expect(await again.m.adopt()).toEqual({ pid: 77, edition: '3.0' });
    await first.m.stop(1000); // removes the record
    const third = fake();
    third.set({ state: 'running', pid: 78, detail: 'RUNNING pid 78' });
    expect(await third.m.adopt()).toEqual({ pid: 78, edition: 'unknown' });
  });
});
