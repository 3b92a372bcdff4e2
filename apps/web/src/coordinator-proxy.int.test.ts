/**
 * The route handler's forwarding over real loopback sockets: a plain HTTP server stands in for the
 * coordinator (what matters here is the HTTP, not tRPC), plus a port nobody listens on.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardToCoordinator } from './coordinator-proxy';

interface Seen {
  method: string;
  url: string;
  actor: string | undefined;
  body: string;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );

describe('forwardToCoordinator over loopback', () => {
  const seen: Seen[] = [];
  let upstream: Server;
  let base: string;

  beforeAll(async () => {
    upstream = createServer(async (req, res) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        actor: req.headers['x-rollgate-actor'] as string,
        body: await readBody(req),
      });
      if (req.url?.startsWith('/trpc/upgrade.watch')) {
        // An SSE stream that writes an event every 100 ms for longer than the proxy's query timeout.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const t = setInterval(() => {
          n++;
          res.write(`id: ${n}\ndata: {"n":${n}}\n\n`);
          if (n === 6) {
            clearInterval(t);
            res.end();
          }
        }, 100);
        req.on('close', () => clearInterval(t));
        return;
      }
      if (req.url?.startsWith('/trpc/upgrade.status')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              message: 'There is no run yet.',
              code: -32004,
              data: { code: 'NOT_FOUND', httpStatus: 404 },
            },
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result: { data: { ok: true, version: '1.0.0' } } }));
    });
    base = await listen(upstream);
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it('passes a GET through with status and body', async () => {
    const res = await forwardToCoordinator(
      new Request('http://console/api/trpc/health?input=%7B%7D'),
      'health',
      { coordinatorUrl: base },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: { data: { ok: true, version: '1.0.0' } } });
    expect(seen.at(-1)).toMatchObject({
      method: 'GET',
      url: '/trpc/health?input=%7B%7D',
      actor: 'web:console',
    });
  });

  it('passes an error status through', async () => {
    const res = await forwardToCoordinator(
      new Request('http://console/api/trpc/upgrade.status'),
      'upgrade.status',
      { coordinatorUrl: base },
    );
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe('NOT_FOUND');
  });

  it('forwards a POST body', async () => {
    const req = new Request('http://console/api/trpc/upgrade.pause', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"runId":"r1"}',
    });
    const res = await forwardToCoordinator(req, 'upgrade.pause', { coordinatorUrl: base });
    expect(res.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/trpc/upgrade.pause', body: '{"runId":"r1"}' });
  });

  it('streams SSE through as it is written, past the query timeout', async () => {
    const started = Date.now();
    const res = await forwardToCoordinator(
      new Request('http://console/api/trpc/upgrade.watch?input=%7B%7D', {
        headers: { accept: 'text/event-stream' },
      }),
      'upgrade.watch',
      { coordinatorUrl: base, timeoutMs: 250 },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const arrivals: { at: number; text: string }[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      arrivals.push({ at: Date.now() - started, text: decoder.decode(value) });
    }
    const text = arrivals.map((a) => a.text).join('');
    // All six events, the last written ~600 ms in: no 250 ms timeout cut the stream.
    expect(text.match(/^data: /gm)).toHaveLength(6);
    expect(text).toContain('data: {"n":6}');
    // Unbuffered: the first event arrived well before the stream ended.
    expect(arrivals.length).toBeGreaterThan(1);
    expect(arrivals[0]!.at).toBeLessThan(arrivals.at(-1)!.at - 250);
  });

  it('answers 502 with the reason when nothing listens', async () => {
    const spare = createServer();
    const closedUrl = await listen(spare);
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const res = await forwardToCoordinator(new Request('http://console/api/trpc/health'), 'health', {
      coordinatorUrl: closedUrl,
    });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { message: string; data: { code: string } } };
    expect(body.error.data.code).toBe('BAD_GATEWAY');
    expect(body.error.message).toContain(
      `Cannot reach the coordinator at ${closedUrl}: connect ECONNREFUSED`,
    );
  });

  it('answers 504 when the coordinator hangs', async () => {
    const hang = createServer(() => {
      /* never answers */
    });
    const hangUrl = await listen(hang);
    try {
      const res = await forwardToCoordinator(new Request('http://console/api/trpc/health'), 'health', {
        coordinatorUrl: hangUrl,
        timeoutMs: 300,
      });
      expect(res.status).toBe(504);
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((resolve) => hang.close(() => resolve()));
    }
  });
});
