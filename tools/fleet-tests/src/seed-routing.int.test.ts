// Issue 14, "a routing rule across per-role pools": concurrent editions in two clusters, "blue"
// (edition 1.0) and "green" (2.0), each with per-role pools (admin, stream) behind one real
// HAProxy configured with what `lb haproxy-config --routing` prints (blue's frontends consult their
// own maps per pool; green's backends appended). A header rule on blue sends matching requests on
// BOTH pools' frontends to green's pool of the same role; the others stay on blue; no request
// fails while the maps are swapped; removing the rule sends everything back. Blue has a third pool
// green lacks: the rule skips it, and `routes` says so.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';
import { createHaproxyRuntime, routingMapFileList, routingMapFiles } from '@rollgate/lb';
import { freePort, startHaproxy, type HaproxyProcess } from '@rollgate/lb/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServiceEditions } from './editions';
import { rollgateCli } from './seed-fleet';

const APP = 'cp';
const HEADER = 'x-edition';
const CLUSTERS = { blue: '1.0', green: '2.0' } as const;
type Cluster = keyof typeof CLUSTERS;
/** Per cluster: its pools (name → roles); blue's "tools" pool has no twin in green. */
const POOLS: Record<Cluster, string[]> = { blue: ['admin', 'stream', 'tools'], green: ['admin', 'stream'] };
const backend = (cluster: Cluster, pool: string) => `be_${pool}_${cluster}`;

let dir: string;
let mapDir: string;
let fleet: Fleet;
let haproxy: HaproxyProcess | undefined;
let socketPath: string;
/** Blue's frontends, pool → base URL. */
const front: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-seed-routing-'));
  mapDir = join(dir, 'maps');
  socketPath = join(dir, 'lb1', 'admin.sock');
  await mkdir(join(dir, 'lb1'), { recursive: true });
  const editions = await buildServiceEditions(join(dir, 'editions'), ['1.0', '2.0']);
  const agents = (Object.keys(POOLS) as Cluster[]).flatMap((cluster) =>
    POOLS[cluster].map((role) => ({ id: `${cluster}-${role}-1`, role, cluster })),
  );
  fleet = await startFleet({
    dir: join(dir, 'fleet'),
    heartbeatMs: 1000,
    agents,
    service: {
      name: APP,
      editions,
      start: { command: 'python3', args: ['server.py'] },
      healthPath: '/health?by=agent',
      env: (a) => ({ SERVER_NAME: a.id, ROLE: a.role }),
    },
    // Green's servers start on 2.0: two clusters serving two editions at once.
    agentConfig: (a, config) => {
      if (a.cluster !== 'green') return config;
      const green = editions.find((e) => e.name === CLUSTERS.green)!;
      const services = (config.services as Record<string, unknown>[]).map((s) => ({
        ...s,
        initialEdition: { name: green.name, archive: green.path },
      }));
      return { ...config, services };
    },
  });
  await fleet.waitConnected();

  // Each cluster's pools on the one balancer, gate-only first (nothing to check against yet).
  const configure = (cluster: Cluster, ...extra: string[]) =>
    rollgateCli(fleet, [
      'lb',
      'configure',
      '--cluster',
      cluster,
      ...extra,
      '--balancer',
      `lb1=unix:${socketPath}`,
      ...POOLS[cluster].flatMap((p) => ['--pool', `${p}=${backend(cluster, p)},roles=${p}`]),
      '--check-interval',
      '300',
      '--agent-inter',
      '300',
    ]);
  for (const c of ['blue', 'green'] as const) await configure(c, '--mode', 'gate-only');

  // Blue's file as `lb haproxy-config --routing` prints it, green's frontends and backends after it.
  const ports: Record<string, number> = {};
  for (const c of ['blue', 'green'] as const) for (const p of POOLS[c]) ports[`${c}/${p}`] = await freePort();
  const print = (cluster: Cluster, routing: boolean) =>
    fleet.api.lb.haproxyConfig.query({
      cluster,
      balancer: 'lb1',
      socketPath,
      binds: Object.fromEntries(POOLS[cluster].map((p) => [p, `127.0.0.1:${ports[`${cluster}/${p}`]}`])),
      ...(routing ? { routing: true, routingHeaders: [HEADER], mapDir } : {}),
    });
  const blue = await print('blue', true);
  const green = await print('green', false);
  await mkdir(mapDir, { recursive: true });
  for (const p of POOLS.blue)
    for (const f of routingMapFileList(routingMapFiles('blue', [HEADER], mapDir, p))) await writeFile(f, '');
  // Green's frontends are renamed: both files name them after their pools (fe_admin, ...).
  const greenSections = green
    .slice(green.indexOf('# Pool "'))
    .replace(/^frontend fe_/gm, 'frontend fe_green_');
  haproxy = await startHaproxy({ config: `${blue}\n${greenSections}` });
  for (const p of POOLS.blue) front[p] = `http://127.0.0.1:${ports[`blue/${p}`]}`;

  // Runtime mode for both, checked against the live balancer.
  for (const c of ['blue', 'green'] as const) await configure(c);
  const rt = createHaproxyRuntime({ socketPath });
  await waitFor(
    'every server of both clusters UP on the balancer',
    async () => {
      for (const c of ['blue', 'green'] as const)
        for (const p of POOLS[c]) {
          const rows = await rt.serverStats(backend(c, p));
          if (rows.length !== 1 || !rows.every((r) => r.status === 'UP')) return false;
        }
      return true;
    },
    60_000,
    200,
  );
}, 180_000);

