import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../context';
import { buildLbConfig, haproxyConfigCommand, lbConfigureCommand, lbShowCommand, parseRule } from './lb';

describe('lb routes set --rule', () => {
  it('reads the three kinds of rule, the edition after the last "="', () => {
    expect(parseRule('header:x-pilot:yes=2.0')).toEqual({
      match: 'header',
      header: 'x-pilot',
      value: 'yes',
      edition: '2.0',
    });
    expect(parseRule('header:x-flag:a=b=1.0.1_FIX')).toEqual({
      match: 'header',
      header: 'x-flag',
      value: 'a=b',
      edition: '1.0.1_FIX',
    });
    expect(parseRule('source:10.1.0.0/16=2.0')).toEqual({
      match: 'source',
      cidr: '10.1.0.0/16',
      edition: '2.0',
    });
    expect(parseRule('path:/beta/=2.0')).toEqual({ match: 'path-prefix', prefix: '/beta/', edition: '2.0' });
  });

  it('says what shape it expected when a rule has none of them', () => {
    for (const bad of ['x-pilot=2.0', 'header:x-pilot=2.0', 'source:=2.0', 'path:/beta/', 'cookie:a=b']) {
      expect(() => parseRule(bad), bad).toThrow(/expected header:<name>:<value>=<edition>, source:/);
    }
  });
});

describe('lb haproxy-config --health (issue 13 item 3)', () => {
  async function asked(flags: Parameters<typeof haproxyConfigCommand>[1]): Promise<unknown> {
    let input: unknown;
    const printed: string[] = [];
    const ctx = {
      client: {
        lb: {
          haproxyConfig: {
            query: async (i: unknown) => {
              input = i;
              return 'backend x';
            },
          },
        },
      },
      out: { print: (t: string) => printed.push(t) },
    } as unknown as CommandContext;
    expect(await haproxyConfigCommand(ctx, flags)).toBe(0);
    expect(printed).toEqual(['backend x']);
    return input;
  }

  it('passes the health mode to the API, and leaves the default to it when absent', async () => {
    expect(await asked({ cluster: 'shop', health: 'gate' })).toEqual({ cluster: 'shop', health: 'gate' });
    expect(await asked({ cluster: 'shop', health: 'service' })).toEqual({
      cluster: 'shop',
      health: 'service',
    });
    expect(await asked({ cluster: 'shop' })).toEqual({ cluster: 'shop' });
  });

  it('issue 14: --balancer and a --bind per pool reach the API; a bare --bind stays the one-pool form', async () => {
    expect(
      await asked({ cluster: 'seed', balancer: 'lb2', bind: ['admin=*:8081', 'stream=10.0.0.9:8083'] }),
    ).toEqual({ cluster: 'seed', balancer: 'lb2', binds: { admin: '*:8081', stream: '10.0.0.9:8083' } });
    expect(await asked({ cluster: 'shop', bind: ['*:80'] })).toEqual({ cluster: 'shop', bind: '*:80' });
  });

  it('issue 14: says what a --bind should look like, and refuses a pool given twice', async () => {
    await expect(asked({ cluster: 'seed', bind: ['admin=8081'] })).rejects.toThrow(
      /--bind admin=8081: expected <address:port> \(one pool\) or <pool>=<address:port> \(each of several\), e\.g\. --bind admin=\*:8081\./,
    );
    await expect(asked({ cluster: 'seed', bind: ['admin=*:1', 'admin=*:2'] })).rejects.toThrow(
      /--bind admin=\*:2: pool admin is given twice\./,
    );
  });
});

