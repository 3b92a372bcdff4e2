import http from 'node:http';

/** The part of a fetch Response the tRPC client reads. */
export interface HttpResponse {
  ok: boolean;
  status: number;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | null;
  signal?: AbortSignal | null;
}

/**
 * A fetch for the CLI's one-shot calls, over node:http. Node's global fetch loads undici and its
 * WebAssembly HTTP parser on first use, ~90 ms of CPU that every `rollgate servers` would pay
 * (measured by `npm run bench -- cli-startup`); node:http is already part of Node's start-up.
 * Errors keep their shape: a refused connection is `connect ECONNREFUSED …` with its code, an
 * aborted or timed-out request an AbortError whose cause is the signal's reason.
 */
export function httpFetch(input: string | URL, init: HttpInit = {}): Promise<HttpResponse> {
  const url = new URL(String(input));
  // https (and tls) only when the coordinator is reached over TLS.
  const transport: Pick<typeof http, 'request'> =
    url.protocol === 'https:' ? process.getBuiltinModule('node:https') : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('the coordinator closed the connection mid-answer')));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          resolve({
            ok: status >= 200 && status < 300,
            status,
            text: async () => text,
            json: async () => JSON.parse(text) as unknown,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(init.body ?? undefined);
  });
}
