import { describe, expect, it } from 'vitest';
import { CONSOLE_ACTOR, forwardToCoordinator } from './coordinator-proxy';
import { signIn, signOut } from './session-handlers';
import {
  addressFromForwardedFor,
  clearSessionCookie,
  isPlainLoopback,
  LOOPBACK_SESSION_COOKIE,
  readCookie,
  safeNext,
  sameOrigin,
  sessionCookie,
  SESSION_COOKIE,
  sessionToken,
} from './session';

const TOKEN = 'sess_0123456789abcdefABCDEF-_';
const BASE = 'http://127.0.0.1:7400';

function fakeFetch(respond: (url: string, init: RequestInit) => Response) {
  const seen: { url: string; headers: Headers; body: string | null }[] = [];
  const fn = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const body =
      typeof init.body === 'string'
        ? init.body
        : init.body
          ? new TextDecoder().decode(init.body as ArrayBuffer)
          : null;
    seen.push({ url: String(input), headers: new Headers(init.headers), body });
    return respond(String(input), init);
  }) as typeof fetch;
  return { fn, seen };
}

/** The attributes of one Set-Cookie value, lower-cased names. */
function attrs(setCookie: string): Record<string, string> {
  const [pair, ...rest] = setCookie.split(';').map((s) => s.trim());
  const out: Record<string, string> = { __pair: pair! };
  for (const a of rest) {
    const [k, v = ''] = a.split('=');
    out[k!.toLowerCase()] = v;
  }
  return out;
}

