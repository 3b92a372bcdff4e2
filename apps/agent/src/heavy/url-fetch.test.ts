// The agent's download by URL (docs/adr/0039) against a real loopback HTTP server: redirects,
// bounds, error statuses, and that no message ever carries the URL's query string.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUrl, fetchUrlBytes, UrlFetchError } from './url-fetch';

const BODY = Buffer.alloc(100_000, 7);
const SIG = 'sig=topsecret';
let server: Server;
let base = '';

async function drain(url: string, opts: Partial<Parameters<typeof fetchUrlBytes>[1]> = {}): Promise<number> {
  let n = 0;
  for await (const c of fetchUrlBytes(url, {
    declaredSize: 0,
    maxBytes: 1024 * 1024,
    signal: AbortSignal.timeout(10_000),
    ...opts,
  }))
    n += c.length;
  return n;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UrlFetchError);
  const message = (err as Error).message;
  expect(message).not.toContain('topsecret');
  return message;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const hop = /^\/hop\/(\d+)$/.exec(u.pathname);
    if (hop) {
      const n = Number(hop[1]);
      res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}?${SIG}` : `/file?${SIG}` }).end();
    } else if (u.pathname === '/file') {
      res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
    } else if (u.pathname === '/chunked') {
      // No content-length: the body is cut at the first byte beyond the bound.
      res.writeHead(200);
      res.write(BODY);
      res.end(BODY);
    } else if (u.pathname === '/to-ftp') {
      res.writeHead(302, { location: 'ftp://example.com/x.tgz' }).end();
    } else if (u.pathname === '/slow') {
      res.writeHead(200);
      res.write(BODY.subarray(0, 10));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('checkUrl (issue 16 item 6)', () => {
  it('takes http(s) and refuses other schemes, credentials and non-URLs, never repeating the query', () => {
    expect(checkUrl('https://a.example/x.tgz?sig=1').hostname).toBe('a.example');
    expect(() => checkUrl('file:///etc/passwd')).toThrow(/http or https only, not file/);
    expect(() => checkUrl('https://u:topsecret@a.example/x.tgz')).toThrow(/user name or password/);
    expect(() => checkUrl('https://u:p@a.example/x.tgz')).not.toThrow(/u:p@/);
    expect(() => checkUrl('not a url')).toThrow(/not a URL/);
  });
});

describe('fetchUrlBytes (issue 16 item 6)', () => {
  it('streams the body, following up to 5 redirects', async () => {
    expect(await drain(`${base}/file?${SIG}`)).toBe(BODY.length);
    expect(await drain(`${base}/hop/4?${SIG}`)).toBe(BODY.length);
  });

  it('refuses a sixth redirect, naming origin and path only', async () => {
    expect(await refusal(drain(`${base}/hop/5?${SIG}`))).toBe(`${base}/hop/5 redirected more than 5 times`);
  });

  it('re-checks every redirect target', async () => {
    expect(await refusal(drain(`${base}/to-ftp?${SIG}`))).toMatch(/http or https only, not ftp/);
  });

  it('fails on an error status with origin and path', async () => {
    expect(await refusal(drain(`${base}/missing.tgz?${SIG}`))).toBe(
      `${base}/missing.tgz answered HTTP 404, not 200`,
    );
  });

  it("refuses a declared length beyond the agent's limit before reading the body", async () => {
    expect(await refusal(drain(`${base}/file?${SIG}`, { maxBytes: 1000 }))).toMatch(
      /sends 97\.7 KiB; this agent downloads at most 1000 bytes \(ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES\)/,
    );
  });

  it('refuses a length other than the size the edition was declared with', async () => {
    expect(await refusal(drain(`${base}/file?${SIG}`, { declaredSize: 1000 }))).toBe(
      `${base}/file sends ${BODY.length} bytes but the edition was declared with 1000`,
    );
    expect(await refusal(drain(`${base}/file?${SIG}`, { declaredSize: BODY.length + 1 }))).toMatch(
      /sent 100000 bytes but the edition was declared with 100001/,
    );
  });

  it('cuts an undeclared (chunked) body at the first byte beyond the limit', async () => {
    expect(await refusal(drain(`${base}/chunked?${SIG}`, { maxBytes: 150_000 }))).toMatch(
      /chunked sent more than 146 KiB, the most this agent downloads/,
    );
  });

  it('gives up when the time runs out', async () => {
    expect(await refusal(drain(`${base}/slow?${SIG}`, { signal: AbortSignal.timeout(300) }))).toMatch(
      /fetching .*\/slow failed after 10 bytes: it took too long \(ROLLGATE_AGENT_FETCH_TIMEOUT_MS\)/,
    );
  });
});
