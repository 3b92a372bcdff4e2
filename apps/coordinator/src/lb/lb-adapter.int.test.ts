// The LB adapter against TWO real HAProxy processes (an HA pair, hand-written configuration) in
// front of three backends: a pool per role, and one server running two services in two pools.
// Every state change reaches every balancer; status adds both balancers' views up; a balancer that
// is gone makes the call throw LbUnreachableError naming it (issue 14 item 1).
import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LbUnreachableError, lbConfigSchema, type LbConfig } from '@rollgate/domain';
import { createMemoryStore, type ServerRecord } from '@rollgate/engine';
import { createHaproxyRuntime } from '@rollgate/lb';
import { freePort, startHaproxy, type HaproxyProcess } from '@rollgate/lb/testing';
import { createLogger } from '@rollgate/logger';
import { createLbAdapter, type LbAdapter, type LbBalancerView } from './lb-adapter';
import { waiter } from '@rollgate/test-kit';

const { waitFor } = waiter({ timeoutMs: 20_000 });

function agent(id: string, role: string, services: string[]): ServerRecord {
  return {
    id,
    cluster: 'seed',
    role,
    hostname: `${id}.example`,
    agentVersion: '0.1.0',
    capabilities: [],
    gateUrl: '',
    status: 'connected',
    gateOpen: true,
    services: services.map((name) => ({
      name,
      installedEditions: ['1.0'],
      activeEdition: '1.0',
      health: 'healthy' as const,
    })),
    lastHeartbeatAt: 0,
    connectedAt: 0,
  };
}