describe('lb configure flags (issue 14 item 1)', () => {
  it('issue 14.1: reads balancers, pools with roles and service, and per-pool server names', () => {
    const c = buildLbConfig({
      cluster: 'seed',
      balancer: ['lb1=unix:/run/haproxy-1/admin.sock', 'lb2=10.0.0.2:9999'],
      pool: ['admin=be_admin,roles=admin', 'stream=be_stream,roles=stream+media,service=tomcat'],
      server: ['stream/stream-1=s1'],
    });
    expect(c.mode).toBe('haproxy-runtime');
    expect(c.balancers).toEqual([
      { name: 'lb1', runtime: { socketPath: '/run/haproxy-1/admin.sock' } },
      { name: 'lb2', runtime: { host: '10.0.0.2', port: 9999 } },
    ]);
    expect(c.pools).toEqual([
      { name: 'admin', backend: 'be_admin', roles: ['admin'], servers: {} },
      {
        name: 'stream',
        backend: 'be_stream',
        roles: ['stream', 'media'],
        service: 'tomcat',
        servers: { 'stream-1': 's1' },
      },
    ]);
  });

  it('issue 14.1: every timing knob has a flag', () => {
    const c = buildLbConfig({
      cluster: 'seed',
      mode: 'gate-only',
      checkInterval: 500,
      fall: 3,
      rise: 4,
      agentInter: 700,
      drainageInterval: 9,
      readmitTimeout: 12_000,
      readmitWait: 'served',
      reaction: 2500,
    });
    expect(c).toMatchObject({
      checkIntervalMs: 500,
      fall: 3,
      rise: 4,
      agentInterMs: 700,
      drainageIntervalSec: 9,
      readmitTimeoutMs: 12_000,
      readmitWait: 'served',
      reactionMs: 2500,
    });
  });

  it('issue 14.1: gate-only needs no backend; the legacy one-backend flags still work', () => {
    expect(buildLbConfig({ cluster: 'seed' })).toMatchObject({ mode: 'gate-only', balancers: [], pools: [] });
    expect(
      buildLbConfig({ cluster: 'seed', socket: '/run/h.sock', backend: 'demo', server: ['a-1=s1'] }),
    ).toMatchObject({
      mode: 'haproxy-runtime',
      balancers: [{ name: 'lb', runtime: { socketPath: '/run/h.sock' } }],
      pools: [{ name: 'demo', backend: 'demo', servers: { 'a-1': 's1' } }],
    });
  });

  it('issue 14.1: says what is wrong with a flag, and with runtime mode missing a pool', () => {
    expect(() => buildLbConfig({ cluster: 's', balancer: ['lb1'] })).toThrow(
      /--balancer lb1: expected name=unix:/,
    );
    expect(() => buildLbConfig({ cluster: 's', pool: ['be_x'] })).toThrow(
      /--pool be_x: expected name=backend/,
    );
    expect(() => buildLbConfig({ cluster: 's', pool: ['a=b,role=x'] })).toThrow(
      /"role=x" is not roles=\.\.\. or service=/,
    );
    expect(() => buildLbConfig({ cluster: 's', pool: ['a=be_a', 'b=be_b'], server: ['x-1=s1'] })).toThrow(
      /has 2 pools; say which with pool\/agent=server/,
    );
    expect(() => buildLbConfig({ cluster: 's', pool: ['a=be_a'], server: ['c/x-1=s1'] })).toThrow(
      /no pool "c"/,
    );
    expect(() => buildLbConfig({ cluster: 's', balancer: ['lb1=unix:/x'] })).toThrow(
      /pools: mode haproxy-runtime needs at least one pool/,
    );
  });

  it('issue 14.1: --file is validated strictly, naming an unknown key; flags override it', () => {
    expect(() =>
      buildLbConfig({ cluster: 's', file: 'lb.json' }, { mode: 'gate-only', drainSeconds: 3 }),
    ).toThrow(/--file lb.json: .*Unrecognized key.*"drainSeconds"/);
    const c = buildLbConfig(
      { cluster: 's', file: 'lb.json', fall: 5 },
      { mode: 'haproxy-runtime', runtime: { socketPath: '/x' }, backend: 'demo', fall: 2 },
    );
    expect(c).toMatchObject({ fall: 5, pools: [{ name: 'demo', backend: 'demo' }] });
  });

  it('issue 14.1: the message says which balancers were checked, and that gate-only checked nothing', async () => {
    const printed: string[] = [];
    const ctx = (checkedAgainst: string[]) =>
      ({
        client: {
          lb: {
            configure: {
              mutate: async ({ config }: { config: Record<string, unknown> }) => ({
                ...config,
                checkedAgainst,
              }),
            },
          },
        },
        out: { print: (t: string) => printed.push(t) },
      }) as unknown as CommandContext;
    await lbConfigureCommand(ctx(['lb1', 'lb2']), {
      cluster: 'seed',
      balancer: ['lb1=unix:/a.sock', 'lb2=unix:/b.sock'],
      pool: ['web=be_web'],
    });
    await lbConfigureCommand(ctx([]), { cluster: 'seed' });
    expect(printed[0]).toContain('(checked against lb1, lb2)');
    expect(printed[0]).toContain('web → backend be_web (every role)');
    expect(printed[1]).toContain('gate-only: no load balancer was asked, nothing was checked against one');
    expect(printed[1]).not.toContain('checked against lb');
  });
});

describe('lb show (issue 14 item 1)', () => {
  it("issue 14.1: prints each balancer, the pools, every timing knob and each balancer's view per pool", async () => {
    const printed: string[] = [];
    const config = buildLbConfig({
      cluster: 'seed',
      balancer: ['lb1=unix:/a.sock', 'lb2=10.0.0.2:9999'],
      pool: ['stream=be_stream,roles=stream,service=tomcat'],
      readmitWait: 'served',
      reaction: 1500,
    });
    const view = {
      cluster: 'seed',
      config,
      error: 'lb2: connection refused',
      problems: [],
      balancers: [
        { name: 'lb1', address: 'unix:/a.sock', error: null },
        { name: 'lb2', address: 'tcp:10.0.0.2:9999', error: 'connection refused' },
      ],
      servers: [
        {
          serverId: 'stream-1',
          pool: 'stream',
          haproxyServer: 'be_stream/stream-1',
          status: null,
          views: [],
          lastSet: [
            { balancer: 'lb1', state: 'drain', setAt: 2 },
            { balancer: 'lb2', state: 'ready', setAt: 1 },
          ],
        },
      ],
    };
    const ctx = {
      client: { lb: { show: { query: async () => view } } },
      out: { print: (t: string) => printed.push(t) },
    } as unknown as CommandContext;
    expect(await lbShowCommand(ctx, { cluster: 'seed' })).toBe(0);
    const text = printed.join('\n');
    expect(text).toContain('balancer lb1 at unix:/a.sock');
    expect(text).toContain('balancer lb2 at tcp:10.0.0.2:9999 — not answering: connection refused');
    expect(text).toContain('pools: stream → backend be_stream (roles stream, service tomcat)');
    expect(text).toContain('readmit wait served, reaction 1500 ms');
    expect(text).toMatch(/stream-1\s+stream\s+be_stream\/stream-1\s+-\s+-\s+-\s+lb1 drain, lb2 ready/);
  });
});
