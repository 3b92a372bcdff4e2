import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rollgate/logger';
import { until } from '@rollgate/test-kit';
import type { ActionOp__Output, ActionUpdate, RunAction__Output } from '@rollgate/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createExecutor, type ActionRequest } from './executor';
import { openJournal, type Journal } from './journal';
import type { OpRunner } from './ops';
import { fromWireRunAction, toWireUpdate } from '../coordinator/wire';

const log = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let journal: Journal;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'executor-'));
  journal = await openJournal({ path: join(dir, 'journal.jsonl') });
});
afterEach(async () => {
  await journal.close();
  await rm(dir, { recursive: true, force: true });
});

const gateOp = (state: string): ActionOp__Output => ({
  op: 'gate',
  gate: { state: state as 'GATE_STATE_OPEN' },
});
const stopOp = (service: string): ActionOp__Output => ({ op: 'stop', stop: { service, timeoutMs: 100 } });
// RunActions go through the agent's wire edge as in agent.ts, and updates back onto the wire.
const action = (actionId: string, ops: ActionOp__Output[]): ActionRequest =>
  fromWireRunAction({ actionId, runId: 'r1', stepIndex: 0, attempt: 1, ops } satisfies RunAction__Output);

function setup(runOp: OpRunner) {
  const updates: ActionUpdate[] = [];
  const lines: string[] = [];
  const ex = createExecutor({
    journal,
    runOp,
    sendUpdate: (u) => updates.push(toWireUpdate(u)),
    ship: (_l, code, msg) => lines.push(`${code} ${msg}`),
    log,
  });
  const final = (id: string) =>
    new Promise<ActionUpdate>((resolve) => {
      const t = setInterval(() => {
        const u = updates.find(
          (x) => x.actionId === id && /SUCCEEDED|FAILED|CANCELLED/.test(String(x.status)),
        );
        if (u) {
          clearInterval(t);
          resolve(u);
        }
      }, 5);
    });
  return { ex, updates, lines, final };
}

async function startedCount(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const l of (await readFile(join(dir, 'journal.jsonl'), 'utf8')).split('\n')) {
    if (!l) continue;
    const r = JSON.parse(l) as { t: string; id: string };
    if (r.t === 'started') m.set(r.id, (m.get(r.id) ?? 0) + 1);
  }
  return m;
}

