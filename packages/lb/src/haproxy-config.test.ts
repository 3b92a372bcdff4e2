import { describe, expect, it } from 'vitest';
import { renderHaproxyBackend, type RenderHaproxyBackendOptions } from './haproxy-config';

const base = (): RenderHaproxyBackendOptions => ({
  cluster: 'demo',
  servers: [
    { name: 'admin-1', address: '10.0.0.1', servicePort: 8081, gatePort: 7070, agentCheckPort: 7071 },
    { name: 'stream-1', address: '10.0.0.2', servicePort: 8081, gatePort: 7070, agentCheckPort: 7071 },
  ],
});

const lines = (cfg: string) =>
  cfg
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

describe('renderHaproxyBackend', () => {
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
    expect(cfg).toMatch(/not of the service/);
  });

  it('takes names, bind, intervals, slowstart, retries, socket; IPv6 in brackets; agent-check optional', () => {
    const cfg = renderHaproxyBackend({
      cluster: 'prod',
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
