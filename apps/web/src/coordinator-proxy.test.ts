import { describe, expect, it } from 'vitest';
import { CONSOLE_ACTOR, forwardToCoordinator } from './coordinator-proxy';
import { parseEnv } from './env';

interface Seen {
  url: string;
  method: string;
  headers: Headers;
  body: string | null;
}

function fakeFetch(respond: () => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const fn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const body = init?.body ? new TextDecoder().decode(init.body as ArrayBuffer) : null;
    seen.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body,
    });
    return respond();
  }) as typeof fetch;
  return { fn, seen };
}

const BASE = 'http://127.0.0.1:7400';

describe('forwardToCoordinator', () => {
  it('forwards a GET with its query string and passes status and body through', async () => {
    const upstream = fakeFetch(() =>
      Response.json({ result: { data: { ok: true, version: '1.0.0' } } }, { status: 200 }),
    );
    const req = new Request('http://console/api/trpc/upgrade.status?input=%7B%22runId%22%3A%22r1%22%7D', {
      headers: { cookie: 'secret=1', accept: 'application/json' },
    });
    const res = await forwardToCoordinator(req, 'upgrade.status', {
      coordinatorUrl: `${BASE}/`,
      fetch: upstream.fn,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: { data: { ok: true, version: '1.0.0' } } });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const [call] = upstream.seen;
    expect(call?.url).toBe(`${BASE}/trpc/upgrade.status?input=%7B%22runId%22%3A%22r1%22%7D`);
    expect(call?.headers.get('x-rollgate-actor')).toBe(CONSOLE_ACTOR);
    expect(call?.headers.get('accept')).toBe('application/json');
    // The browser's cookies are not the coordinator's business.
    expect(call?.headers.get('cookie')).toBeNull();
  });

  it('forwards a POST body and passes an error status through untouched', async () => {
    const body = {
      error: { message: 'No run "x".', code: -32004, data: { code: 'NOT_FOUND', httpStatus: 404 } },
    };
    const upstream = fakeFetch(() => Response.json(body, { status: 404 }));
    const req = new Request('http://console/api/trpc/upgrade.pause', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runId: 'x' }),
    });
    const res = await forwardToCoordinator(req, 'upgrade.pause', {
      coordinatorUrl: BASE,
      fetch: upstream.fn,
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(body);
    expect(upstream.seen[0]).toMatchObject({ method: 'POST', body: '{"runId":"x"}' });
    expect(upstream.seen[0]?.headers.get('content-type')).toBe('application/json');
  });

  it('refuses paths that are not a procedure name, without calling upstream', async () => {
    const upstream = fakeFetch(() => new Response('should not happen'));
    for (const bad of ['../admin', 'a/b', 'upgrade..status', '', 'x%2F']) {
      const res = await forwardToCoordinator(new Request('http://console/api/trpc/x'), bad, {
        coordinatorUrl: BASE,
        fetch: upstream.fn,
      });
      expect(res.status).toBe(404);
    }
    expect(upstream.seen).toHaveLength(0);
  });

  it('answers 502 in tRPC shape when the coordinator cannot be reached', async () => {
    const refused = fakeFetch(() => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7400'), { code: 'ECONNREFUSED' }),
      });
    });
    const res = await forwardToCoordinator(new Request('http://console/api/trpc/health'), 'health', {
      coordinatorUrl: BASE,
      fetch: refused.fn,
    });
    expect(res.status).toBe(502);
    const json = (await res.json()) as {
      error: { message: string; data: { code: string; httpStatus: number } };
    };
    expect(json.error.data).toMatchObject({ code: 'BAD_GATEWAY', httpStatus: 502 });
    expect(json.error.message).toBe(
      'Cannot reach the coordinator at http://127.0.0.1:7400: connect ECONNREFUSED 127.0.0.1:7400. Start it with `npm start`, or point COORDINATOR_URL at it.',
    );
  });

  it('answers 504 when the coordinator does not answer in time', async () => {
    const slow = fakeFetch(() => {
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    });
    const res = await forwardToCoordinator(new Request('http://console/api/trpc/health'), 'health', {
      coordinatorUrl: BASE,
      fetch: slow.fn,
      timeoutMs: 15_000,
    });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'did not answer within 15 s',
    );
  });
});