describe('executor: exactly once', () => {
  it('journals, accepts, runs ops in order with RUNNING once as they start and a line per op, then succeeds', async () => {
    const ran: string[] = [];
    const { ex, updates, lines, final } = setup(async (op) => {
      ran.push(op.op);
      return 'ok';
    });
    await ex.handleRunAction(action('a1', [gateOp('GATE_STATE_CLOSED'), stopOp('demo-app')]));
    const f = await final('a1');
    expect(ran).toEqual(['gate', 'stop']);
    expect(updates.map((u) => [u.status, u.opIndex])).toEqual([
      ['ACTION_STATUS_ACCEPTED', 0],
      ['ACTION_STATUS_RUNNING', 0],
      ['ACTION_STATUS_SUCCEEDED', 1],
    ]);
    expect(f.reason).toBe('');
    expect(lines.filter((l) => l.startsWith('RG0100I'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('RG0101I'))).toHaveLength(2);
  });

  it('answers a repeated id from the journal without running it again', async () => {
    let runs = 0;
    const { ex, updates, final } = setup(async () => {
      runs += 1;
      return 'ok';
    });
    await ex.handleRunAction(action('a2', [stopOp('demo-app')]));
    await final('a2');
    updates.length = 0;
    await ex.handleRunAction(action('a2', [stopOp('demo-app')]));
    expect(runs).toBe(1);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ actionId: 'a2', status: 'ACTION_STATUS_SUCCEEDED' });
    expect((await startedCount()).get('a2')).toBe(1);
  });

  it('replies RUNNING to a duplicate while the action runs', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { ex, updates, final } = setup(async () => {
      await gate;
      return 'ok';
    });
    await ex.handleRunAction(action('a3', [stopOp('demo-app')]));
    await new Promise((r) => setTimeout(r, 20));
    await ex.handleRunAction(action('a3', [stopOp('demo-app')]));
    expect(updates.at(-1)).toMatchObject({ actionId: 'a3', status: 'ACTION_STATUS_RUNNING' });
    release();
    await final('a3');
    expect((await startedCount()).get('a3')).toBe(1);
  });

  it('fails an op with the op named in the reason, and stops there', async () => {
    const ran: string[] = [];
    const { ex, lines, final } = setup(async (op) => {
      ran.push(op.op);
      if (op.op === 'stop') throw new Error('demo-app would not stop');
      return 'ok';
    });
    await ex.handleRunAction(action('a4', [stopOp('demo-app'), gateOp('GATE_STATE_OPEN')]));
    const f = await final('a4');
    expect(f).toMatchObject({ status: 'ACTION_STATUS_FAILED', opIndex: 0 });
    expect(f.reason).toBe('demo-app would not stop (op 1/2: stop demo-app)');
    expect(ran).toEqual(['stop']);
    expect(lines.some((l) => l.startsWith('RG0102E'))).toBe(true);
    expect(journal.get('a4')?.finished?.status).toBe('FAILED');
  });

  it('refuses invalid ops clearly, journals the refusal, and never crashes', async () => {
    const { ex, final } = setup(async () => 'ok');
    await ex.handleRunAction(action('a5', [gateOp('GATE_STATE_UNSPECIFIED')]));
    const f = await final('a5');
    expect(f.status).toBe('ACTION_STATUS_FAILED');
    expect(f.reason).toMatch(/^op 1 of 1 \(gate\) is invalid: state: /);
    await ex.handleRunAction(
      action('a6', [
        {
          op: 'install',
          install: { service: 'demo-app', edition: '2.0', sha256: 'nothex', size: 1, url: '' },
        },
      ]),
    );
    expect((await final('a6')).reason).toMatch(/op 1 of 1 \(install\) is invalid: sha256/);
    await ex.handleRunAction(action('a7', []));
    expect((await final('a7')).reason).toContain('no ops');
    expect(journal.get('a5')?.started.invalid).toBe(true);
  });

  it('cancels the running action at the op boundary → CANCELLED', async () => {
    const { ex, final } = setup(async (_op, ctx) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 5000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        });
      });
      return 'ok';
    });
    await ex.handleRunAction(action('a8', [stopOp('demo-app'), gateOp('GATE_STATE_OPEN')]));
    await new Promise((r) => setTimeout(r, 20));
    ex.cancel('a8', 'operator aborted the run');
    const f = await final('a8');
    expect(f).toMatchObject({ status: 'ACTION_STATUS_CANCELLED', opIndex: 0 });
    expect(f.reason).toBe('cancelled: operator aborted the run (during op 1/2: stop demo-app)');
  });

  it('runs actions one at a time, in arrival order; a queued one can be cancelled', async () => {
    const order: string[] = [];
    const { ex, final } = setup(async (_op, ctx) => {
      order.push(`start ${ctx.actionId}`);
      await new Promise((r) => setTimeout(r, 30));
      order.push(`end ${ctx.actionId}`);
      return 'ok';
    });
    await ex.handleRunAction(action('b1', [stopOp('demo-app')]));
    await ex.handleRunAction(action('b2', [stopOp('demo-app')]));
    await ex.handleRunAction(action('b3', [stopOp('demo-app')]));
    expect(ex.activeIds()).toEqual(['b1', 'b2', 'b3']);
    ex.cancel('b3', 'not needed');
    await final('b2');
    const f3 = await final('b3');
    expect(order).toEqual(['start b1', 'end b1', 'start b2', 'end b2']);
    expect(f3).toMatchObject({
      status: 'ACTION_STATUS_CANCELLED',
      reason: 'cancelled before it ran: cancelled: not needed',
    });
  });
});