/** A plain stdlib HTTP server standing for one service of one server. */
async function service(name: string): Promise<{ server: Server; port: number }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${name}\n`);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port };
}

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('LB adapter on an HAProxy pair (issue 14 item 1)', () => {
  const services = new Map<string, { server: Server; port: number }>();
  const lbs: { hp: HaproxyProcess; fronts: Record<string, number> }[] = [];
  let adapter: LbAdapter;
  let config: LbConfig;
  const store = createMemoryStore();

  /** Each pool's backend, its frontend and its servers (HAProxy name → service key). */
  const POOLS = {
    be_admin: { 'admin-1': 'admin-1/portal', 'admin-2': 'admin-2/portal' },
    be_stream: { s1: 'stream-1/tomcat', s2: 'stream-2/tomcat' },
    be_runtime: { 'stream-1': 'stream-1/runtime', 'stream-2': 'stream-2/runtime' },
  } as const;

  function haproxyConfig(fronts: Record<string, number>): string {
    const lines = [
      'global',
      '    maxconn 256',
      'defaults',
      '    mode http',
      '    timeout connect 2s',
      '    timeout client 10s',
      '    timeout server 10s',
    ];
    for (const [backend, servers] of Object.entries(POOLS)) {
      lines.push(
        `frontend fe_${backend}`,
        `    bind 127.0.0.1:${fronts[backend]}`,
        `    default_backend ${backend}`,
      );
      lines.push(`backend ${backend}`, '    balance roundrobin', '    option httpchk GET /');
      for (const [name, key] of Object.entries(servers))
        lines.push(`    server ${name} 127.0.0.1:${services.get(key)!.port} check inter 200 rise 1 fall 1`);
    }
    return `${lines.join('\n')}\n`;
  }

  const runtimes = () => lbs.map((l) => createHaproxyRuntime({ socketPath: l.hp.socketPath }));

  /** The admin state of one server on every balancer. */
  async function adminStates(backend: string, server: string): Promise<string[]> {
    return Promise.all(
      runtimes().map(
        async (rt) => (await rt.serverStats(backend)).find((s) => s.name === server)?.adminState ?? '?',
      ),
    );
  }

  beforeAll(async () => {
    for (const key of [...new Set(Object.values(POOLS).flatMap((s) => Object.values(s)))])
      services.set(key, await service(key));
    for (let i = 0; i < 2; i++) {
      const fronts: Record<string, number> = {};
      for (const backend of Object.keys(POOLS)) fronts[backend] = await freePort();
      lbs.push({ hp: await startHaproxy({ config: haproxyConfig(fronts) }), fronts });
    }
    for (const a of [
      agent('admin-1', 'admin', ['portal']),
      agent('admin-2', 'admin', ['portal']),
      agent('stream-1', 'stream', ['tomcat', 'runtime']),
      agent('stream-2', 'stream', ['tomcat', 'runtime']),
    ])
      await store.upsertServer(a);
    config = lbConfigSchema.parse({
      mode: 'haproxy-runtime',
      balancers: lbs.map((l, i) => ({ name: `lb${i + 1}`, runtime: { socketPath: l.hp.socketPath } })),
      pools: [
        { name: 'admin', backend: 'be_admin', roles: ['admin'] },
        {
          name: 'stream',
          backend: 'be_stream',
          roles: ['stream'],
          service: 'tomcat',
          servers: { 'stream-1': 's1', 'stream-2': 's2' },
        },
        { name: 'runtime', backend: 'be_runtime', roles: ['stream'], service: 'runtime' },
      ],
    });
    await store.setClusterLb('seed', config);
    // Each balancer's view on the ledger, kept as the PostgreSQL table does (newest per key).
    const kept = new Map<string, LbBalancerView>();
    const views = {
      async record(rows: LbBalancerView[]) {
        for (const r of rows) kept.set(`${r.balancer}|${r.serverId}|${r.pool}`, r);
      },
      async list(cluster: string) {
        return [...kept.values()].filter((v) => v.cluster === cluster);
      },
    };
    adapter = createLbAdapter({
      views,
      store,
      log: createLogger({ name: 'test', level: 'silent' }),
      cacheMs: 0,
      timeoutMs: 2000,
    });
    // Every server UP on both balancers before anything is asked.
    await waitFor('every server UP on both balancers', async () => {
      const st = await adapter.port.status('seed', ['admin-1', 'admin-2', 'stream-1', 'stream-2']);
      return st.size === 4 && [...st.values()].every((s) => s.up);
    });
  }, 60_000);

  afterAll(async () => {
    for (const l of lbs) await l.hp.stop().catch(() => undefined);
    for (const s of services.values()) await new Promise((r) => s.server.close(r));
  });

  it('issue 14.1: verify checks every pool on each balancer and names the ones it checked', async () => {
    expect(await adapter.verify(config, 'seed')).toEqual(['lb1', 'lb2']);
    const typo = lbConfigSchema.parse({
      ...config,
      pools: config.pools.map((p) => (p.name === 'stream' ? { ...p, servers: { 'stream-1': 's9' } } : p)),
    });
    await expect(adapter.verify(typo, 'seed')).rejects.toThrow(
      /load balancer lb1 .*backend "be_stream" \(pool stream\) has no server for stream-1 \(looked for "s9"\).*load balancer lb2/,
    );
    const gateOnly = lbConfigSchema.parse({ mode: 'gate-only' });
    expect(await adapter.verify(gateOnly, 'seed')).toEqual([]);
  });

  it('issue 14.2: drain, park and re-admission reach every pool of a server on both balancers', async () => {
    await adapter.port.leave('seed', ['admin-1', 'stream-1']);
    expect(await adminStates('be_admin', 'admin-1')).toEqual(['drain', 'drain']);
    expect(await adminStates('be_stream', 's1')).toEqual(['drain', 'drain']);
    expect(await adminStates('be_runtime', 'stream-1')).toEqual(['drain', 'drain']);
    expect(await adminStates('be_admin', 'admin-2')).toEqual(['ready', 'ready']);
    const recorded = (await adapter.ledgerViews('seed'))
      .filter((v) => v.serverId === 'stream-1')
      .map((v) => `${v.balancer} ${v.pool} ${v.server} ${v.state}`)
      .sort();
    expect(recorded).toEqual([
      'lb1 runtime stream-1 drain',
      'lb1 stream s1 drain',
      'lb2 runtime stream-1 drain',
      'lb2 stream s1 drain',
    ]);
    const out = await adapter.port.status('seed', ['stream-1']);
    expect(out.get('stream-1')).toMatchObject({ up: false, healthy: true });

    await adapter.port.park!('seed', ['stream-1']);
    expect(await adminStates('be_stream', 's1')).toEqual(['maint', 'maint']);
    expect(await adminStates('be_runtime', 'stream-1')).toEqual(['maint', 'maint']);

    await adapter.port.rejoin('seed', ['admin-1', 'stream-1']);
    for (const [be, name] of [
      ['be_admin', 'admin-1'],
      ['be_stream', 's1'],
      ['be_runtime', 'stream-1'],
    ] as const)
      expect(await adminStates(be, name)).toEqual(['ready', 'ready']);
    // Health up in the same exchange: UP at once on both, not after the checks' rise.
    const st = await adapter.port.status('seed', ['admin-1', 'stream-1']);
    expect([...st.values()].every((s) => s.up)).toBe(true);
  });

  it('issue 14.1: a switch-over applies both halves on both balancers', async () => {
    await adapter.port.switchOver!('seed', ['admin-2'], ['admin-1']);
    expect(await adminStates('be_admin', 'admin-1')).toEqual(['drain', 'drain']);
    expect(await adminStates('be_admin', 'admin-2')).toEqual(['ready', 'ready']);
    await adapter.port.switchOver!('seed', ['admin-1'], []);
    expect(await adminStates('be_admin', 'admin-1')).toEqual(['ready', 'ready']);
  });

  it("issue 14.1: status is up only when up on every balancer, and sums both balancers' sessions", async () => {
    const before = await adapter.port.status('seed', ['admin-1', 'admin-2']);
    const total = (m: typeof before) =>
      (m.get('admin-1')?.totalSessions ?? 0) + (m.get('admin-2')?.totalSessions ?? 0);
    // Three requests through lb1's admin frontend and five through lb2's.
    for (let i = 0; i < 3; i++) expect(await get(lbs[0]!.fronts.be_admin!)).toBe(200);
    for (let i = 0; i < 5; i++) expect(await get(lbs[1]!.fronts.be_admin!)).toBe(200);
    const after = await waitFor('both balancers counted the requests', async () => {
      const m = await adapter.port.status('seed', ['admin-1', 'admin-2']);
      return total(m) - total(before) >= 8 ? m : null;
    });
    expect(total(after) - total(before)).toBe(8);
    // Drained on lb2 alone: not up as a whole, although lb1 still sends it traffic.
    await runtimes()[1]!.setState('be_admin', 'admin-2', 'drain');
    expect((await adapter.port.status('seed', ['admin-2'])).get('admin-2')?.up).toBe(false);
    await adapter.port.rejoin('seed', ['admin-2']);
    expect((await adapter.port.status('seed', ['admin-2'])).get('admin-2')?.up).toBe(true);
  });

  it('issue 14.1: a stopped balancer makes every call throw LbUnreachableError naming it and what to do', async () => {
    await lbs[1]!.hp.stop();
    const err = await adapter.port.leave('seed', ['admin-1']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LbUnreachableError);
    expect((err as LbUnreachableError).balancer).toBe('lb2');
    expect((err as Error).message).toMatch(
      /^load balancer lb2 \(unix:.*admin\.sock\) of cluster seed does not answer: .*Start it, or fix its runtime API address .*the run resumes by itself once it answers\.$/,
    );
    // lb1 still got the change: repeating it once lb2 is back is harmless (every call is idempotent).
    expect((await runtimes()[0]!.serverStats('be_admin')).find((s) => s.name === 'admin-1')?.adminState).toBe(
      'drain',
    );
    // The ledger keeps each balancer's view: lb1 drained admin-1, lb2 still holds what it was last told.
    const admin1 = (await adapter.ledgerViews('seed')).filter((v) => v.serverId === 'admin-1');
    expect(admin1.map((v) => `${v.balancer} ${v.state}`).sort()).toEqual(['lb1 drain', 'lb2 ready']);
    await expect(adapter.port.status('seed', ['admin-1'])).rejects.toBeInstanceOf(LbUnreachableError);
    await expect(adapter.verify(config, 'seed')).rejects.toThrow(/load balancer lb2 .*cannot reach/);
  });
});
