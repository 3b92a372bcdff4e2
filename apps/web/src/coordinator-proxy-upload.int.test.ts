/**
 * The console's upload route (forwardEditionUpload) over real loopback sockets: a plain HTTP
 * server stands in for the coordinator, so what goes upstream (headers, query, every byte) and what
 * comes back can be seen exactly. The real coordinator is in e2e/edition-upload.int.test.ts.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_ACTOR, forwardEditionUpload, forwardToCoordinator } from './coordinator-proxy';

const MiB = 1024 * 1024;
const TOKEN = 'tok_0123456789abcdefghij';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
  sha256: string;
}

/** `total` random bytes as a stream, made chunk by chunk (the test never holds them whole). */
function randomBody(total: number): { stream: ReadableStream<Uint8Array>; sha256: () => string } {
  const hash = createHash('sha256');
  let left = total;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left === 0) return controller.close();
      const chunk = randomFillSync(Buffer.alloc(Math.min(MiB, left)));
      left -= chunk.length;
      hash.update(chunk);
      controller.enqueue(chunk);
    },
  });
  let digest: string | undefined;
  return { stream, sha256: () => (digest ??= hash.digest('hex')) };
}

function uploadRequest(
  query: string,
  body: BodyInit,
  length: number,
  extra: Record<string, string> = {},
): Request {
  return new Request(`http://127.0.0.1:3000/api/upload/edition?${query}`, {
    method: 'PUT',
    headers: {
      host: '127.0.0.1:3000',
      cookie: `rollgate_session=${TOKEN}`,
      'content-length': String(length),
      'x-forwarded-for': '10.1.2.3',
      ...extra,
    },
    body,
    duplex: 'half',
  } as RequestInit);
}

describe('forwardEditionUpload over loopback', () => {
  const seen: Seen[] = [];
  let upstream: Server;
  let base: string;
  let answerCheck: { status: number; body: unknown } = {
    status: 200,
    body: { result: { data: { ok: true } } },
  };

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes, sha256: '' });
        seen.at(-1)!.sha256 = hash.digest('hex');
        if (req.url?.startsWith('/trpc/editions.uploadCheck')) {
          res.writeHead(answerCheck.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answerCheck.body));
          return;
        }
        if (new URL(req.url ?? '/', 'http://x').searchParams.get('name') === 'old') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the API lives under /trpc/');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            result: { data: { app: 'shop', name: '1.0', size: bytes, sha256: seen.at(-1)!.sha256 } },
          }),
        );
      });
    });
    base = await new Promise<string>((resolve) =>
      upstream.listen(0, '127.0.0.1', () =>
        resolve(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`),
      ),
    );
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it('checks, then streams 48 MiB with the session as bearer, the console as actor and only the known fields', async () => {
    seen.length = 0;
    const size = 48 * MiB;
    const body = randomBody(size);
    const res = await forwardEditionUpload(
      uploadRequest(`app=shop&name=1.0&size=${size}&description=big&evil=1`, body.stream, size),
      { coordinatorUrl: base },
    );
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { result: { data: { sha256: string; size: number } } };
    expect(answer.result.data).toMatchObject({ sha256: body.sha256(), size });

    expect(seen.map((s) => s.method)).toEqual(['POST', 'PUT']);
    const [check, put] = seen as [Seen, Seen];
    expect(check.url).toBe('/trpc/editions.uploadCheck');
    expect(check.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(put.url).toBe(`/upload/edition?app=shop&name=1.0&description=big&size=${size}`);
    expect(put.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'x-rollgate-actor': CONSOLE_ACTOR,
      'x-forwarded-for': '10.1.2.3',
      'content-length': String(size),
    });
    expect(put.headers.cookie).toBeUndefined();
    expect({ bytes: put.bytes, sha256: put.sha256 }).toEqual({ bytes: size, sha256: body.sha256() });
  });

  it("passes the check's refusal back unchanged and sends no byte of the archive", async () => {
    seen.length = 0;
    const refusal = {
      error: {
        message: 'Edition "1.0" of shop already exists.',
        code: -32009,
        data: { code: 'CONFLICT', httpStatus: 409 },
      },
    };
    answerCheck = { status: 409, body: refusal };
    try {
      const res = await forwardEditionUpload(uploadRequest('app=shop&name=1.0&size=4', 'abcd', 4), {
        coordinatorUrl: base,
      });
      expect(res.status).toBe(409);
      expect(await res.json()).toEqual(refusal);
      expect(seen.map((s) => s.method)).toEqual(['POST']);
    } finally {
      answerCheck = { status: 200, body: { result: { data: { ok: true } } } };
    }
  });

  it('refuses a cross-origin upload, one without a session and one without a length before asking the coordinator', async () => {
    seen.length = 0;
    const cross = await forwardEditionUpload(
      uploadRequest('app=shop&name=1.0', 'abcd', 4, { origin: 'https://evil.example' }),
      { coordinatorUrl: base },
    );
    expect(cross.status).toBe(403);
    const anonymous = await forwardEditionUpload(
      uploadRequest('app=shop&name=1.0', 'abcd', 4, { cookie: '' }),
      {
        coordinatorUrl: base,
      },
    );
    expect(anonymous.status).toBe(401);
    const unmeasured = await forwardEditionUpload(
      new Request('http://127.0.0.1:3000/api/upload/edition?app=shop&name=1.0', {
        method: 'PUT',
        headers: { host: '127.0.0.1:3000', cookie: `rollgate_session=${TOKEN}` },
        body: randomBody(10).stream,
        duplex: 'half',
      } as RequestInit),
      { coordinatorUrl: base },
    );
    expect(unmeasured.status).toBe(411);
    expect(seen).toEqual([]);
  });

  it('no longer lets the base64 editions.upload make the tRPC proxy hold more than 1 MiB', async () => {
    seen.length = 0;
    const res = await forwardToCoordinator(
      new Request('http://127.0.0.1:3000/api/trpc/editions.upload', {
        method: 'POST',
        headers: {
          host: '127.0.0.1:3000',
          cookie: `rollgate_session=${TOKEN}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ app: 'shop', name: '1.0', contentBase64: 'A'.repeat(2 * MiB) }),
      }),
      'editions.upload',
      { coordinatorUrl: base },
    );
    expect(res.status).toBe(413);
    expect(seen).toEqual([]);
  });

  it("passes an older coordinator's 404 on the upload back as it is", async () => {
    const res = await forwardEditionUpload(uploadRequest('app=shop&name=old&size=4', 'abcd', 4), {
      coordinatorUrl: base,
    });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('not found: the API lives under /trpc/');
  });
});