describe('forwardToCoordinator: subscriptions (SSE)', () => {
  const sseRequest = (signal?: AbortSignal) =>
    new Request('http://console/api/trpc/upgrade.watch?input=%7B%22runId%22%3A%22r1%22%7D', {
      headers: { accept: 'text/event-stream', 'last-event-id': '7', cookie: 'secret=1' },
      signal,
    });

  it('streams the body through unbuffered, with headers that stop compression and proxy buffering', async () => {
    let push: (s: string) => void = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (s) => controller.enqueue(new TextEncoder().encode(s));
      },
    });
    let init: RequestInit | undefined;
    const fetchFn = (async (_url: RequestInfo | URL, i?: RequestInit) => {
      init = i;
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    }) as typeof fetch;
    const res = await forwardToCoordinator(sseRequest(), 'upgrade.watch', {
      coordinatorUrl: BASE,
      fetch: fetchFn,
      timeoutMs: 50,
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const headers = new Headers(init?.headers);
    expect(headers.get('accept')).toBe('text/event-stream');
    expect(headers.get('last-event-id')).toBe('7');
    expect(headers.get('cookie')).toBeNull();

    // Each event reaches the reader as the coordinator writes it, long after the query timeout.
    const reader = res.body!.getReader();
    push('data: {"id":1}\n\n');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: {"id":1}\n\n');
    await new Promise((r) => setTimeout(r, 120));
    expect(init?.signal?.aborted).toBe(false);
    push('data: {"id":2}\n\n');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: {"id":2}\n\n');
    await reader.cancel();
  });

  it('has no deadline, but the browser leaving cancels the upstream call', async () => {
    let init: RequestInit | undefined;
    const fetchFn = (async (_url: RequestInfo | URL, i?: RequestInit) => {
      init = i;
      return new Response('', { headers: { 'content-type': 'text/event-stream' } });
    }) as typeof fetch;
    const browser = new AbortController();
    await forwardToCoordinator(sseRequest(browser.signal), 'upgrade.watch', {
      coordinatorUrl: BASE,
      fetch: fetchFn,
      timeoutMs: 10,
    });
    await new Promise((r) => setTimeout(r, 40));
    expect(init?.signal?.aborted).toBe(false);
    browser.abort();
    expect(init?.signal?.aborted).toBe(true);
  });

  it('still refuses a path that is not a procedure, and a query keeps its timeout', async () => {
    const upstream = fakeFetch(() => new Response('no'));
    const res = await forwardToCoordinator(sseRequest(), '../upgrade.watch', {
      coordinatorUrl: BASE,
      fetch: upstream.fn,
    });
    expect(res.status).toBe(404);
    expect(upstream.seen).toHaveLength(0);

    let init: RequestInit | undefined;
    const fetchFn = (async (_url: RequestInfo | URL, i?: RequestInit) => {
      init = i;
      return Response.json({ result: { data: null } });
    }) as typeof fetch;
    await forwardToCoordinator(new Request('http://console/api/trpc/health'), 'health', {
      coordinatorUrl: BASE,
      fetch: fetchFn,
      timeoutMs: 10,
    });
    await new Promise((r) => setTimeout(r, 40));
    expect(init?.signal?.aborted).toBe(true);
  });
});

describe('parseEnv', () => {
  it('defaults COORDINATOR_URL and strips a trailing slash', () => {
    expect(parseEnv({}).coordinatorUrl).toBe('http://127.0.0.1:7400');
    expect(parseEnv({ COORDINATOR_URL: '' }).coordinatorUrl).toBe('http://127.0.0.1:7400');
    expect(parseEnv({ COORDINATOR_URL: 'https://coord.internal:7400/' }).coordinatorUrl).toBe(
      'https://coord.internal:7400',
    );
    expect(parseEnv({}).proxyTrust.hops).toBe(1);
    expect(() => parseEnv({ ROLLGATE_TRUSTED_PROXIES: 'proxy.example' })).toThrow(
      /ROLLGATE_TRUSTED_PROXIES: "proxy.example" is not an IP address/,
    );
  });
  it('rejects a value that is not an http(s) URL, naming the variable', () => {
    expect(() => parseEnv({ COORDINATOR_URL: 'coord:7400' })).toThrow(
      /COORDINATOR_URL must be the coordinator's http\(s\) base URL/,
    );
  });
});
