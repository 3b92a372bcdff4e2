import { lbConfigOf, type LbConfig } from '@rollgate/domain';
import type { ServerRecord } from '@rollgate/engine';
import { describe, expect, it } from 'vitest';
import { renderPoolsConfig, usesPools, type PoolsConfigInput } from './haproxy-pools-config';

/** A registered agent as the store holds it: gate on 7070, agent-check on 7071. */
function server(id: string, role: string, host: string, services: [string, number, string][]): ServerRecord {
  return {
    id,
    cluster: 'seed',
    role,
    hostname: id,
    agentVersion: '1.0.0',
    capabilities: [],
    gateUrl: `http://${host}:7070`,
    agentCheckPort: 7071,
    status: 'connected',
    gateOpen: true,
    services: services.map(([name, port, healthPath]) => ({
      name,
      port,
      healthPath,
      health: 'healthy',
      activeEdition: '1.0',
      installedEditions: ['1.0'],
    })),
    lastHeartbeatAt: null,
    connectedAt: null,
  } as unknown as ServerRecord;
}

const seedServers = (): ServerRecord[] => [
  server('admin-1', 'admin', '10.0.1.1', [
    ['cp', 8080, '/health'],
    ['license', 8090, '/ping'],
  ]),
  server('admin-2', 'admin', '10.0.1.2', [
    ['cp', 8080, '/health'],
    ['license', 8090, '/ping'],
  ]),
  server('stream-1', 'stream', '10.0.2.1', [['cp', 8080, '/health']]),
  server('stream-2', 'stream', '10.0.2.2', [['cp', 8080, '/health']]),
];

const seedConfig = (): LbConfig =>
  lbConfigOf({
    mode: 'haproxy-runtime',
    balancers: [
      { name: 'lb1', runtime: { socketPath: '/run/haproxy/admin.sock' } },
      { name: 'lb2', runtime: { host: '10.0.0.2', port: 9999 } },
    ],
    pools: [
      { name: 'admin', backend: 'be_admin', roles: ['admin'], service: 'cp' },
      {
        name: 'license',
        backend: 'be_license',
        roles: ['admin'],
        service: 'license',
        servers: { 'admin-2': 'lic2' },
      },
      { name: 'stream', backend: 'be_stream', roles: ['stream'] },
    ],
    checkIntervalMs: 500,
    fall: 3,
    rise: 2,
    agentInterMs: 250,
  });

const input = (patch: Partial<PoolsConfigInput> = {}): PoolsConfigInput => ({
  cluster: 'seed',
  binds: { admin: '*:8081', license: '*:8082', stream: '*:8083' },
  health: 'service',
  ...patch,
});

const serverLines = (cfg: string, backend: string) => {
  const l = cfg.split('\n');
  const from = l.indexOf(`backend ${backend}`);
  const to = l.indexOf('', from);
  return l.slice(from, to).filter((x) => x.trim().startsWith('server '));
};

describe('lb haproxy-config for pools and balancers (issue 14 item 1)', () => {
  it('places each agent service in its pool under the server name the runtime API calls use', () => {
    const cfg = renderPoolsConfig(input(), seedConfig(), seedServers());
    expect(serverLines(cfg, 'be_admin')).toEqual([
      '    server admin-1 10.0.1.1:8080 check agent-check agent-port 7071 agent-inter 250ms',
      '    server admin-2 10.0.1.2:8080 check agent-check agent-port 7071 agent-inter 250ms',
    ]);
    // The second service of the admin servers: its own port, health path and (mapped) server name.
    expect(serverLines(cfg, 'be_license')).toEqual([
      '    server admin-1 10.0.1.1:8090 check agent-check agent-port 7071 agent-inter 250ms',
      '    server lic2 10.0.1.2:8090 check agent-check agent-port 7071 agent-inter 250ms',
    ]);
    expect(cfg).toMatch(/backend be_license[\s\S]*option httpchk GET \/ping/);
    expect(serverLines(cfg, 'be_stream')).toHaveLength(2);
    expect(cfg).toContain('default-server inter 500ms fall 3 rise 2 pool-purge-delay 1000ms');
    expect(cfg).toMatch(/frontend fe_license\n {4}bind \*:8082\n {4}default_backend be_license/);
  });

  it('prints the file for each balancer: its name in the header and its own runtime API line', () => {
    const one = renderPoolsConfig(input(), seedConfig(), seedServers());
    const two = renderPoolsConfig(input({ balancer: 'lb2' }), seedConfig(), seedServers());
    expect(one).toMatch(/^# HAProxy configuration for Rollgate cluster "seed", load balancer "lb1"\./);
    expect(one).toContain('stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners');
    expect(two).toMatch(/^# HAProxy configuration for Rollgate cluster "seed", load balancer "lb2"\./);
    expect(two).toContain('stats socket ipv4@10.0.0.2:9999 level admin');
    const strip = (t: string) =>
      t
        .split('\n')
        .filter(
          (l) =>
            !/^#|stats socket|expose-fd|TCP runtime API|coordinator reaches|management network/.test(
              l.trim(),
            ),
        );
    expect(strip(one)).toEqual(strip(two));
    expect(renderPoolsConfig(input({ socketPath: '/tmp/lb.sock' }), seedConfig(), seedServers())).toContain(
      'stats socket /tmp/lb.sock mode 600',
    );
  });

  it('refuses what cannot be printed, saying what to do', () => {
    const fails =
      (i: PoolsConfigInput, c = seedConfig(), s = seedServers()) =>
      () =>
        renderPoolsConfig(i, c, s);
    expect(fails(input({ balancer: 'lb3' }))).toThrow(
      /has no load balancer "lb3" \(configured: lb1, lb2\); name one of them with --balancer/,
    );
    expect(fails(input({ binds: { admin: '*:8081', stream: '*:8083' } }))).toThrow(
      /Pool "license" needs a bind address: .* Give each with --bind <pool>=<address:port>\./,
    );
    expect(fails(input({ binds: { ...input().binds, portal: '*:9' } }))).toThrow(
      /--bind names "portal", which is not a pool of cluster "seed" \(pools: admin, license, stream\)/,
    );
    expect(fails(input({ backend: 'be_x' }))).toThrow(/each names its own backend .* drop --backend/);
    expect(fails(input(), seedConfig(), seedServers().slice(2))).toThrow(
      /Pool "admin" \(backend be_admin\) has no server: no registered agent of role admin runs service "cp"/,
    );
    expect(fails(input())).not.toThrow();
  });

  it('notes in the file an agent the pools leave out', () => {
    const extra = [...seedServers(), server('portal-1', 'portal', '10.0.3.1', [['web', 80, '/']])];
    expect(renderPoolsConfig(input(), seedConfig(), extra)).toMatch(
      /^# NOT PLACED: service "web" of agent portal-1 \(role portal\) is in no pool/,
    );
  });

  it('keeps the one-backend form for a legacy configuration, and uses pools as soon as there are several', () => {
    const legacy = lbConfigOf({ mode: 'haproxy-runtime', runtime: { socketPath: '/x.sock' }, backend: 'be' });
    expect(usesPools(legacy, undefined)).toBe(false);
    expect(usesPools(legacy, 'lb')).toBe(true);
    expect(usesPools(seedConfig(), undefined)).toBe(true);
  });
});