describe('executor: results', () => {
  it('journals the result with the finished record and sends it as result_json, also when answered from the journal', async () => {
    const { OpError } = await import('./op-result');
    const result = {
      kind: 'command' as const,
      command: 'db-upgrade',
      exitCode: 0,
      outputTail: 'ok\n',
      ms: 5,
    };
    const failed = {
      kind: 'command' as const,
      command: 'db-upgrade',
      exitCode: 2,
      outputTail: 'boom\n',
      ms: 7,
    };
    const { ex, updates, final } = setup(async (op) => {
      if (op.op === 'stop') throw new OpError('it failed', failed);
      return { summary: 'ok', result };
    });
    await ex.handleRunAction(action('r1', [gateOp('GATE_STATE_CLOSED')]));
    const ok = await final('r1');
    expect(JSON.parse(ok.resultJson!)).toEqual(result);
    await ex.handleRunAction(action('r2', [gateOp('GATE_STATE_CLOSED'), stopOp('demo-app')]));
    const bad = await final('r2');
    expect(bad.status).toBe('ACTION_STATUS_FAILED');
    // Both ops produced evidence: a list, in op order.
    expect(JSON.parse(bad.resultJson!)).toEqual([result, failed]);
    // A plain op produces none.
    const plain = setup(async () => 'ok');
    await plain.ex.handleRunAction(action('r3', [gateOp('GATE_STATE_OPEN')]));
    expect((await plain.final('r3')).resultJson).toBe('');

    // Duplicate RunAction and a reopened journal (Hello.journaled) carry the same result_json.
    const n = updates.length;
    await ex.handleRunAction(action('r2', [gateOp('GATE_STATE_CLOSED')]));
    expect(updates[n]).toMatchObject({
      actionId: 'r2',
      status: 'ACTION_STATUS_FAILED',
      resultJson: bad.resultJson,
    });
    await journal.close();
    journal = await openJournal({ path: join(dir, 'journal.jsonl') });
    const { finishedToUpdate } = await import('./executor');
    const again = journal.recentFinished().map((f) => toWireUpdate(finishedToUpdate(f)));
    expect(again.find((u) => u.actionId === 'r2')?.resultJson).toBe(bad.resultJson);
    expect(again.find((u) => u.actionId === 'r1')?.resultJson).toBe(ok.resultJson);
  });
});

describe('executor: fsyncs an op hands over (docs/adr/0050)', () => {
  it('issue 18: runs the next op at once, but journals and sends the result only once the handed-over fsync is done', async () => {
    let release!: () => void;
    const sync = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    const { ex, updates, final } = setup(async (op, ctx) => {
      ran.push(op.op);
      if (op.op === 'gate') ctx.syncLater?.(sync);
      return 'ok';
    });
    await ex.handleRunAction(action('d1', [gateOp('GATE_STATE_CLOSED'), stopOp('demo-app')]));
    await until('the second op to have run', () => ran.length === 2);
    // Both ops ran while the fsync is outstanding; the action is not finished yet.
    expect(updates.some((u) => /SUCCEEDED|FAILED/.test(String(u.status)))).toBe(false);
    expect(journal.get('d1')?.finished).toBeUndefined();
    release();
    expect((await final('d1')).status).toBe('ACTION_STATUS_SUCCEEDED');
    expect(journal.get('d1')?.finished?.status).toBe('SUCCEEDED');
  });

  it('issue 18: a handed-over fsync that fails turns a success into FAILED, saying the disk could not keep the change', async () => {
    const { ex, final } = setup(async (op, ctx) => {
      if (op.op === 'gate') ctx.syncLater?.(Promise.reject(new Error('EIO: i/o error, fsync')));
      return 'ok';
    });
    await ex.handleRunAction(action('d2', [gateOp('GATE_STATE_CLOSED'), stopOp('demo-app')]));
    const f = await final('d2');
    expect(f.status).toBe('ACTION_STATUS_FAILED');
    expect(f.reason).toMatch(
      /could not make the action's changes durable: EIO: i\/o error, fsync; check the agent's disk/,
    );
  });
});
