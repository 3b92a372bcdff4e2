// The coordinator's HTTP surface against an attacker with a plain HTTP client (issue 17 items 6, 7
// and 8): real coordinator processes on real PostgreSQL. One coordinator starts fresh (no account)
// and trusts only 127.0.0.2 as its proxy, so this test's ordinary loopback connections (from
// 127.0.0.1) are an untrusted peer and connections bound to 127.0.0.2 are the trusted proxy. Two
// more coordinators share one database, for the shared sign-in budget.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request, createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from '@rollgate/db';
import {
  appNodeArgs,
  cliNodeArgs,
  FatalWait,
  freePort,
  ROOT,
  startFleet,
  waitFor,
  type Fleet,
} from '@rollgate/demo-fleet';
import { seedFromTemplate } from '@rollgate/test-kit';

interface Answer {
  status: number;
  body: {
    result?: { data: unknown };
    error?: { message: string; data: { code: string; httpStatus: number } };
  };
}

/** One raw HTTP call: the attacker picks every header, and the address it connects from. */
function call(
  base: string,
  path: string,
  opts: {
    method?: 'GET' | 'POST';
    body?: string;
    headers?: Record<string, string>;
    localAddress?: string;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
        headers: { 'content-type': 'application/json', ...opts.headers },
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Answer['body'] });
          } catch {
            reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const login = (base: string, username: string, password: string, extra: Parameters<typeof call>[2] = {}) =>
  call(base, '/trpc/auth.login', { ...extra, body: JSON.stringify({ username, password }) });

/** The process's peak resident memory (VmHWM), bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Sends `total` bytes as a chunked body (no Content-Length), as fast as the server takes them. */
function streamBody(
  base: string,
  path: string,
  total: number,
): Promise<{ status: number; sent: number; message: string }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = false;
    const req = request(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const pump = () => {
      while (!done && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!done) req.end();
    };
    req.on('response', (res) => {
      done = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const message = (JSON.parse(text) as Answer['body']).error?.message ?? text;
        resolve({ status: res.statusCode ?? 0, sent, message });
        req.destroy();
      });
    });
    req.on('error', (err) => (done ? undefined : reject(err)));
    pump();
  });
}

