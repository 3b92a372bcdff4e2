import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActionOp, FunctionalTestResult } from '@rollgate/domain';
import { actionOpSchema } from '@rollgate/domain';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFunctionalTest } from './functional-test';
import { OpError, type OpContext } from './op-result';

// A small application: a login that sets a session cookie, pages that need it, a version page.
let server: Server;
let base: string;
const seen: { path: string; cookie?: string; body?: string; type?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ path: url.pathname, cookie: req.headers.cookie, body, type: req.headers['content-type'] });
      const loggedIn = req.headers.cookie?.includes('sid=abc') ?? false;
      if (url.pathname === '/login' && req.method === 'POST') {
        const fields =
          req.headers['content-type'] === 'application/json'
            ? (JSON.parse(body) as Record<string, string>)
            : Object.fromEntries(new URLSearchParams(body));
        if (fields.user === 'student' && fields.pass === 'Pa55-word!') {
          res.writeHead(302, { location: '/home', 'set-cookie': 'sid=abc; Path=/; HttpOnly' });
          res.end();
        } else {
          res.writeHead(401, { 'content-type': 'text/plain' });
          res.end(`bad credentials for ${fields.user} / ${fields.pass}`);
        }
        return;
      }
      if (url.pathname === '/home' || url.pathname.startsWith('/apps')) {
        if (!loggedIn) {
          res.writeHead(302, { location: '/login' });
          res.end();
          return;
        }
        if (url.pathname === '/apps/slow') {
          setTimeout(() => res.end('slow page'), 60);
          return;
        }
        if (url.pathname === '/apps/missing') {
          res.writeHead(404);
          res.end('nope');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html', 'x-served-by': 'web-1' });
        res.end(`<h1>welcome ${url.pathname}</h1>`);
        return;
      }
      if (url.pathname === '/login') {
        res.end('<form>login</form>');
        return;
      }
      if (url.pathname === '/admin/version') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ app: { version: '2.0.1' }, version: '2.0' }));
        return;
      }
      if (url.pathname === '/about') {
        res.end('Cloudpaging Server 9.4.2 build 77');
        return;
      }
      res.writeHead(404);
      res.end('not found');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const ctx = (lines: string[] = []): OpContext => ({
  actionId: 'a',
  signal: new AbortController().signal,
  log: (_l, _c, m) => lines.push(m),
});

const functionalTest = createFunctionalTest({
  testAccounts: {
    student: { username: 'student', password: 'Pa55-word!' },
    wrong: { username: 'student', password: 'nope-nope' },
  },
  testCommands: {
    'launch-ok': { command: process.execPath, args: ['-e', 'console.log("app launched")'] },
    'launch-fail': {
      command: process.execPath,
      args: ['-e', 'console.error("no licence"); process.exit(2)'],
    },
    'launch-hang': { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] },
  },
  baseEnv: { PATH: process.env.PATH ?? '' },
  cwd: process.cwd(),
  testHosts: ['127.0.0.1'],
});

/** Through the op schema, as the agent receives it (defaults filled). */
function op(probes: unknown[], timeoutMs = 10_000): Extract<ActionOp, { op: 'functionalTest' }> {
  return actionOpSchema.parse({ op: 'functionalTest', baseUrl: base, probes, timeoutMs }) as Extract<
    ActionOp,
    { op: 'functionalTest' }
  >;
}

