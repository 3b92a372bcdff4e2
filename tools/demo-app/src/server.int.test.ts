// The demo service as a real process: endpoints, sessions, failure injection and graceful SIGTERM
// that finishes in-flight work. (The database endpoints: database.int.test.ts.)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoServerPath } from './package-editions';
import { FatalWait, freePort, waitFor } from '@rollgate/test-kit';

function get(
  port: number,
  path: string,
  keepAlive = false,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string; connection?: string; setCookie?: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: keepAlive ? undefined : false,
        method: opts.method ?? 'GET',
        headers: opts.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            connection: res.headers.connection,
            setCookie: res.headers['set-cookie'],
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const post = (port: number, path: string, body: string, type: string) =>
  get(port, path, false, { method: 'POST', body, headers: { 'content-type': type } });

let dir: string;
let port: number;
let child: ChildProcess | undefined;
let output = '';

async function startDemo(extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['server.mjs'], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), SERVER_NAME: 'test-1', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  output = '';
  c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(
    'the demo-app to listen',
    () => {
      if (c.exitCode !== null) throw new FatalWait(`demo-app did not start: ${output}`);
      return output.includes('listening');
    },
    { timeoutMs: 10_000, everyMs: 20, diagnostics: () => `demo-app did not start: ${output}` },
  );
  return c;
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code)),
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'demo-app-'));
  await mkdir(dir, { recursive: true });
  await copyFile(demoServerPath(), join(dir, 'server.mjs'));
  await writeFile(join(dir, 'edition.json'), JSON.stringify({ name: '2.0' }));
  port = await freePort();
  child = await startDemo();
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('demo-app', () => {
  it('prints one line when listening', () => {
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toContain(`demo-app edition 2.0 listening on port ${port}`);
  });

  it('GET / answers edition, server and pid', async () => {
    const r = await get(port, '/');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ edition: '2.0', server: 'test-1', pid: child!.pid });
  });

  it('GET /health answers ok', async () => {
    expect(await get(port, '/health')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('GET /slow answers after the delay', async () => {
    const t = performance.now();
    const r = await get(port, '/slow?ms=300');
    expect(r.status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    expect(JSON.parse(r.body)).toMatchObject({ edition: '2.0', sleptMs: 300 });
  });

  it('GET /version answers edition and server', async () => {
    const r = await get(port, '/version');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ edition: '2.0', server: 'test-1' });
  });

  it('/apps and /admin need a session; POST /login (form or JSON) gives one', async () => {
    expect((await get(port, '/apps')).status).toBe(401);
    expect((await get(port, '/admin')).status).toBe(401);
    const wrong = await post(
      port,
      '/login',
      'username=demo&password=nope',
      'application/x-www-form-urlencoded',
    );
    expect(wrong.status).toBe(401);
    expect(wrong.setCookie).toBeUndefined();

    const form = await post(
      port,
      '/login',
      'username=demo&password=demo-password',
      'application/x-www-form-urlencoded',
    );
    expect(form.status).toBe(200);
    const cookie = form.setCookie![0]!.split(';')[0]!;
    expect(cookie).toMatch(/^demo_session=/);
    const jsonLogin = await post(
      port,
      '/login',
      JSON.stringify({ username: 'demo', password: 'demo-password' }),
      'application/json',
    );
    expect(jsonLogin.status).toBe(200);

    const headers = { cookie };
    const apps = await get(port, '/apps', false, { headers });
    expect(apps.status).toBe(200);
    expect(apps.body).toContain('Calculator');
    const admin = await get(port, '/admin', false, { headers });
    expect(admin.status).toBe(200);
    expect(admin.body).toContain('<span id="edition">2.0</span>');
    // A forged cookie is refused.
    expect(
      (await get(port, '/admin', false, { headers: { cookie: 'demo_session=demo.forged' } })).status,
    ).toBe(401);
    expect((await get(port, '/login')).status).toBe(200);
  });

  it('GET /items without a database answers 503 naming DATABASE_URL', async () => {
    const r = await get(port, '/items');
    expect(r.status).toBe(503);
    expect(r.body).toContain('DATABASE_URL');
  });

  it('SIGTERM: stops accepting, finishes the in-flight /slow, exits 0', async () => {
    const c = child!;
    // An idle keep-alive socket must not hold the shutdown open.
    await get(port, '/health', true);
    const inFlight = get(port, '/slow?ms=800');
    await new Promise((r) => setTimeout(r, 150));
    const t = performance.now();
    c.kill('SIGTERM');
    const code = exited(c);
    await new Promise((r) => setTimeout(r, 100));
    await expect(get(port, '/health')).rejects.toThrow(/ECONNREFUSED|ECONNRESET/);
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.connection).toBe('close');
    expect(await code).toBe(0);
    const took = performance.now() - t;
    expect(took).toBeGreaterThan(500); // waited for the request, did not cut it off
    expect(output).toContain('SIGTERM received');
  });

  it('DEMO_FAIL_EDITION naming this edition: exits 1 at start with a clear message', async () => {
    const c = spawn(process.execPath, ['server.mjs'], {
      cwd: dir,
      env: { ...process.env, PORT: String(await freePort()), DEMO_FAIL_EDITION: '2.0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    expect(await exited(c)).toBe(1);
    expect(err).toContain('failing at start on purpose (DEMO_FAIL_EDITION=2.0');
  });

  it('DEMO_FAIL_EDITION naming another edition: starts normally', async () => {
    port = await freePort();
    child = await startDemo({ DEMO_FAIL_EDITION: '1.0' });
    expect((await get(port, '/health')).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('reads rollgate.env.json from its working directory when env does not set a value', async () => {
    await writeFile(join(dir, 'rollgate.env.json'), JSON.stringify({ SERVER_NAME: 'from-file' }));
    port = await freePort();
    child = await startDemo({ SERVER_NAME: '' });
    expect(JSON.parse((await get(port, '/')).body).server).toBe('from-file');
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });
});
