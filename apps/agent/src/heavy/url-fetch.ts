// An edition archive downloaded by the agent itself from the operator's URL (docs/adr/0039),
// instead of from its coordinator. The bytes are yielded as they arrive (the caller pipes them
// through a sha256 into a file in the heavy-work process), so memory never holds the archive.
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { checkEditionUrl, editionUrlForLogs } from '@rollgate/domain';
import { formatBytes } from './archive-errors';

/** Bounds on one download by URL; the agent's environment (env.ts). */
export interface UrlFetchLimits {
  /** Most bytes of one archive (ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES); default 4 GiB. */
  maxBytes: number;
  /** The whole download, ms (ROLLGATE_AGENT_FETCH_TIMEOUT_MS); default 30 min. */
  timeoutMs: number;
}

export const DEFAULT_URL_FETCH_LIMITS: UrlFetchLimits = {
  maxBytes: 4 * 1024 ** 3,
  timeoutMs: 30 * 60_000,
};

/** A download by URL that failed; the message names the origin and path, never the query string. */
export class UrlFetchError extends Error {
  override name = 'UrlFetchError';
}

export interface UrlFetchOptions {
  /** Bytes the operator declared (0 = unknown): a longer body is cut, a different one refused. */
  declaredSize: number;
  maxBytes: number;
  signal: AbortSignal;
  /** Redirects followed, each target checked like the first URL; default 5. */
  maxRedirects?: number;
}

/** Checks a URL the agent is told to fetch (http(s), no credentials); throws a UrlFetchError. */
export function checkUrl(raw: string): URL {
  const checked = checkEditionUrl(raw);
  if (!checked.ok) throw new UrlFetchError(`${editionUrlForLogs(raw)} is refused: ${checked.error}`);
  return checked.url;
}

function get(u: URL, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // No connection reuse: one download, then the socket closes.
    const req = (u.protocol === 'https:' ? httpsGet : httpGet)(u, { signal, agent: false }, resolve);
    req.once('error', reject);
  });
}

/**
 * Opens `url` (following at most `maxRedirects` redirects, each re-checked), refuses an error
 * status or a declared length beyond the bounds, and yields the body's bytes, cutting it at the
 * first byte beyond them. Every failure is a UrlFetchError naming origin and path only.
 */
export async function* fetchUrlBytes(url: string, opts: UrlFetchOptions): AsyncGenerator<Uint8Array> {
  const maxRedirects = opts.maxRedirects ?? 5;
  const limit = opts.declaredSize > 0 ? Math.min(opts.declaredSize, opts.maxBytes) : opts.maxBytes;
  const why = (err: unknown) =>
    opts.signal.aborted
      ? opts.signal.reason instanceof Error && opts.signal.reason.name === 'TimeoutError'
        ? 'it took too long (ROLLGATE_AGENT_FETCH_TIMEOUT_MS)'
        : 'it was cancelled'
      : err instanceof Error
        ? err.message
        : String(err);
  let u = checkUrl(url);
  let res: IncomingMessage;
  for (let hop = 0; ; hop++) {
    const at = editionUrlForLogs(u.href);
    try {
      res = await get(u, opts.signal);
    } catch (err) {
      throw new UrlFetchError(`could not fetch ${at}: ${why(err)}`);
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= maxRedirects) {
        throw new UrlFetchError(`${editionUrlForLogs(url)} redirected more than ${maxRedirects} times`);
      }
      u = checkUrl(new URL(res.headers.location, u).href);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new UrlFetchError(`${at} answered HTTP ${status}, not 200`);
    }
    const length = Number(res.headers['content-length']);
    if (Number.isSafeInteger(length) && length > limit) {
      res.destroy();
      throw new UrlFetchError(
        opts.declaredSize > 0 && length !== opts.declaredSize && opts.declaredSize <= opts.maxBytes
          ? `${at} sends ${length} bytes but the edition was declared with ${opts.declaredSize}`
          : `${at} sends ${formatBytes(length)}; this agent downloads at most ${formatBytes(opts.maxBytes)} (ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES)`,
      );
    }
    break;
  }
  const at = editionUrlForLogs(u.href);
  let received = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > limit) {
        throw new UrlFetchError(
          limit < opts.maxBytes
            ? `${at} sent more than the ${opts.declaredSize} bytes the edition was declared with`
            : `${at} sent more than ${formatBytes(opts.maxBytes)}, the most this agent downloads (ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES)`,
        );
      }
      yield chunk;
    }
  } catch (err) {
    if (err instanceof UrlFetchError) throw err;
    throw new UrlFetchError(`fetching ${at} failed after ${received} bytes: ${why(err)}`);
  } finally {
    res.destroy();
  }
  if (opts.declaredSize > 0 && received !== opts.declaredSize) {
    throw new UrlFetchError(
      `${at} sent ${received} bytes but the edition was declared with ${opts.declaredSize}: the transfer was incomplete or the file changed`,
    );
  }
}
