/**
 * The BUILT console (`next start`) against an HTTP attacker (issue 17 items 6, 8 and 11), with a
 * real coordinator behind it: a forged X-Forwarded-For does not reach the coordinator's rate limit,
 * an oversized body without a session is refused before the console reads it, a cross-origin POST
 * is refused, and the session cookie is `__Host-…; Secure` except on plain-HTTP loopback.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertConsoleBuilt, startNextConsole, stopNextConsole } from './next-console';
import { freePort, startFleet, type Fleet } from '@rollgate/demo-fleet';

/** Peak resident memory (VmHWM) of a process and all its descendants, bytes. */
async function treePeakRss(pid: number): Promise<number> {
  let total = 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  total += Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const children = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const child of children.split(/\s+/).filter(Boolean)) total += await treePeakRss(Number(child));
  }
  return total;
}

interface Answer {
  status: number;
  setCookie: string[];
  text: string;
}

function post(url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            setCookie: res.headers['set-cookie'] ?? [],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `total` bytes as a chunked POST body, stopping as soon as an answer arrives. */
function streamBody(url: string, total: number, headers: Record<string, string>) {
  return new Promise<{ status: number; text: string; sent: number }>((resolve, reject) => {
    let sent = 0;
    let done = false;
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers },
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
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), sent });
        req.destroy();
      });
    });
    req.on('error', (err) => (done ? undefined : reject(err)));
    pump();
  });
}

describe('the console against an HTTP attacker', { timeout: 240_000 }, () => {
  let dir: string;
  let fleet: Fleet;
  let next: ChildProcess | null = null;
  let base: string;
  let port: number;

  beforeAll(async () => {
    assertConsoleBuilt();
    dir = await mkdtemp(join(tmpdir(), 'rollgate-console-trust-'));
    [fleet, port] = await Promise.all([startFleet({ dir, agents: [], editions: ['1.0'] }), freePort()]);
    base = `http://127.0.0.1:${port}`;
    next = await startNextConsole({ coordinatorUrl: fleet.url, port, timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await stopNextConsole(next);
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const signIn = (password: string, headers: Record<string, string> = {}) =>
    post(`${base}/api/session`, JSON.stringify({ username: 'admin', password }), {
      origin: base,
      ...headers,
    });

  it('issue 17 item 11: the session cookie is __Host-…; Secure; HttpOnly; SameSite=Strict, except on plain-HTTP loopback', async () => {
    const host = `console.example:${port}`;
    // A forged X-Forwarded-Host naming loopback is dropped: the browser's Host decides.
    const named = await signIn(fleet.admin.password, {
      host,
      origin: `http://${host}`,
      'x-forwarded-host': `127.0.0.1:${port}`,
    });
    expect(named.status).toBe(200);
    const cookie = named.setCookie.join('\n');
    expect(cookie).toMatch(
      /^__Host-rollgate_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/,
    );
    expect(cookie).not.toMatch(/Domain=/i);

    const loopback = await signIn(fleet.admin.password);
    expect(loopback.status).toBe(200);
    expect(loopback.setCookie.join('\n')).toMatch(
      /^rollgate_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
    );
    // The loopback cookie works there: the console's API proxy turns it into the session.
    const token = /^rollgate_session=([^;]+)/.exec(loopback.setCookie[0]!)![1]!;
    const who = await fetch(`${base}/api/trpc/auth.whoami`, {
      headers: { cookie: `rollgate_session=${token}` },
    });
    expect(who.status).toBe(200);
  });

  it('issue 17 item 11: a cross-origin POST is refused, a same-origin one goes through', async () => {
    const body = JSON.stringify({ runId: 'no-such-run' });
    const cross = await post(`${base}/api/trpc/upgrade.pause`, body, { origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.text).toMatch(/A cross-origin request to \\"upgrade.pause\\" was refused/);
    const sibling = await post(`${base}/api/trpc/upgrade.pause`, body, { 'sec-fetch-site': 'same-site' });
    expect(sibling.status).toBe(403);
    const crossSignIn = await signIn(fleet.admin.password, { origin: 'https://evil.example' });
    expect(crossSignIn.status).toBe(403);
    expect(crossSignIn.setCookie).toEqual([]);
    // Same origin, no session: it reaches the coordinator, which asks for a sign-in.
    const same = await post(`${base}/api/trpc/upgrade.pause`, body, { origin: base });
    expect(same.status).toBe(401);
  });

  it('issue 17 item 8: an oversized body without a session is refused with 413 before the console buffers it', async () => {
    const declared = await post(`${base}/api/trpc/upgrade.pause`, 'x'.repeat(20_000), { origin: base });
    expect(declared.status).toBe(413);
    expect(declared.text).toMatch(/larger than 16 KiB, the most \\"upgrade.pause\\" takes without a session/);
    const before = await treePeakRss(next!.pid!);
    const streamed = await streamBody(`${base}/api/trpc/upgrade.pause`, 160 * 1024 * 1024, { origin: base });
    expect(streamed.status).toBe(413);
    // The console read a little of the 160 MiB body, never the whole: its peak memory barely moved.
    expect((await treePeakRss(next!.pid!)) - before).toBeLessThan(32 * 1024 * 1024);
    expect((await fetch(`${base}/api/trpc/health`)).ok).toBe(true);
  });

  it("issue 17 item 6: a browser's own X-Forwarded-For never reaches the coordinator's rate limit", async () => {
    const tries: Answer[] = [];
    for (let i = 0; i < 5; i++) {
      tries.push(
        await post(
          `${base}/api/session`,
          JSON.stringify({ username: 'nobody-here', password: 'wrong password!!' }),
          {
            origin: base,
            'x-forwarded-for': `198.51.100.${i + 10}`,
          },
        ),
      );
    }
    expect(tries.slice(0, 4).map((t) => t.status)).toEqual([401, 401, 401, 401]);
    // One bucket, the browser's real address (the console replaced the forged header).
    expect(tries[4]!.status).toBe(429);
    expect(tries[4]!.text).toMatch(/Too many failed sign-ins for \\"nobody-here\\" from 127\.0\.0\.1;/);
  });
});