describe('the session cookie', () => {
  it('issue 17 item 11: is __Host-…; Secure; HttpOnly; SameSite=Strict, Path=/; only plain-HTTP loopback drops Secure', () => {
    const now = 1_000_000;
    const secure = attrs(sessionCookie(TOKEN, now + 3600_000, { secure: true, now }));
    expect(secure.__pair).toBe(`__Host-rollgate_session=${TOKEN}`);
    expect(secure).toMatchObject({ path: '/', secure: '', httponly: '', samesite: 'Strict' });
    expect('domain' in secure).toBe(false);
    const plain = attrs(sessionCookie(TOKEN, now + 3600_000, { secure: false, now }));
    expect(plain.__pair).toBe(`${LOOPBACK_SESSION_COOKIE}=${TOKEN}`);
    expect(plain).toMatchObject({ path: '/', 'max-age': '3600', httponly: '', samesite: 'Strict' });
    expect('secure' in plain).toBe(false);
    expect('secure' in attrs(sessionCookie(TOKEN, now + 1000, { secure: true, now }))).toBe(true);
    // An expiry in the past never gives a negative Max-Age.
    expect(attrs(sessionCookie(TOKEN, now - 5000, { secure: false, now }))['max-age']).toBe('0');
    const cleared = attrs(clearSessionCookie({ secure: true }));
    const at = (url: string, headers: Record<string, string>) => new Request(url, { headers });
    expect(isPlainLoopback(at('http://127.0.0.1:3000/', { host: '127.0.0.1:3000' }))).toBe(true);
    expect(isPlainLoopback(at('http://localhost:3000/', { host: 'localhost:3000' }))).toBe(true);
    expect(isPlainLoopback(at('http://console.test/', { host: 'console.test' }))).toBe(false);
    expect(
      isPlainLoopback(at('http://127.0.0.1/', { host: '127.0.0.1', 'x-forwarded-proto': 'https' })),
    ).toBe(false);
    // The loopback cookie is read only where it can be set.
    const cookie = { cookie: `${LOOPBACK_SESSION_COOKIE}=${TOKEN}` };
    expect(sessionToken(at('http://127.0.0.1/', { host: '127.0.0.1', ...cookie }))).toBe(TOKEN);
    expect(sessionToken(at('https://console.test/', { host: 'console.test', ...cookie }))).toBeNull();
    expect(cleared).toMatchObject({ __pair: `${SESSION_COOKIE}=`, 'max-age': '0', httponly: '', path: '/' });
  });

  it('is read from a Cookie header among others', () => {
    expect(readCookie(`a=1; ${SESSION_COOKIE}=${TOKEN}; b=2`, SESSION_COOKIE)).toBe(TOKEN);
    expect(readCookie('a=1', SESSION_COOKIE)).toBeNull();
    expect(readCookie(null, SESSION_COOKIE)).toBeNull();
    expect(readCookie(`${SESSION_COOKIE}=%E0%A4%A`, SESSION_COOKIE)).toBeNull();
  });

  it('takes the nearest hop of x-forwarded-for, valid addresses only', () => {
    expect(addressFromForwardedFor('203.0.113.9')).toBe('203.0.113.9');
    expect(addressFromForwardedFor('198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
    expect(addressFromForwardedFor('::ffff:127.0.0.1')).toBe('::ffff:127.0.0.1');
    expect(addressFromForwardedFor('evil\r\nx: y')).toBeNull();
    expect(addressFromForwardedFor('')).toBeNull();
    expect(addressFromForwardedFor(null)).toBeNull();
  });

  it('returns only to console pages after signing in', () => {
    expect(safeNext('/runs/r1?x=1')).toBe('/runs/r1?x=1');
    for (const bad of [
      'https://evil.example',
      '//evil.example',
      '/\\evil',
      '/login',
      '/portal/t',
      '/api/x',
      '',
      null,
    ]) {
      expect(safeNext(bad)).toBe('/fleet');
    }
  });

  it('refuses a cross-site sign-in', () => {
    const req = (h: Record<string, string>) =>
      new Request('http://console.test/api/session', { method: 'POST', headers: h });
    expect(sameOrigin(req({ host: 'console.test', origin: 'http://console.test' }))).toBe(true);
    expect(sameOrigin(req({ host: 'console.test', origin: 'https://evil.example' }))).toBe(false);
    expect(sameOrigin(req({ host: 'console.test', 'sec-fetch-site': 'cross-site' }))).toBe(false);
    expect(sameOrigin(req({ host: 'console.test' }))).toBe(true);
    // issue 17 item 11: a sibling site is not this origin either.
    expect(sameOrigin(req({ host: 'console.test', 'sec-fetch-site': 'same-site' }))).toBe(false);
    expect(
      sameOrigin(
        req({ host: 'console.test', origin: 'http://console.test', 'sec-fetch-site': 'same-origin' }),
      ),
    ).toBe(true);
  });
});

describe('the proxy turns the session cookie into a bearer token', () => {
  const ok = () => Response.json({ result: { data: [] } });

  it('sends Authorization: Bearer and the browser address, and no cookie at all', async () => {
    const up = fakeFetch(ok);
    const req = new Request('http://console/api/trpc/servers.list?input=%7B%7D', {
      headers: {
        cookie: `other=zzz; ${SESSION_COOKIE}=${TOKEN}; theme=dark`,
        'x-forwarded-for': '203.0.113.7',
        authorization: 'Bearer from-page-js',
      },
    });
    const res = await forwardToCoordinator(req, 'servers.list', { coordinatorUrl: BASE, fetch: up.fn });
    expect(res.status).toBe(200);
    const h = up.seen[0]!.headers;
    expect(h.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(h.get('cookie')).toBeNull();
    expect(h.get('x-forwarded-for')).toBe('203.0.113.7');
    expect(h.get('x-rollgate-actor')).toBe(CONSOLE_ACTOR);
    // Nothing of the token comes back to the page.
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(JSON.stringify([...res.headers])).not.toContain(TOKEN);
  });

  it('sends no Authorization without a session (and ignores one the page sets itself)', async () => {
    const up = fakeFetch(ok);
    await forwardToCoordinator(
      new Request('http://console/api/trpc/servers.list', { headers: { authorization: `Bearer ${TOKEN}` } }),
      'servers.list',
      { coordinatorUrl: BASE, fetch: up.fn },
    );
    expect(up.seen[0]!.headers.get('authorization')).toBeNull();
    expect(up.seen[0]!.headers.get('x-forwarded-for')).toBeNull();
  });

  it('never attaches the session to the portal procedures', async () => {
    const up = fakeFetch(ok);
    await forwardToCoordinator(
      new Request('http://console/api/trpc/portal.view?input=x', {
        headers: { cookie: `${SESSION_COOKIE}=${TOKEN}`, 'x-forwarded-for': '198.51.100.4' },
      }),
      'portal.view',
      { coordinatorUrl: BASE, fetch: up.fn },
    );
    expect(up.seen[0]!.headers.get('authorization')).toBeNull();
    expect(up.seen[0]!.headers.get('x-forwarded-for')).toBe('198.51.100.4');
  });

  it('drops the cookie when the coordinator no longer knows the session', async () => {
    const up = fakeFetch(() =>
      Response.json(
        {
          error: { message: 'Sign in first', code: -32001, data: { code: 'UNAUTHORIZED', httpStatus: 401 } },
        },
        { status: 401 },
      ),
    );
    const res = await forwardToCoordinator(
      new Request('https://console/api/trpc/servers.list', {
        headers: { cookie: `${SESSION_COOKIE}=${TOKEN}` },
      }),
      'servers.list',
      { coordinatorUrl: BASE, fetch: up.fn },
    );
    expect(res.status).toBe(401);
    const cleared = attrs(res.headers.get('set-cookie')!);
    expect(cleared).toMatchObject({ __pair: `${SESSION_COOKIE}=`, 'max-age': '0', samesite: 'Strict' });
    expect('secure' in cleared).toBe(true);
  });

  it('refuses sign-in and bootstrap through the proxy (their answers hold a token)', async () => {
    const up = fakeFetch(ok);
    for (const p of ['auth.login', 'auth.bootstrap']) {
      const res = await forwardToCoordinator(
        new Request(`http://console/api/trpc/${p}`, { method: 'POST', body: '{}' }),
        p,
        { coordinatorUrl: BASE, fetch: up.fn },
      );
      expect(res.status).toBe(403);
    }
    expect(up.seen).toHaveLength(0);
  });
});

describe('sign-in and sign-out (app/api/session)', () => {
  const login = (body: unknown, headers: Record<string, string> = {}) =>
    new Request('http://console.test/api/session', {
      method: 'POST',
      headers: {
        host: 'console.test',
        origin: 'http://console.test',
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(body),
    });

  it('signs in through the coordinator and sets the cookie; the page never gets the token', async () => {
    const now = 5_000_000;
    const up = fakeFetch(() =>
      Response.json({
        result: {
          data: {
            token: TOKEN,
            user: { id: 'u1', username: 'ann', role: 'operator' },
            expiresAt: now + 7200_000,
          },
        },
      }),
    );
    const res = await signIn(
      login({ username: ' ann ', password: 'correct horse battery' }, { 'x-forwarded-for': '203.0.113.5' }),
      {
        coordinatorUrl: BASE,
        fetch: up.fn,
        now: () => now,
      },
    );
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).not.toContain(TOKEN);
    expect(JSON.parse(body)).toMatchObject({ ok: true, user: { username: 'ann', role: 'operator' } });
    const c = attrs(res.headers.get('set-cookie')!);
    // console.test is not loopback: Secure and host-bound, even over plain HTTP.
    expect(c).toMatchObject({
      __pair: `${SESSION_COOKIE}=${TOKEN}`,
      httponly: '',
      samesite: 'Strict',
      path: '/',
      secure: '',
      'max-age': '7200',
    });
    expect(up.seen[0]!.url).toBe(`${BASE}/trpc/auth.login`);
    expect(JSON.parse(up.seen[0]!.body!)).toEqual({ username: 'ann', password: 'correct horse battery' });
    expect(up.seen[0]!.headers.get('x-forwarded-for')).toBe('203.0.113.5');
    expect(up.seen[0]!.headers.get('authorization')).toBeNull();
  });

  it('marks the cookie Secure when the console is reached over https', async () => {
    const up = fakeFetch(() =>
      Response.json({
        result: {
          data: { token: TOKEN, user: { username: 'a', role: 'viewer' }, expiresAt: Date.now() + 60_000 },
        },
      }),
    );
    const res = await signIn(
      login(
        { username: 'a', password: 'b' },
        { 'x-forwarded-proto': 'https', origin: 'https://console.test' },
      ),
      {
        coordinatorUrl: BASE,
        fetch: up.fn,
      },
    );
    expect('secure' in attrs(res.headers.get('set-cookie')!)).toBe(true);
  });

  it('says why a sign-in failed: wrong credentials, rate limit (with the seconds), coordinator unreachable', async () => {
    const err = (code: string, message: string, httpStatus: number) => () =>
      Response.json({ error: { message, code: -1, data: { code, httpStatus } } }, { status: httpStatus });
    const wrong = await signIn(login({ username: 'a', password: 'b' }), {
      coordinatorUrl: BASE,
      fetch: fakeFetch(err('UNAUTHORIZED', 'Wrong user name or password.', 401)).fn,
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.json()).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHORIZED', message: 'Wrong user name or password.' },
    });

    const limited = await signIn(login({ username: 'a', password: 'b' }), {
      coordinatorUrl: BASE,
      fetch: fakeFetch(
        err('TOO_MANY_REQUESTS', 'Too many failed sign-ins for "a" from 127.0.0.1; try again in 42 s.', 429),
      ).fn,
    });
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ error: { code: 'TOO_MANY_REQUESTS', retryAfterSec: 42 } });

    const down = await signIn(login({ username: 'a', password: 'b' }), {
      coordinatorUrl: 'http://127.0.0.1:1',
      fetch: (async () => {
        throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
      }) as typeof fetch,
    });
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({
      error: { code: 'UNREACHABLE', message: expect.stringContaining('ECONNREFUSED') },
    });
  });

  it('refuses an empty form and a cross-site sign-in without calling the coordinator', async () => {
    const up = fakeFetch(() => new Response('no'));
    expect(
      (await signIn(login({ username: '', password: '' }), { coordinatorUrl: BASE, fetch: up.fn })).status,
    ).toBe(400);
    expect(
      (
        await signIn(login({ username: 'a', password: 'b' }, { origin: 'https://evil.example' }), {
          coordinatorUrl: BASE,
          fetch: up.fn,
        })
      ).status,
    ).toBe(403);
    expect(up.seen).toHaveLength(0);
  });

  it('signs out: ends the session at the coordinator and clears the cookie', async () => {
    const up = fakeFetch(() => Response.json({ result: { data: { ok: true } } }));
    const res = await signOut(
      new Request('http://console.test/api/session', {
        method: 'DELETE',
        headers: {
          host: 'console.test',
          origin: 'http://console.test',
          cookie: `${SESSION_COOKIE}=${TOKEN}`,
        },
      }),
      { coordinatorUrl: BASE, fetch: up.fn },
    );
    expect(res.status).toBe(200);
    expect(up.seen[0]!.url).toBe(`${BASE}/trpc/auth.logout`);
    expect(up.seen[0]!.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(attrs(res.headers.get('set-cookie')!)).toMatchObject({ 'max-age': '0', httponly: '' });
  });
});
