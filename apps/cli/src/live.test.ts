import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import type { LogRow, RunView } from './api-types';
import type { CommandContext } from './context';
import { logsCommand } from './commands/logs';
import { watchRun } from './commands/status';
import { parseSse, type LiveInput, type LiveUpdate } from './live';

async function* chunks(...parts: string[]) {
  for (const p of parts) yield p;
}

describe('parseSse', () => {
  it("splits tRPC's event stream into events, across chunk boundaries and line endings", async () => {
    const events = [];
    for await (const e of parseSse(
      chunks(
        'event: connected\ndata: {}\n\n\n',
        'data: {"a"',
        ':1}\n\n\n: a comment\r\n\r\nevent: ping\ndata: \n\n',
        'event: return\ndata: \n\n',
      ),
    ))
      events.push(e);
    expect(events).toEqual([
      { event: 'connected', data: '{}' },
      { event: 'message', data: '{"a":1}' },
      { event: 'ping', data: '' },
      { event: 'return', data: '' },
    ]);
  });
});

const dropped = () => TRPCClientError.from(new Error('the live stream broke'));
const line = (id: number) =>
  ({
    id,
    runId: 'r1',
    at: id,
    code: 'RG0114I',
    message: `line ${id}`,
    serverId: 'a-1',
    stepIndex: 0,
  }) as LogRow;
const view = (status: string, version: number) =>
  ({
    run: { id: 'r1', status, version, failure: null },
    steps: [],
    progress: { done: 0 },
    outOfRotation: [],
  }) as unknown as RunView;

/** A context whose live stream plays `scripts`, one per connection; each may break after its updates. */
function fakeContext(scripts: { updates: LiveUpdate[]; thenDrop?: boolean }[], stored: LogRow[] = []) {
  const printed: unknown[] = [];
  const connects: LiveInput[] = [];
  const ctx = {
    url: 'http://coordinator',
    client: {
      upgrade: {
        logs: {
          query: async (q: { afterId?: number; limit: number }) =>
            stored.filter((l) => l.id > (q.afterId ?? 0)).slice(0, q.limit),
        },
        status: { query: async () => view('succeeded', 9) },
      },
    },
    live: (input: LiveInput) => {
      connects.push(input);
      const script = scripts.shift();
      return (async function* () {
        if (!script) throw new Error('no more connections expected');
        for (const u of script.updates) yield u;
        if (script.thenDrop) throw dropped();
      })();
    },
    out: {
      color: false,
      isTTY: false,
      print: (t: string) => printed.push(t),
      jsonLine: (v: unknown) => printed.push(v),
      warn: () => {},
      redraw: (t: string) => printed.push(t),
      resetRedraw: () => {},
    },
    now: () => 0,
    sleep: async () => {},
  } as unknown as CommandContext;
  return { ctx, printed, connects };
}

describe('following on the live stream (issue 18 item 5)', () => {
  it('logs --follow: a dropped stream resumes after the last line printed, and no line is printed twice', async () => {
    const { ctx, printed, connects } = fakeContext(
      [
        { updates: [{ view: view('running', 1), logs: [line(3), line(4)] }], thenDrop: true },
        // The coordinator may send a line again after a reconnect: it is not printed twice.
        {
          updates: [
            { view: view('running', 1), logs: [line(4), line(5)] },
            { view: view('succeeded', 2), logs: [] },
          ],
        },
      ],
      [line(1), line(2)],
    );
    expect(await logsCommand(ctx, 'r1', { follow: true, json: true })).toBe(0);
    expect((printed as LogRow[]).map((l) => l.id)).toEqual([1, 2, 3, 4, 5]);
    expect(connects.map((c) => c.afterId)).toEqual([2, 4]);
  });

  it('--wait returns on the first settled view, without waiting for the stream to end', async () => {
    const { ctx, printed } = fakeContext([
      {
        updates: [
          { view: view('running', 1), logs: [] },
          { view: view('failed', 2), logs: [] },
          { view: view('failed', 3), logs: [] },
        ],
        thenDrop: true,
      },
    ]);
    expect(await watchRun(ctx, 'r1', { json: true })).toBe(4);
    expect((printed as RunView[]).map((v) => v.run.status)).toEqual(['running', 'failed']);
  });

  it('--wait reconnects after a dropped stream and still ends with the run', async () => {
    const { ctx, connects } = fakeContext([
      { updates: [{ view: view('running', 1), logs: [] }], thenDrop: true },
      { updates: [{ view: view('succeeded', 2), logs: [] }] },
    ]);
    expect(await watchRun(ctx, 'r1', { json: true })).toBe(0);
    expect(connects).toHaveLength(2);
  });
});
