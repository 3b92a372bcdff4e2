// The demo's steady load against real HTTP servers on loopback (stdlib node:http, not the demo
// app): answers below 500 count as ok, 5xx and refused connections as failed, and a server that
// never answers cannot make it hold more than `maxInFlight` requests open.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@rollgate/lb/testing';
import { createSteadyLoad, type SteadyLoad } from './steady-load';
import { waitFor } from './wait';

let server: Server | null = null;
let load: SteadyLoad | null = null;
const held: ServerResponse[] = [];

async function serve(handler: (res: ServerResponse, n: number) => void): Promise<string> {
  let n = 0;
  server = createServer((_req, res) => handler(res, ++n));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

afterEach(async () => {
  // The held answers first: stop() waits for the requests still open.
  for (const res of held.splice(0)) res.destroy();
  await load?.stop();
  load = null;
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(null)));
  server = null;
});

describe('the demo steady load (issue 16 item 7)', () => {
  it('counts 2xx and 4xx answers as ok and 5xx answers as failed', async () => {
    const url = await serve((res, n) => {
      res.statusCode = n % 3 === 0 ? 503 : n % 3 === 1 ? 200 : 404;
      res.end('x');
    });
    load = createSteadyLoad({ url, ratePerSec: 50 });
    load.start();
    const c = await waitFor('30 answers', () => {
      const c = load!.counts();
      return c.ok + c.failed >= 30 ? c : null;
    });
    expect(c.failed).toBeGreaterThan(0);
    expect(c.ok).toBeGreaterThan(c.failed);
    expect(c.sent).toBeGreaterThanOrEqual(c.ok + c.failed);
  });

  it('counts a refused connection as failed', async () => {
    load = createSteadyLoad({ url: `http://127.0.0.1:${await freePort()}/`, ratePerSec: 20 });
    load.start();
    const c = await waitFor('3 failures', () => (load!.counts().failed >= 3 ? load!.counts() : null));
    expect(c.ok).toBe(0);
  });

  it('holds at most maxInFlight requests open against a server that never answers, counting the rest as failed', async () => {
    const url = await serve((res) => held.push(res));
    load = createSteadyLoad({ url, ratePerSec: 100, maxInFlight: 4, timeoutMs: 60_000 });
    load.start();
    await waitFor('10 requests refused for want of room', () => load!.counts().failed >= 10);
    expect(held.length).toBeLessThanOrEqual(4);
    expect(load.counts().ok).toBe(0);
  });

  it('refuses a rate it cannot keep and a non-http URL, saying what is wrong', () => {
    expect(() => createSteadyLoad({ url: 'http://127.0.0.1:1/', ratePerSec: 0 })).toThrow(
      'ratePerSec must be in (0, 1000], got 0',
    );
    expect(() => createSteadyLoad({ url: 'https://127.0.0.1:1/' })).toThrow('only http:// URLs');
  });
});