describe('a fresh coordinator that trusts only 127.0.0.2 as a proxy', { timeout: 180_000 }, () => {
  let dir: string;
  let dataDir: string;
  let base: string;
  let proc: ChildProcess;
  let logFile: string;
  let sameHostProxy: Server;
  let proxyBase: string;
  let adminToken = '';
  const PASSWORD = 'first admin password 42';

  /** The real CLI through the same-host proxy, the password on standard input. */
  function rollgate(args: string[], env: Record<string, string> = {}) {
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        cliNodeArgs(['--url', proxyBase, ...args]),
        { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, ...env } },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(`${PASSWORD}\n`);
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-http-trust-'));
    dataDir = join(dir, 'coordinator');
    // The run's PostgreSQL cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    logFile = join(dir, 'coordinator.log');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const out = createWriteStream(logFile);
    proc = spawn(process.execPath, appNodeArgs('coordinator'), {
      cwd: ROOT,
      env: {
        ...process.env,
        ROLLGATE_DATA_DIR: dataDir,
        ROLLGATE_HTTP_PORT: String(port),
        ROLLGATE_GRPC_PORT: String(await freePort()),
        ROLLGATE_ENROL_PORT: String(await freePort()),
        ROLLGATE_TRUSTED_PROXIES: '127.0.0.2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    await waitFor(
      'the coordinator to answer /healthz',
      async () => {
        if (proc.exitCode !== null) throw new FatalWait(`the coordinator exited; see ${logFile}`);
        return (await fetch(`${base}/healthz`)).ok;
      },
      90_000,
    );
    // A reverse proxy on the coordinator's own machine, forwarding everything as it came: every
    // caller reaches the coordinator from loopback through it.
    sameHostProxy = createServer((req, res) => {
      const up = request(
        `${base}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: new URL(base).host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      req.pipe(up);
    });
    const proxyPort = await freePort();
    await new Promise<void>((r) => sameHostProxy.listen(proxyPort, '127.0.0.1', r));
    proxyBase = `http://127.0.0.1:${proxyPort}`;
  });

  afterAll(async () => {
    sameHostProxy?.close();
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('issue 17 item 6: admin init without the bootstrap secret is refused even from loopback through a proxy; with it, accepted once', async () => {
    const secretFile = join(dataDir, 'bootstrap-secret');
    expect((await stat(secretFile)).mode & 0o777).toBe(0o600);
    const secret = (await readFile(secretFile, 'utf8')).trim();
    const init = (extra: Record<string, string> = {}) =>
      call(proxyBase, '/trpc/auth.bootstrap', {
        body: JSON.stringify({ username: 'root', password: PASSWORD, ...extra }),
      });
    const without = await init();
    expect(without.status).toBe(403);
    expect(without.body.error?.message).toMatch(
      /needs the one-time bootstrap secret in .*bootstrap-secret on the coordinator's machine/,
    );
    expect((await init({ bootstrapSecret: 'x'.repeat(43) })).status).toBe(403);
    // The real CLI, on another machine's terms (no secret file where it looks), is refused too.
    const elsewhere = await rollgate(['admin', 'init', '--username', 'root'], {
      ROLLGATE_DATA_DIR: join(dir, 'not-the-coordinator'),
    });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/needs the one-time bootstrap secret/);
    // With the secret file (as on the coordinator's machine), once.
    const withSecret = await rollgate([
      'admin',
      'init',
      '--username',
      'root',
      '--bootstrap-secret-file',
      secretFile,
    ]);
    expect(withSecret.stderr).toBe('');
    expect(withSecret.stdout).toMatch(/Created the first administrator, root\./);
    // Consumed: the file is gone and the secret opens nothing any more.
    await expect(stat(secretFile)).rejects.toThrow(/ENOENT/);
    const again = await init({ bootstrapSecret: secret });
    expect(again.status).toBe(409);
    expect(again.body.error?.message).toMatch(/An administrator already exists/);
    const log = await readFile(logFile, 'utf8');
    expect(log).toContain('bootstrap-secret');
    expect(log).not.toContain(secret);
    const signedIn = await login(base, 'root', PASSWORD);
    adminToken = (signedIn.body.result!.data as { token: string }).token;
  });

  it('issue 17 item 6: a forged X-Forwarded-For from an untrusted peer is ignored (rate-limit bucket and audit "from"); the trusted proxy is believed', async () => {
    const tries: Answer[] = [];
    for (let i = 0; i < 6; i++) {
      tries.push(
        await login(base, 'root', 'wrong password!!', {
          headers: { 'x-forwarded-for': `198.51.100.${i + 1}` },
        }),
      );
    }
    expect(tries.slice(0, 4).map((t) => t.status)).toEqual([401, 401, 401, 401]);
    // One bucket, the real peer's: the 5th failure is the last of the budget.
    expect(tries[4]!.status).toBe(429);
    expect(tries[4]!.body.error?.message).toMatch(/Too many failed sign-ins for "root" from 127\.0\.0\.1;/);
    expect(tries[5]!.status).toBe(429);

    const auth = { authorization: `Bearer ${adminToken}` };
    const joinToken = (headers: Record<string, string>, localAddress?: string) =>
      call(base, '/trpc/agents.createJoinToken', {
        body: JSON.stringify({ ttlSeconds: 60, cluster: 'trust-test' }),
        headers: { ...auth, ...headers },
        ...(localAddress ? { localAddress } : {}),
      });
    const lastFrom = async () => {
      const audit = await call(base, '/trpc/audit.list', { headers: auth });
      const entries = audit.body.result!.data as { action: string; details: { from?: string } }[];
      const latest = entries.filter((e) => e.action.includes('token')).at(0);
      return latest?.details.from;
    };
    expect((await joinToken({ 'x-forwarded-for': '203.0.113.66' })).status).toBe(200);
    expect(await lastFrom()).toBe('127.0.0.1');
    // The trusted proxy's word is taken: its rightmost entry (not the client's own claim before it).
    expect((await joinToken({ 'x-forwarded-for': '6.6.6.6, 203.0.113.77' }, '127.0.0.2')).status).toBe(200);
    expect(await lastFrom()).toBe('203.0.113.77');
    // And the sign-in budget follows the forwarded address, not the proxy's.
    const viaProxy = await login(base, 'root', PASSWORD, {
      headers: { 'x-forwarded-for': '203.0.113.77' },
      localAddress: '127.0.0.2',
    });
    expect(viaProxy.status).toBe(200);
  });

  it('issue 17 item 6: a foreign Host (DNS rebinding) is refused with a clear 421', async () => {
    const res = await call(base, '/trpc/auth.login', {
      body: JSON.stringify({ username: 'root', password: PASSWORD }),
      headers: { host: 'attacker.example:80' },
    });
    expect(res.status).toBe(421);
    expect(res.body.error?.message).toMatch(
      /does not answer to the host name "attacker.example:80".*ROLLGATE_ALLOWED_HOSTS/,
    );
    expect(
      (await call(base, '/trpc/health', { headers: { host: `localhost:${new URL(base).port}` } })).status,
    ).toBe(200);
  });

  it('issue 17 item 7: a batch holding a sign-in is refused as a whole', async () => {
    const creds = { username: 'root', password: 'wrong password!!' };
    const res = await call(base, '/trpc/auth.login,auth.login?batch=1', {
      body: JSON.stringify({ 0: creds, 1: creds }),
      localAddress: '127.0.0.2',
      headers: { 'x-forwarded-for': '192.0.2.50' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toMatch(/"auth.login" cannot be batched/);
  });

  it('issue 17 item 8: an oversized anonymous body is refused with 413 before it is buffered', async () => {
    const declared = await call(base, '/trpc/auth.login', {
      body: JSON.stringify({ username: 'root', password: 'p'.repeat(20_000) }),
    });
    expect(declared.status).toBe(413);
    expect(declared.body.error?.message).toMatch(/larger than 16 KiB, the most "auth.login" takes/);
    const before = await peakRss(proc.pid!);
    const total = 160 * 1024 * 1024;
    for (const path of ['/trpc/auth.login', '/trpc/portal.view']) {
      const streamed = await streamBody(base, path, total);
      expect(streamed.status).toBe(413);
      expect(streamed.message).toMatch(/larger than 16 KiB/);
    }
    // The coordinator read at most a little of the 160 MiB bodies: its peak memory barely moved.
    expect((await peakRss(proc.pid!)) - before).toBeLessThan(32 * 1024 * 1024);
    expect((await fetch(`${base}/healthz`)).ok).toBe(true);
  });
});

describe('two coordinators on one PostgreSQL', { timeout: 240_000 }, () => {
  let dir: string;
  let db: RollgateDb;
  let fleet: Fleet;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-http-budget-'));
    db = createDb({ dataDir: join(dir, 'shared-db') });
    await db.start();
    fleet = await startFleet({
      dir,
      agents: [],
      editions: ['1.0'],
      coordinators: 2,
      coordinatorEnv: { DATABASE_URL: db.url },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('issue 17 item 7: 30 concurrent failed sign-ins over both coordinators: at most the budget is tried, the rest get 429', async () => {
    const [a, b] = fleet.coordinators.map((c) => c.url) as [string, string];
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(i % 2 ? b : a, 'admin', `wrong password ${i}!!`)),
    );
    const statuses = answers.map((r) => r.status);
    // Budget 5 per name and address: 4 plain refusals, the 5th says the budget is spent. One
    // process each would have allowed 4 + 4.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(4);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(26);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    // Locked on both: even the right password waits.
    for (const url of [a, b]) expect((await login(url, 'admin', fleet.admin.password)).status).toBe(429);
  });
});
