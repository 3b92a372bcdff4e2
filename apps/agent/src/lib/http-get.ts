// One GET with a timeout and no connection reuse. No keep-alive on purpose: a pooled socket to the
// service would count as an ESTABLISHED connection and the drain op would never see zero.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface GetResult {
  status: number;
  /** At most maxBody bytes of the body, as UTF-8. */
  body: string;
  ms: number;
}

export interface GetOptions {
  /** Give up after this long, ms; default 2000. */
  timeoutMs?: number;
  /** Keep at most this many body bytes; default 64 KiB. */
  maxBody?: number;
  signal?: AbortSignal;
}

export function httpGet(url: string, opts: GetOptions = {}): Promise<GetResult> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const maxBody = opts.maxBody ?? 64 * 1024;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      {
        method: 'GET',
        agent: false,
        headers: { connection: 'close' },
        timeout: timeoutMs,
        signal: opts.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < maxBody) chunks.push(c.subarray(0, maxBody - size));
          size += c.length;
        });
        res.on('end', () => {
          clearTimeout(overall);
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: Math.round(performance.now() - started),
          });
        });
        res.on('error', (err) => {
          clearTimeout(overall);
          reject(err);
        });
      },
    );
    // `timeout` above is an idle timeout; this bounds the whole exchange (a slow-drip body too).
    const overall = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      clearTimeout(overall);
      reject(err);
    });
    req.end();
  });
}
