import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { actionOpSchema, type ActionOp } from '@rollgate/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, parseTestHost } from '../config';
import { createFunctionalTest } from './functional-test';
import { OpError, type OpContext } from './op-result';

// Two real loopback HTTP receivers: "service" is the load balancer the tests may reach; "other"
// is any other origin. Each records every request it receives, with its body.
interface Seen {
  method: string;
  path: string;
  body: string;
  cookie: string | undefined;
}
const PASSWORD = 'S3cret-pw-of-the-test-account';

function receiver(
  handle: (req: IncomingMessage, body: string, res: import('node:http').ServerResponse) => void,
) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', body, cookie: req.headers.cookie });
      handle(req, body, res);
    });
  });
  return { server, seen };
}

let other: ReturnType<typeof receiver>;
let service: ReturnType<typeof receiver>;
let otherUrl: string;
let serviceUrl: string;
let servicePort: number;

const listen = async (s: Server) => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
};

beforeAll(async () => {
  other = receiver((_req, _body, res) => res.end('other origin'));
  otherUrl = `http://127.0.0.1:${await listen(other.server)}`;
  service = receiver((req, _body, res) => {
    const path = req.url ?? '/';
    if (path === '/login-elsewhere') {
      // 307 keeps the method and the body: following it would re-send the password to the other origin.
      res.writeHead(307, { location: `${otherUrl}/steal`, 'set-cookie': 'sid=abc; Path=/' });
      res.end();
    } else if (path === '/away') {
      res.writeHead(302, { location: `${otherUrl}/page` });
      res.end();
    } else if (path === '/login-here') {
      res.writeHead(302, { location: '/home', 'set-cookie': 'sid=abc; Path=/' });
      res.end();
    } else if (path === '/home') {
      res.writeHead(req.headers.cookie?.includes('sid=abc') ? 200 : 401);
      res.end('home');
    } else res.end('ok');
  });
  servicePort = await listen(service.server);
  serviceUrl = `http://127.0.0.1:${servicePort}`;
});
afterAll(async () => {
  await new Promise<void>((r) => other.server.close(() => r()));
  await new Promise<void>((r) => service.server.close(() => r()));
});

const ctx = (lines: string[] = []): OpContext => ({
  actionId: 'a',
  signal: new AbortController().signal,
  log: (_l, _c, m) => lines.push(m),
});

const op = (baseUrl: string, probes: unknown[]) =>
  actionOpSchema.parse({ op: 'functionalTest', baseUrl, probes, timeoutMs: 10_000 }) as Extract<
    ActionOp,
    { op: 'functionalTest' }
  >;

const tester = (testHosts?: string[]) =>
  createFunctionalTest({
    testAccounts: { demo: { username: 'demo', password: PASSWORD } },
    testCommands: {},
    baseEnv: {},
    cwd: process.cwd(),
    ...(testHosts ? { testHosts } : {}),
  });

const LOGIN = (path: string) => ({ kind: 'login', name: 'login', path, format: 'form', account: 'demo' });

