import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { renderHaproxyBackend, type RenderHaproxyBackendOptions } from './haproxy-config';

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