describe('functionalTest probes', () => {
  it('login keeps the session cookie for navigation; version and launch pass; every probe timed', async () => {
    seen.length = 0;
    const out = await functionalTest(
      op([
        { kind: 'http', name: 'login page', path: '/login', bodyContains: 'login' },
        {
          kind: 'login',
          name: 'login',
          path: '/login',
          account: 'student',
          usernameField: 'user',
          passwordField: 'pass',
          bodyContains: 'welcome',
        },
        { kind: 'navigate', name: 'navigation', pages: ['/home', '/apps', '/apps/slow'] },
        { kind: 'http', name: 'served by', path: '/apps', header: { name: 'x-served-by', contains: 'web' } },
        { kind: 'launch', name: 'launch app', command: 'launch-ok' },
        {
          kind: 'version',
          name: 'admin version',
          path: '/admin/version',
          field: 'app.version',
          expect: ['2.0.1'],
        },
        { kind: 'version', name: 'about', path: '/about', expect: ['9.4.1', '9.4.2'] },
      ]),
      ctx(),
    );
    if (typeof out === 'string') throw new Error('expected a result');
    const r = out.result as FunctionalTestResult;
    expect(r).toMatchObject({ kind: 'functionalTest', baseUrl: base, passed: 7, failed: 0 });
    expect(r.probes.map((p) => [p.name, p.kind, p.ok])).toEqual([
      ['login page', 'http', true],
      ['login', 'login', true],
      ['navigation', 'navigate', true],
      ['served by', 'http', true],
      ['launch app', 'launch', true],
      ['admin version', 'version', true],
      ['about', 'version', true],
    ]);
    // Each probe's time is measured: the navigation waited for the slow page (60 ms on the server).
    for (const p of r.probes) expect(Number.isInteger(p.ms), `${p.name}: ${p.ms}`).toBe(true);
    const slowest = Number(/slowest: \/apps\/slow (\d+) ms/.exec(r.probes[2]!.detail)?.[1]);
    expect(slowest).toBeGreaterThanOrEqual(59);
    expect(r.probes[2]!.ms).toBeGreaterThanOrEqual(slowest);
    expect(r.probes[2]!.detail).toMatch(/3 pages answered 200; slowest: \/apps\/slow \d+ ms/);
    expect(r.probes[4]!.detail).toMatch(/exited 0: app launched/);
    // The login was form-encoded, and the pages after it carried the session cookie.
    const login = seen.find((x) => x.path === '/login' && x.body);
    expect(login?.type).toBe('application/x-www-form-urlencoded');
    expect(seen.filter((x) => x.path.startsWith('/apps')).every((x) => x.cookie === 'sid=abc')).toBe(true);
    expect(JSON.stringify(r)).not.toContain('Pa55-word!');
  });

  it('fails the op listing the failed probes, with the partial result; never shows the password', async () => {
    const lines: string[] = [];
    const err = await functionalTest(
      op([
        {
          kind: 'login',
          name: 'bad login',
          path: '/login',
          format: 'json',
          account: 'wrong',
          usernameField: 'user',
          passwordField: 'pass',
        },
        { kind: 'navigate', name: 'nav', pages: ['/home', '/apps/missing'] },
        { kind: 'http', name: 'status', path: '/nothing', expectStatus: 200 },
        { kind: 'launch', name: 'launch', command: 'launch-fail' },
        { kind: 'launch', name: 'hang', command: 'launch-hang', timeoutMs: 200 },
        { kind: 'launch', name: 'unknown', command: 'not-configured' },
        { kind: 'login', name: 'no account', path: '/login', account: 'ghost' },
        { kind: 'version', name: 'version', path: '/admin/version', field: 'version', expect: ['3.0'] },
        { kind: 'http', name: 'ok', path: '/login' },
      ]),
      ctx(lines),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpError);
    const r = (err as OpError).result as FunctionalTestResult;
    expect(r).toMatchObject({ passed: 2, failed: 7 });
    const msg = (err as Error).message;
    expect(msg).toMatch(
      /failed: 7 of 9 probes — bad login: login at \/login as student \(account wrong\) answered 401, expected 200/,
    );
    // Not logged in, /home and /apps/missing redirect to the login page, which answers 200.
    expect(r.probes.find((p) => p.name === 'nav')?.ok).toBe(true);
    expect(msg).toMatch(/status: GET \/nothing answered 404, expected 200/);
    expect(msg).toMatch(/launch: .* exited with code 2: no licence/);
    expect(msg).toMatch(/hang: .* did not finish within 200 ms/);
    expect(msg).toMatch(/unknown: this agent has no test command "not-configured"/);
    expect(msg).toMatch(/no account: this agent has no test account "ghost"/);
    expect(msg).toMatch(/version: version is "2\.0", expected one of "3\.0"/);
    // The server echoes the credentials in its 401 body; only the redactor (ops.ts) masks that —
    // here we check the probe itself never adds the password to a detail.
    const own = r.probes.map((p) => p.detail.replace(/body: .*$/, '')).join(' ');
    expect(own).not.toContain('nope-nope');
    expect(lines.some((l) => l.includes('probe "bad login" FAILED'))).toBe(true);
  });

  it('an unreachable base URL fails each probe with the cause', async () => {
    const f = createFunctionalTest({
      testAccounts: {},
      testCommands: {},
      baseEnv: {},
      cwd: process.cwd(),
      testHosts: ['127.0.0.1'],
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const o = actionOpSchema.parse({
      op: 'functionalTest',
      baseUrl: `http://127.0.0.1:${port}`,
      probes: [{ kind: 'http', name: 'home', path: '/' }],
      timeoutMs: 2000,
    }) as Extract<ActionOp, { op: 'functionalTest' }>;
    const err = (await f(o, ctx()).catch((e: unknown) => e)) as OpError;
    expect(err.message).toMatch(/home: fetch failed \(.*ECONNREFUSED/);
  });
});
