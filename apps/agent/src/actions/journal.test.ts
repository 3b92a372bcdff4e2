import { mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActionOp } from '@rollgate/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJournal, type JournalRecord } from './journal';

const ops: ActionOp[] = [
  { op: 'gate', state: 'closed' },
  { op: 'drain', service: 'demo-app', maxWaitMs: 1000 },
  { op: 'stop', service: 'demo-app', timeoutMs: 1000 },
];

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'journal-'));
  path = join(dir, 'journal.jsonl');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function records(): Promise<JournalRecord[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JournalRecord);
}

describe('journal', () => {
  it('writes started / op / finished lines in the documented format', async () => {
    let t = 1000;
    const j = await openJournal({ path, now: () => t++ });
    await j.appendStarted('a1', ops);
    await j.appendOp('a1', 0);
    await j.appendFinished('a1', 'SUCCEEDED', '', 2);
    await j.close();
    expect(await records()).toEqual([
      { t: 'started', id: 'a1', at: 1000, ops },
      { t: 'op', id: 'a1', index: 0, at: 1001 },
      { t: 'finished', id: 'a1', status: 'SUCCEEDED', reason: '', at: 1002, opIndex: 2 },
    ]);
  });

  it('replays finished actions so they are answered, not re-run', async () => {
    const j1 = await openJournal({ path });
    await j1.appendStarted('a1', ops);
    await j1.appendFinished('a1', 'FAILED', 'boom (op 2/3: drain)', 1);
    await j1.close();

    const j2 = await openJournal({ path });
    expect(j2.get('a1')?.finished).toMatchObject({
      status: 'FAILED',
      reason: 'boom (op 2/3: drain)',
      opIndex: 1,
    });
    expect(j2.recovered).toEqual([]);
    await expect(j2.appendStarted('a1', ops)).rejects.toThrow(/must not start twice/);
    expect(j2.recentFinished().map((f) => f.id)).toEqual(['a1']);
    await j2.close();
    expect((await records()).filter((r) => r.t === 'started')).toHaveLength(1);
  });

  it('marks an action started but never finished as FAILED on restart, naming the interrupted op', async () => {
    const j1 = await openJournal({ path });
    await j1.appendStarted('a2', ops);
    await j1.appendOp('a2', 0);
    await j1.appendOp('a2', 1);
    await j1.close(); // the agent "dies" here

    const warnings: string[] = [];
    const j2 = await openJournal({ path, onWarning: (m) => warnings.push(m) });
    expect(j2.recovered).toHaveLength(1);
    const f = j2.get('a2')?.finished;
    expect(f).toMatchObject({ status: 'FAILED', opIndex: 1 });
    expect(f?.reason).toBe(
      'agent restarted while this action was running (op 2 of 3: drain demo-app (up to 1 s)); it was not re-run',
    );
    expect(warnings.join()).toContain('not re-run');
    await j2.close();

    // A third start finds it finished: nothing new is appended and nothing is recovered again.
    const j3 = await openJournal({ path });
    expect(j3.recovered).toEqual([]);
    await j3.close();
    const recs = await records();
    expect(recs.filter((r) => r.t === 'finished')).toHaveLength(1);
    expect(recs.filter((r) => r.t === 'started')).toHaveLength(1);
  });

  it('says so when the agent died before the first op', async () => {
    const j1 = await openJournal({ path });
    await j1.appendStarted('a3', ops);
    await j1.close();
    const j2 = await openJournal({ path });
    expect(j2.get('a3')?.finished?.reason).toBe(
      "agent restarted before this action's first op ran; it was not re-run",
    );
    await j2.close();
  });

  it('survives a torn last line and keeps appending parseable lines', async () => {
    await writeFile(path, `${JSON.stringify({ t: 'started', id: 'a4', at: 1, ops })}\n`);
    await appendFile(path, '{"t":"finished","id":"a4","sta'); // crash mid-write
    const warnings: string[] = [];
    const j = await openJournal({ path, onWarning: (m) => warnings.push(m) });
    expect(warnings.some((w) => w.includes('not valid JSON'))).toBe(true);
    expect(j.get('a4')?.finished?.status).toBe('FAILED'); // settled as interrupted
    await j.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(JSON.parse(lines[2]!)).toMatchObject({ t: 'finished', id: 'a4', status: 'FAILED' });
  });

  it('returns at most N recent results, newest last', async () => {
    const j = await openJournal({ path });
    for (let i = 0; i < 5; i++) {
      await j.appendStarted(`x${i}`, ops);
      await j.appendFinished(`x${i}`, 'SUCCEEDED', '', 2);
    }
    expect(j.recentFinished(3).map((f) => f.id)).toEqual(['x2', 'x3', 'x4']);
    await j.close();
  });
});