afterAll(async () => {
  await haproxy?.stop();
  await fleet?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Answer {
  /** When the request was sent (a request sent before a map swap may be answered after it). */
  at: number;
  /** When its answer (or failure) came back. */
  done: number;
  pool: string;
  header: boolean;
  edition?: string;
  role?: string;
  failed?: string;
}

/** One request to blue's frontend of `pool`, with or without the rule's header. */
async function ask(pool: string, header: boolean): Promise<Answer> {
  const at = Date.now();
  try {
    const res = await fetch(`${front[pool]}/`, {
      headers: header ? { 'X-Edition': '2.0' } : {},
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) return { at, done: Date.now(), pool, header, failed: `${res.status} ${text.slice(0, 80)}` };
    const body = JSON.parse(text) as { edition: string; role: string };
    return { at, done: Date.now(), pool, header, edition: body.edition, role: body.role };
  } catch (err) {
    return { at, done: Date.now(), pool, header, failed: (err as Error).message };
  }
}

/** A little load: every pool, with and without the header, ~8 requests a second each, until stopped. */
function load() {
  const answers: Answer[] = [];
  let stopped = false;
  const loops = POOLS.blue.flatMap((pool) =>
    [true, false].map(async (header) => {
      while (!stopped) {
        answers.push(await ask(pool, header));
        await new Promise((r) => setTimeout(r, 120));
      }
    }),
  );
  return {
    answers,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** "pool header → edition/role" → count. */
const tally = (answers: Answer[]) => {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.pool} ${a.header ? 'header' : 'plain'} → ${a.failed ? `FAILED ${a.failed}` : `${a.edition}/${a.role}`}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
};

describe('issue 14: a routing rule across per-role pools', () => {
  it('issue 14: a header rule sends matching requests on both pools to green’s pool of the same role, the others to blue, 0 failed requests; removing it sends everything back', async () => {
    const running = load();
    await new Promise((r) => setTimeout(r, 1500));
    const view = await fleet.api.lb.setRoutes.mutate({
      cluster: 'blue',
      mapDir,
      rules: [{ match: 'header', header: 'X-Edition', value: '2.0', edition: '2.0' }],
    });
    // Each pool's maps point at green's pool of the same name; blue's tools pool is skipped, said so.
    const [rule] = view.rules;
    expect(rule!.description).toBe(
      'header x-edition: 2.0 → edition 2.0 (pool admin → be_admin_green; pool stream → be_stream_green; pool "tools" skipped: cluster "green", which serves edition 2.0, has no pool "tools")',
    );
    expect(Object.keys(view.pools ?? {})).toEqual(POOLS.blue);
    // The operator reads the same in `rollgate lb routes`.
    const printed = await rollgateCli(fleet, ['lb', 'routes', '--cluster', 'blue']);
    expect(printed).toContain('pool stream → be_stream_green');
    expect(printed).toContain(
      'pool "tools" skipped: cluster "green", which serves edition 2.0, has no pool "tools"',
    );
    const rt = createHaproxyRuntime({ socketPath });
    for (const p of ['admin', 'stream'])
      expect(await rt.showMap(routingMapFiles('blue', [HEADER], mapDir, p).headers[HEADER]!)).toEqual([
        ['2.0', backend('green', p)],
      ]);
    expect(await rt.showMap(routingMapFiles('blue', [HEADER], mapDir, 'tools').headers[HEADER]!)).toEqual([]);
    const setDone = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const clearAt = Date.now();
    await fleet.api.lb.setRoutes.mutate({ cluster: 'blue', mapDir, rules: [] });
    const clearedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const answers = await running.stop();
    // Requests sent while a setRoutes call was in flight may see either rules: left out.
    const withRule = answers.filter((a) => a.at >= setDone && a.done < clearAt);
    const after = answers.filter((a) => a.at >= clearedAt);
    console.log('with the rule', tally(withRule), 'after removing it', tally(after));

    expect(answers.filter((a) => a.failed)).toEqual([]);
    // The map swap is atomic per map: every answer after setRoutes returned follows the rule.
    const expectWith = (a: Answer) =>
      `${a.pool} ${a.header ? 'header' : 'plain'} → ${a.header && a.pool !== 'tools' ? '2.0' : '1.0'}/${a.pool}`;
    const expectWithout = (a: Answer) => `${a.pool} ${a.header ? 'header' : 'plain'} → 1.0/${a.pool}`;
    const key = (a: Answer) => `${a.pool} ${a.header ? 'header' : 'plain'} → ${a.edition}/${a.role}`;
    for (const [what, list, want] of [
      ['with the rule', withRule, expectWith],
      ['after removing it', after, expectWithout],
    ] as const) {
      expect(list.length, what).toBeGreaterThan(6);
      expect(list.map(key), what).toEqual(list.map(want));
    }
    // Both pools' header requests did reach green (not only "not blue").
    for (const p of ['admin', 'stream'])
      expect(withRule.some((a) => a.pool === p && a.header && a.edition === '2.0')).toBe(true);
  }, 120_000);
});
