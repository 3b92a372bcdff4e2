import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore, type EngineStore, type ServerRecord, type StoredLog } from '@rollgate/engine';
import { editionStates, pageServers, WATCH_END_QUIET_MS, watchRun } from './console-views';
import { serversPageInput } from './inputs';

function server(i: number, over: Partial<ServerRecord> = {}): ServerRecord {
  return {
    id: `web-${String(i).padStart(5, '0')}`,
    cluster: i % 2 === 0 ? 'blue' : 'green',
    role: i % 3 === 0 ? 'admin' : 'stream',
    hostname: `host-${i}.example`,
    agentVersion: '0.1.0',
    capabilities: [],
    gateUrl: '',
    status: i % 10 === 0 ? 'lost' : 'connected',
    gateOpen: i % 7 !== 0,
    services: [
      {
        name: 'demo-app',
        installedEditions: ['1.0', '2.0'],
        activeEdition: i < 100 ? '2.0' : '1.0',
        health: 'healthy',
      },
    ],
    lastHeartbeatAt: 1_000_000 - i,
    connectedAt: 0,
    ...over,
  };
}

const fleet = Array.from({ length: 10_000 }, (_, i) => server(i));

describe('pageServers', () => {
  let store: EngineStore;
  beforeAll(async () => {
    store = createMemoryStore();
    for (const s of fleet) await store.upsertServer(s);
  });
  const page = (input: unknown) => pageServers(store, serversPageInput.parse(input));

  it('asks the store for one page of 10,000 servers, with the count and facets of the fleet page', async () => {
    const p = await page({ offset: 100, limit: 50 });
    expect(p.total).toBe(10_000);
    expect(p.rows).toHaveLength(50);
    expect(p.rows[0]!.id).toBe('web-00100');
    expect(p.summary).toMatchObject({ connected: 9000, lost: 1000 });
    expect(p.clusters).toEqual(['blue', 'green']);
    expect(p.roles).toEqual(['admin', 'stream']);
  });

  it("turns the console's filters into the store's: gate open/closed, search trimmed, empty search ignored", async () => {
    const filtered = await page({ cluster: 'blue', role: 'admin', gate: 'closed' });
    expect(filtered.rows.length).toBeGreaterThan(0);
    expect(filtered.rows.every((s) => s.cluster === 'blue' && s.role === 'admin' && !s.gateOpen)).toBe(true);
    expect(filtered.total).toBe(
      fleet.filter((s) => s.cluster === 'blue' && s.role === 'admin' && !s.gateOpen).length,
    );
    const open = await page({ gate: 'open', limit: 1 });
    expect(open.total).toBe(fleet.filter((s) => s.gateOpen).length);
    expect((await page({ q: '  host-42.  ' })).rows.map((s) => s.id)).toEqual(['web-00042']);
    expect((await page({ q: '2.0', limit: 500 })).total).toBe(10_000);
    expect((await page({ q: '   ', limit: 1 })).total).toBe(10_000);
  });

  it('sorts by a column, either way, ties broken by id', async () => {
    const byBeat = await page({ sort: 'lastHeartbeatAt', limit: 3 });
    expect(byBeat.rows.map((s) => s.id)).toEqual(['web-09999', 'web-09998', 'web-09997']);
    const desc = await page({ sort: 'id', desc: true, limit: 1 });
    expect(desc.rows[0]!.id).toBe('web-09999');
  });

  it('refuses a page larger than 500 rows', () => {
    expect(() => serversPageInput.parse({ limit: 10_000 })).toThrow();
  });
});

