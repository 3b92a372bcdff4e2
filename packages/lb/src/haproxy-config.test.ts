import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  renderHaproxyBackend,
  renderHaproxyPools,
  type RenderHaproxyBackendOptions,
  type RenderHaproxyPoolsOptions,
} from './haproxy-config';

const base = (): RenderHaproxyBackendOptions => ({
  cluster: 'demo',
  health: 'gate',
  servers: [
    { name: 'admin-1', address: '10.0.0.1', servicePort: 8081, gatePort: 7070, agentCheckPort: 7071 },
    { name: 'stream-1', address: '10.0.0.2', servicePort: 8081, gatePort: 7070, agentCheckPort: 7071 },
  ],
});

const serviceBase = (): RenderHaproxyBackendOptions => ({
  cluster: 'shop',
  servers: [
    {
      name: 'api-1',
      address: '10.0.0.1',
      servicePort: 9000,
      gatePort: 7070,
      agentCheckPort: 7071,
      healthPath: '/healthz?deep=1',
    },
    {
      name: 'api-2',
      address: '10.0.0.2',
      servicePort: 9000,
      gatePort: 7070,
      agentCheckPort: 7071,
      healthPath: '/healthz?deep=1',
      healthPort: 9100,
      besidePort: 9001,
    },
  ],
});

