import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateStore } from './state-store';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'rollgate-state-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

const onDisk = async () =>
  JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { gateWish: string };

describe('the gate wish in state.json', () => {
  it('survives a restart: a new store reads the last wish', async () => {
    const store = await openStateStore({ dataDir: dir });
    expect(store.get().gateWish).toBe('open');
    expect(await store.setGateWish('closed', 'run r1: leaving rotation')).toBe(true);
    expect(await store.setGateWish('closed', 'again')).toBe(false);
    const again = await openStateStore({ dataDir: dir });
    expect(again.get()).toMatchObject({ gateWish: 'closed', gateWishReason: 'run r1: leaving rotation' });
  });

  it('issue 18: with `later`, the new wish is in the file at once and its fsync is handed over, not awaited', async () => {
    const store = await openStateStore({ dataDir: dir });
    await store.setGateWish('closed', 'leaving');
    const handed: Promise<void>[] = [];
    expect(await store.setGateWish('open', 'rejoining', (sync) => handed.push(sync))).toBe(true);
    expect(handed).toHaveLength(1);
    expect((await onDisk()).gateWish).toBe('open');
    await expect(handed[0]).resolves.toBeUndefined();
    // Without `later` nothing is handed over: the write is durable when the call resolves.
    expect(await store.setGateWish('closed', 'leaving again')).toBe(true);
    expect(handed).toHaveLength(1);
    expect((await onDisk()).gateWish).toBe('closed');
  });
});