describe('editionStates', () => {
  it('is ACTIVE on a cluster where some server runs it, INACTIVE where it is only installed', () => {
    const servers = [
      server(1, { cluster: 'blue' }),
      server(2, { cluster: 'blue' }),
      server(200, { cluster: 'green' }),
    ];
    const e = (name: string) => ({
      app: 'demo-app',
      name,
      sha256: 'a'.repeat(64),
      size: 1,
      createdAt: 0,
      createdBy: 'x',
    });
    expect(editionStates([e('1.0'), e('2.0')], servers)).toEqual([
      {
        app: 'demo-app',
        edition: '1.0',
        cluster: 'blue',
        state: 'INACTIVE',
        activeOn: 0,
        installedOn: 2,
        cloneOn: 0,
        servers: 2,
      },
      {
        app: 'demo-app',
        edition: '1.0',
        cluster: 'green',
        state: 'ACTIVE',
        activeOn: 1,
        installedOn: 1,
        cloneOn: 0,
        servers: 1,
      },
      {
        app: 'demo-app',
        edition: '2.0',
        cluster: 'blue',
        state: 'ACTIVE',
        activeOn: 2,
        installedOn: 2,
        cloneOn: 0,
        servers: 2,
      },
      {
        app: 'demo-app',
        edition: '2.0',
        cluster: 'green',
        state: 'INACTIVE',
        activeOn: 0,
        installedOn: 1,
        cloneOn: 0,
        servers: 1,
      },
    ]);
  });
});

describe('watchRun', () => {
  const line = (id: number) =>
    ({
      id,
      runId: 'r',
      actionId: null,
      serverId: null,
      stepIndex: 0,
      at: id,
      level: 'info',
      code: 'RG0020I',
      message: `l${id}`,
      source: 'engine',
    }) as StoredLog;

  it('yields the view when it changes and new lines as they come, and ends after the run ended', async () => {
    let version = 1;
    let status: 'running' | 'succeeded' = 'running';
    const lines: StoredLog[] = [];
    let ticks = 0;
    const out: { view: unknown; logs: number[] }[] = [];
    const sleep = async () => {
      ticks++;
      if (ticks === 1) lines.push(line(1), line(2));
      if (ticks === 3) {
        version = 2;
        status = 'succeeded';
      }
    };
    for await (const u of watchRun(
      { runId: 'r' },
      async () => ({ run: { status, version }, steps: [] }),
      async (after) => lines.filter((l) => l.id > after),
      undefined,
      sleep,
    )) {
      out.push({
        view: u.view ? (u.view as { run: { version: number } }).run.version : null,
        logs: u.logs.map((l) => l.id),
      });
    }
    expect(out).toEqual([
      { view: 1, logs: [] },
      { view: null, logs: [1, 2] },
      { view: 2, logs: [] },
    ]);
  });

  it('issue 18: ends as soon as the run has ended when every line is stored, reading every page left', async () => {
    const lines = [1, 2, 3, 4, 5].map(line);
    const asked: string[] = [];
    let sleeps = 0;
    const out: number[][] = [];
    for await (const u of watchRun(
      { runId: 'r' },
      async () => (asked.push('view'), { run: { status: 'succeeded' as const, version: 3 } }),
      // Pages of two, as a bounded page would cut them.
      async (after) => (asked.push(`logs>${after}`), lines.filter((l) => l.id > after).slice(0, 2)),
      undefined,
      async () => void sleeps++,
      async () => (asked.push('stored?'), true),
    )) {
      out.push(u.logs.map((l) => l.id));
    }
    expect(out).toEqual([[1, 2], [3, 4], [5]]);
    expect(sleeps).toBe(0);
    expect(asked).toEqual(['view', 'stored?', 'logs>0', 'logs>2', 'logs>4', 'logs>5']);
  });

  it('issue 18: without that assurance, waits for quiet after the end so late lines are still sent', async () => {
    const lines = [line(1)];
    const waits: number[] = [];
    const out: number[][] = [];
    for await (const u of watchRun(
      { runId: 'r' },
      async () => ({ run: { status: 'failed' as const, version: 3 } }),
      async (after) => lines.filter((l) => l.id > after),
      undefined,
      async (ms) => {
        waits.push(ms);
        if (waits.length === 1) lines.push(line(2)); // a late line, within the quiet period
      },
      async () => false,
    )) {
      out.push(u.logs.map((l) => l.id));
    }
    expect(out).toEqual([[1], [2]]);
    expect(waits).toEqual([WATCH_END_QUIET_MS, WATCH_END_QUIET_MS]);
  });

  it('stops when the client goes away', async () => {
    const ac = new AbortController();
    const gen = watchRun(
      { runId: 'r' },
      async () => ({ run: { status: 'running' as const, version: 1 } }),
      async () => [],
      ac.signal,
      async () => ac.abort(),
    );
    expect((await gen.next()).done).toBe(false);
    expect((await gen.next()).done).toBe(true);
  });
});