/** HAProxy's own verdict on a rendered file (`haproxy -c -f`). */
async function haproxyCheck(cfg: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'haproxy-config-test-'));
  try {
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, `${cfg}\n`);
    try {
      const { stdout, stderr } = await promisify(execFile)('/usr/sbin/haproxy', ['-c', '-f', file]);
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const lines = (cfg: string) =>
  cfg
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

describe('renderHaproxyBackend, health mode gate', () => {
  it('renders global, defaults, frontend and backend with the documented defaults', () => {
    const cfg = renderHaproxyBackend(base());
    expect(lines(cfg)).toEqual([
      'global',
      'stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners',
      'stats timeout 30s',
      'defaults',
      'mode http',
      'timeout connect 5s',
      'timeout client 30s',
      'timeout server 30s',
      'timeout http-keep-alive 10s',
      'option idle-close-on-response',
      'frontend fe_demo',
      'bind *:80',
      'default_backend rollgate_demo',
      'backend rollgate_demo',
      'balance roundrobin',
      'option httpchk GET /gate',
      'http-check expect status 200',
      'option redispatch',
      'retries 3',
      'retry-on conn-failure empty-response',
      'http-request disable-l7-retry unless METH_GET || METH_HEAD',
      'default-server inter 1000ms fall 2 rise 2 pool-purge-delay 1000ms',
      'server admin-1 10.0.0.1:8081 check port 7070 agent-check agent-port 7071 agent-inter 1000ms',
      'server stream-1 10.0.0.2:8081 check port 7070 agent-check agent-port 7071 agent-inter 1000ms',
    ]);
  });

  it('says in comments where each part goes', () => {
    const cfg = renderHaproxyBackend(base());
    expect(cfg).toContain('add the "stats socket" line to your global section');
    expect(cfg).toMatch(/frontend - where users connect/);
    expect(cfg).toMatch(/Health mode: gate/);
    // The trade-off, next to the lines it is about.
    expect(cfg).toMatch(/a dead, blocked or restarting agent takes a healthy service out/);
  });

  it('takes names, bind, intervals, slowstart, retries, socket; IPv6 in brackets; agent-check optional', () => {
    const cfg = renderHaproxyBackend({
      cluster: 'prod',
      health: 'gate',
      backend: 'be_app',
      frontend: 'fe_app',
      bind: '127.0.0.1:8080',
      checkIntervalMs: 500,
      fall: 3,
      rise: 4,
      agentInterMs: 250,
      slowstartMs: 10_000,
      retries: 1,
      poolPurgeDelayMs: 250,
      runtimeSocketPath: '/tmp/x/admin.sock',
      servers: [
        { name: 'a', address: '::1', servicePort: 9000, gatePort: 9001, agentCheckPort: 9002 },
        { name: 'b', address: 'app-b.internal', servicePort: 9000, gatePort: 9001 },
      ],
    });
    const l = lines(cfg);
    expect(l).toContain('stats socket /tmp/x/admin.sock mode 600 level admin expose-fd listeners');
    expect(l).toContain('frontend fe_app');
    expect(l).toContain('bind 127.0.0.1:8080');
    expect(l).toContain('default_backend be_app');
    expect(l).toContain('backend be_app');
    expect(l).toContain('retries 1');
    expect(l).toContain('default-server inter 500ms fall 3 rise 4 slowstart 10000ms pool-purge-delay 250ms');
    expect(l).toContain('server a [::1]:9000 check port 9001 agent-check agent-port 9002 agent-inter 250ms');
    expect(l).toContain('server b app-b.internal:9000 check port 9001');
  });

  it('refuses bad input with a message naming the field', () => {
    const bad = (patch: Partial<RenderHaproxyBackendOptions>) => () =>
      renderHaproxyBackend({ ...base(), ...patch });
    expect(bad({ cluster: 'de mo' })).toThrow(/cluster "de mo" is not a valid HAProxy name/);
    expect(bad({ servers: [] })).toThrow(/list at least one server/);
    expect(bad({ fall: 0 })).toThrow(/fall must be a whole number >= 1, got 0/);
    expect(bad({ bind: '80' })).toThrow(/bind must be "address:port"/);
    expect(bad({ runtimeSocketPath: 'admin.sock' })).toThrow(/runtimeSocketPath must be an absolute path/);
    const s = base().servers[0]!;
    expect(bad({ servers: [{ ...s, gatePort: 70000 }] })).toThrow(
      /servers\[0\]\.gatePort must be a TCP port/,
    );
    expect(bad({ servers: [s, s] })).toThrow(/server name "admin-1" is used twice/);
    expect(bad({ servers: [{ ...s, address: '10.0.0.1; rm' }] })).toThrow(/servers\[0\]\.address/);
  });
});

describe('renderHaproxyBackend, health mode service (issue 13 item 3)', () => {
  it('is the default: checks the service on its port at its health path, drains by agent-check', () => {
    const cfg = renderHaproxyBackend(serviceBase());
    const l = lines(cfg);
    expect(l).toContain('option httpchk GET /healthz?deep=1');
    expect(l).toContain('http-check expect status 200');
    expect(l).not.toContain('option httpchk GET /gate');
    // Server keep-alive stays: closing each server connection cost most of the throughput here.
    expect(l).not.toContain('option http-server-close');
    expect(l).toContain('server api-1 10.0.0.1:9000 check agent-check agent-port 7071 agent-inter 1000ms');
    // A health check on its own port; the beside twin stays disabled and unchecked.
    expect(l).toContain(
      'server api-2 10.0.0.2:9000 check port 9100 agent-check agent-port 7071 agent-inter 1000ms',
    );
    expect(l).toContain('server api-2-beside 10.0.0.2:9001 disabled');
    expect(cfg).not.toMatch(/check port 7070/);
    expect(cfg).toMatch(/Health mode: service/);
    expect(cfg).toMatch(/a dead, busy or restarting agent/);
    expect(cfg).toMatch(/never "down"/);
  });

  it('says on the server line when only the runtime API can drain a server (no agent-check)', () => {
    const o = serviceBase();
    const [a, b] = o.servers;
    const cfg = renderHaproxyBackend({ ...o, servers: [{ ...a!, agentCheckPort: undefined }, b!] });
    expect(cfg).toContain('# api-1 has no agent-check (gate.agentCheckPort in its agent config)');
    expect(lines(cfg)).toContain('server api-1 10.0.0.1:9000 check');
    expect(cfg).not.toContain('# api-2 has no agent-check');
  });

  it('refuses servers of one backend with different health paths, naming who uses which', () => {
    const o = serviceBase();
    const [a, b] = o.servers;
    expect(() => renderHaproxyBackend({ ...o, servers: [a!, { ...b!, healthPath: '/status' }] })).toThrow(
      /must share one health path \(HAProxy checks one path per backend\), but they use \/healthz\?deep=1 \(api-1\), \/status \(api-2\)/,
    );
  });

  it('refuses a server without a health path, and an unsafe path', () => {
    const o = serviceBase();
    const [a, b] = o.servers;
    expect(() => renderHaproxyBackend({ ...o, servers: [a!, { ...b!, healthPath: undefined }] })).toThrow(
      /needs each server's health path, and api-2 has none: set services\[\]\.healthUrl .* or use health mode "gate"/,
    );
    for (const bad of ['health', '/a b', '/x#y', '/x\ny', "/a'b", '/$HOME'])
      expect(() => renderHaproxyBackend({ ...o, servers: [{ ...a!, healthPath: bad }, b!] })).toThrow(
        /servers\[0\]\.healthPath must be a URL path like "\/health"/,
      );
    expect(() => renderHaproxyBackend({ ...o, servers: [{ ...a!, healthPort: 0 }, b!] })).toThrow(
      /servers\[0\]\.healthPort must be a TCP port/,
    );
    expect(() => renderHaproxyBackend({ ...o, health: 'agent' as never })).toThrow(
      /health must be "service" or "gate"/,
    );
  });
});

describe('the rendered configuration is valid for HAProxy (haproxy -c)', () => {
  it('service mode and gate mode both pass haproxy -c', async () => {
    const sock = { runtimeSocketPath: '/tmp/rollgate-haproxy-config-test.sock', bind: '127.0.0.1:18080' };
    for (const cfg of [
      renderHaproxyBackend({ ...serviceBase(), ...sock }),
      renderHaproxyBackend({ ...base(), ...sock }),
    ]) {
      const r = await haproxyCheck(cfg);
      expect(r.output).toMatch(/Configuration file is valid/);
      expect(r.ok).toBe(true);
    }
    // The check can fail: a broken line is refused.
    const broken = await haproxyCheck(`${renderHaproxyBackend({ ...base(), ...sock })}\n    bogus-keyword 1`);
    expect(broken.ok).toBe(false);
  });
});

/** The seed's topology (issue 14): admin and stream pools, and a second service of the admin servers in its own pool. */
const seedPools = (): RenderHaproxyPoolsOptions => {
  const server = (name: string, address: string, servicePort: number, healthPath: string) => ({
    name,
    address,
    servicePort,
    gatePort: 7070,
    agentCheckPort: 7071,
    healthPath,
  });
  return {
    cluster: 'seed',
    balancer: 'lb1',
    balancers: ['lb1', 'lb2'],
    pools: [
      {
        name: 'admin',
        backend: 'be_admin',
        bind: '*:8081',
        servers: [
          server('admin-1', '10.0.1.1', 8080, '/health'),
          server('admin-2', '10.0.1.2', 8080, '/health'),
        ],
      },
      {
        name: 'stream',
        backend: 'be_stream',
        bind: '*:8082',
        servers: [
          server('stream-1', '10.0.2.1', 8080, '/health'),
          server('stream-2', '10.0.2.2', 8080, '/health'),
        ],
      },
      {
        name: 'license',
        backend: 'be_license',
        frontend: 'fe_lic',
        bind: '*:8083',
        servers: [server('admin-1', '10.0.1.1', 8090, '/ping'), server('admin-2', '10.0.1.2', 8090, '/ping')],
      },
    ],
  };
};

/** The lines of one section (`frontend x`, `backend y`) up to the next blank line. */
const section = (cfg: string, head: string): string[] => {
  const l = cfg.split('\n');
  const i = l.indexOf(head);
  if (i < 0) throw new Error(`no "${head}" in:\n${cfg}`);
  const out: string[] = [];
  for (const line of l.slice(i)) {
    if (line === '') break;
    if (!line.trim().startsWith('#')) out.push(line.trim());
  }
  return out;
};

describe('renderHaproxyPools: a frontend and a backend per pool (issue 14 item 1)', () => {
  it('renders each pool as its own frontend and backend, one server name in two backends with their own health paths', () => {
    const cfg = renderHaproxyPools(seedPools());
    expect(section(cfg, 'frontend fe_admin')).toEqual([
      'frontend fe_admin',
      'bind *:8081',
      'default_backend be_admin',
    ]);
    expect(section(cfg, 'frontend fe_stream')).toEqual([
      'frontend fe_stream',
      'bind *:8082',
      'default_backend be_stream',
    ]);
    expect(section(cfg, 'frontend fe_lic')).toEqual([
      'frontend fe_lic',
      'bind *:8083',
      'default_backend be_license',
    ]);
    const admin = section(cfg, 'backend be_admin');
    expect(admin).toContain('option httpchk GET /health');
    expect(admin).toContain(
      'server admin-1 10.0.1.1:8080 check agent-check agent-port 7071 agent-inter 1000ms',
    );
    expect(admin).toContain(
      'server admin-2 10.0.1.2:8080 check agent-check agent-port 7071 agent-inter 1000ms',
    );
    expect(admin.filter((l) => l.startsWith('server '))).toHaveLength(2);
    const license = section(cfg, 'backend be_license');
    expect(license).toContain('option httpchk GET /ping');
    expect(license).toContain(
      'server admin-1 10.0.1.1:8090 check agent-check agent-port 7071 agent-inter 1000ms',
    );
    expect(section(cfg, 'backend be_stream')).toContain(
      'server stream-2 10.0.2.2:8080 check agent-check agent-port 7071 agent-inter 1000ms',
    );
    // The reasons are given once, at the first backend; the others point to it.
    expect(cfg.match(/Health mode: service/g)).toHaveLength(1);
    expect(cfg.match(/# The same settings as backend be_admin above, for the same reasons\./g)).toHaveLength(
      2,
    );
    // One global section, one defaults section, whatever the number of pools.
    expect(lines(cfg).filter((l) => l === 'global' || l === 'defaults')).toEqual(['global', 'defaults']);
    expect(lines(cfg)).toContain(
      'stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners',
    );
  });

  it('is the same file for each balancer of a pair but for the header naming it and its own runtime API line', () => {
    const one = renderHaproxyPools({ ...seedPools(), balancer: 'lb1' });
    const two = renderHaproxyPools({ ...seedPools(), balancer: 'lb2' });
    expect(one).toMatch(/^# HAProxy configuration for Rollgate cluster "seed", load balancer "lb1"\./);
    expect(two).toMatch(/^# HAProxy configuration for Rollgate cluster "seed", load balancer "lb2"\./);
    expect(one).toContain('# The same file goes on every load balancer of the cluster (lb1, lb2)');
    expect(one.split('\n').slice(1)).toEqual(two.split('\n').slice(1));
    const tcp = renderHaproxyPools({
      ...seedPools(),
      balancer: 'lb2',
      runtime: { host: '10.0.0.2', port: 9999 },
    });
    expect(lines(tcp)).toContain('stats socket ipv4@10.0.0.2:9999 level admin');
    expect(tcp).toMatch(/A TCP runtime API has no authentication/);
    expect(lines(renderHaproxyPools({ ...seedPools(), runtime: { host: '::1', port: 9999 } }))).toContain(
      'stats socket ipv6@::1:9999 level admin',
    );
  });

  it('takes the check settings and health mode for every backend, and renders the validation clone of a pool', () => {
    const o = seedPools();
    const cfg = renderHaproxyPools({
      ...o,
      health: 'gate',
      checkIntervalMs: 300,
      fall: 3,
      rise: 1,
      agentInterMs: 200,
      pools: [
        { ...o.pools[0]!, servers: o.pools[0]!.servers.map((s) => ({ ...s, besidePort: 8079 })) },
        o.pools[1]!,
      ],
    });
    for (const b of ['backend be_admin', 'backend be_stream']) {
      expect(section(cfg, b)).toContain('option httpchk GET /gate');
      expect(section(cfg, b)).toContain('default-server inter 300ms fall 3 rise 1 pool-purge-delay 1000ms');
    }
    expect(section(cfg, 'backend be_admin')).toContain(
      'server admin-1 10.0.1.1:8080 check port 7070 agent-check agent-port 7071 agent-inter 200ms',
    );
    expect(section(cfg, 'backend be_admin-validate')).toContain(
      'server admin-2-beside 10.0.1.2:8079 disabled',
    );
    expect(cfg).not.toContain('be_stream-validate');
  });

  it('refuses bad input with a message naming the pool and what to do', () => {
    const o = seedPools();
    const [admin, stream] = o.pools;
    const bad = (patch: Partial<RenderHaproxyPoolsOptions>) => () => renderHaproxyPools({ ...o, ...patch });
    expect(bad({ pools: [] })).toThrow(/list at least one pool/);
    expect(bad({ pools: [admin!, { ...stream!, bind: undefined }] })).toThrow(
      /pool "stream" needs a bind address: with several pools each frontend listens on its own \(e\.g\. admin=\*:8081, stream=\*:8082\)/,
    );
    expect(bad({ pools: [admin!, { ...stream!, bind: '*:8081' }] })).toThrow(
      /pools "admin" and "stream" both bind \*:8081; give each pool's frontend its own address/,
    );
    expect(bad({ pools: [admin!, { ...stream!, backend: 'be_admin' }] })).toThrow(
      /backend "be_admin" is used by two pools/,
    );
    expect(bad({ pools: [admin!, { ...stream!, name: 'admin' }] })).toThrow(
      /pool "admin" is used by two pools/,
    );
    expect(bad({ pools: [admin!, { ...stream!, servers: [] }] })).toThrow(
      /list at least one server in pools\[1\]\.servers/,
    );
    expect(
      bad({ pools: [admin!, { ...stream!, servers: [{ ...stream!.servers[0]!, servicePort: 0 }] }] }),
    ).toThrow(/pools\[1\]\.servers\[0\]\.servicePort must be a TCP port/);
    expect(
      bad({
        pools: [
          admin!,
          { ...stream!, servers: [{ ...stream!.servers[0]!, healthPath: '/x' }, stream!.servers[1]!] },
        ],
      }),
    ).toThrow(/must share one health path .* \/x \(stream-1\), \/health \(stream-2\)/);
    expect(bad({ balancer: 'lb3' })).toThrow(/balancer "lb3" is not one of balancers \(lb1, lb2\)/);
    expect(bad({ runtime: { socketPath: 'admin.sock' } })).toThrow(
      /runtime\.socketPath must be an absolute path/,
    );
    expect(bad({ runtime: { host: '10.0.0.1 x', port: 1 } })).toThrow(/runtime\.host must be an IP address/);
    expect(bad({ runtime: { host: '10.0.0.1', port: 70000 } })).toThrow(/runtime\.port must be a TCP port/);
    expect(bad({ pools: [{ ...admin!, backend: 'be admin' }, stream!] })).toThrow(
      /pools\[0\]\.backend "be admin" is not a valid HAProxy name/,
    );
  });

  it('passes haproxy -c for a pair: unix and TCP runtime API, service and gate health', async () => {
    const o = seedPools();
    const local = {
      pools: o.pools.map((p, i) => ({
        ...p,
        bind: `127.0.0.1:${18181 + i}`,
        servers: p.servers.map((s) => ({ ...s, besidePort: s.servicePort + 100 })),
      })),
    };
    for (const cfg of [
      renderHaproxyPools({ ...o, ...local, runtime: { socketPath: '/tmp/rollgate-pools-test-lb1.sock' } }),
      renderHaproxyPools({
        ...o,
        ...local,
        balancer: 'lb2',
        health: 'gate',
        runtime: { host: '127.0.0.1', port: 18199 },
      }),
    ]) {
      const r = await haproxyCheck(cfg);
      expect(r.output).toMatch(/Configuration file is valid/);
      expect(r.ok).toBe(true);
    }
    const broken = await haproxyCheck(`${renderHaproxyPools({ ...o, ...local })}\n    bogus-keyword 1`);
    expect(broken.ok).toBe(false);
  });
});