describe('issue 17 item 12: the hosts functionality probes may reach', () => {
  it('issue 17 item 12: a baseUrl host not in testHosts is refused before any request, with the fix named', async () => {
    other.seen.length = 0;
    const lines: string[] = [];
    const err = (await tester(['lb.example.com', `127.0.0.1:${servicePort}`])(
      op(otherUrl, [{ kind: 'http', name: 'health', path: '/health' }, LOGIN('/login')]),
      ctx(lines),
    ).catch((e: unknown) => e)) as OpError;
    expect(err).toBeInstanceOf(OpError);
    expect(err.message).toContain(`host ${new URL(otherUrl).host} is not one this test machine may probe`);
    expect(err.message).toContain('add "127.0.0.1" or');
    expect(err.message).toContain("to testHosts in the test machine's agent config");
    const r = err.result as { probes: { ok: boolean; detail: string }[]; failed: number };
    expect(r.failed).toBe(2);
    expect(r.probes.every((p) => !p.ok && p.detail.startsWith('not run: host '))).toBe(true);
    expect(lines.some((l) => l.includes('refused'))).toBe(true);
    // Give a request every chance to land: none may.
    await new Promise((r) => setTimeout(r, 200));
    expect(other.seen).toEqual([]);
  });

  it('issue 17 item 12: an agent config without testHosts refuses every probe', async () => {
    service.seen.length = 0;
    const err = (await tester()(
      op(serviceUrl, [{ kind: 'http', name: 'health', path: '/health' }]),
      ctx(),
    ).catch((e: unknown) => e)) as OpError;
    expect(err.message).toMatch(/testHosts: none/);
    expect(service.seen).toEqual([]);
  });

  it('issue 17 item 12: a login redirected (307) to another origin is not followed; the password never reaches it', async () => {
    other.seen.length = 0;
    service.seen.length = 0;
    const err = (await tester(['127.0.0.1'])(op(serviceUrl, [LOGIN('/login-elsewhere')]), ctx()).catch(
      (e: unknown) => e,
    )) as OpError;
    expect(err).toBeInstanceOf(OpError);
    expect(err.message).toContain(`/login-elsewhere redirected to another origin (${otherUrl})`);
    // The allowed service got the login (it is the service under test); the other origin got nothing.
    expect(service.seen.map((s) => s.path)).toEqual(['/login-elsewhere']);
    expect(service.seen[0]!.body).toContain(PASSWORD);
    expect(other.seen).toEqual([]);
  });

  it('issue 17 item 12: a GET redirected to another origin, even on an allowed host, is refused', async () => {
    other.seen.length = 0;
    const err = (await tester(['127.0.0.1'])(
      op(serviceUrl, [{ kind: 'http', name: 'away', path: '/away' }]),
      ctx(),
    ).catch((e: unknown) => e)) as OpError;
    expect(err.message).toMatch(/away: \/away redirected to another origin/);
    expect(other.seen).toEqual([]);
  });

  it('issue 17 item 12: same-origin redirects still work (login → /home with its cookie)', async () => {
    service.seen.length = 0;
    const out = await tester([`127.0.0.1:${servicePort}`])(
      op(serviceUrl, [LOGIN('/login-here'), { kind: 'http', name: 'home', path: '/home' }]),
      ctx(),
    );
    expect(typeof out === 'string' ? out : out.result).toMatchObject({ passed: 2, failed: 0 });
    expect(service.seen.map((s) => s.path)).toEqual(['/login-here', '/home', '/home']);
    expect(service.seen[1]!.cookie).toBe('sid=abc');
  });

  it('issue 17 item 12: testHosts entries are bare hosts or host:port; anything else is a config error', () => {
    expect(parseTestHost('LB.example.com')).toEqual({ hostname: 'lb.example.com', port: null });
    expect(parseTestHost('10.0.0.5:8080')).toEqual({ hostname: '10.0.0.5', port: 8080 });
    expect(parseTestHost('[::1]:80')).toEqual({ hostname: '[::1]', port: 80 });
    for (const bad of ['http://lb', 'lb/path', 'user@lb', 'lb:99999', '', 'lb?x', '*.example.com']) {
      expect(parseTestHost(bad), bad).toBeNull();
    }
    const base = {
      agentId: 'web-1',
      cluster: 'c',
      role: 'web',
      coordinator: { address: '127.0.0.1:7443' },
      dataDir: '/var/lib/rollgate-agent',
      gate: { host: '127.0.0.1', port: 7070 },
      services: [{ name: 's', port: 8080, start: { command: 'node', args: [] } }],
    };
    const ok = parseConfig({ ...base, testHosts: ['lb.example.com'] });
    expect(ok.ok && ok.config.testHosts).toEqual(['lb.example.com']);
    const none = parseConfig(base);
    expect(none.ok && none.config.testHosts).toEqual([]);
    const bad = parseConfig({ ...base, testHosts: ['https://lb.example.com/'] });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors[0]).toMatch(
      /^testHosts\[0\]: expected a host name, IP address or "host:port"/,
    );
  });
});
