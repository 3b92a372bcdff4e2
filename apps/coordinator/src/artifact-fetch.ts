import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { ArtifactRefused, writeStreamed } from './artifact-upload';

export interface ArtifactFetchOptions {
  /** Most bytes accepted (ROLLGATE_MAX_EDITION_BYTES). */
  maxBytes: number;
  /** Whole transfer, ms; default 30 minutes. */
  timeoutMs?: number;
  /** Redirects followed; default 5. */
  maxRedirects?: number;
}

/**
 * The URL as safe to log and audit: origin and path only (a query string may carry a signature
 * that grants access; credentials in the URL are refused before this).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Checks one URL (the first, and every redirect's target): http(s), no user or password. */
export function checkFetchUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ArtifactRefused(400, `"${raw.slice(0, 200)}" is not a URL; give an http:// or https:// URL.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ArtifactRefused(
      400,
      `The coordinator fetches editions over http or https only, not ${u.protocol.replace(/:$/, '')}.`,
    );
  }
  if (u.username || u.password) {
    throw new ArtifactRefused(
      400,
      'The URL carries a user name or password; the coordinator does not take credentials in a URL (they would sit in its logs). Use a URL that needs none, e.g. a pre-signed one.',
    );
  }
  return u;
}

function request(u: URL, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsGet : httpGet)(u, { signal }, resolve);
    req.once('error', reject);
  });
}

/**
 * Fetches an edition archive from a URL into the artifact directory, streamed and verified
 * against `sha256` (writeStreamed): a wrong digest, an error status, too many redirects, too
 * many bytes or too much time leave nothing behind.
 */
export async function fetchToStore(
  dir: string,
  url: string,
  sha256: string,
  opts: ArtifactFetchOptions,
): Promise<{ sha256: string; size: number }> {
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 30 * 60_000);
  const maxRedirects = opts.maxRedirects ?? 5;
  let u = checkFetchUrl(url);
  for (let hop = 0; ; hop++) {
    let res: IncomingMessage;
    try {
      res = await request(u, signal);
    } catch (err) {
      throw new ArtifactRefused(
        502,
        `Could not fetch ${redactUrl(u.href)}: ${signal.aborted ? 'it took too long' : (err as Error).message}. Nothing was stored.`,
      );
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= maxRedirects) {
        throw new ArtifactRefused(
          502,
          `${redactUrl(url)} redirected more than ${maxRedirects} times. Nothing was stored.`,
        );
      }
      u = checkFetchUrl(new URL(res.headers.location, u).href);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new ArtifactRefused(
        502,
        `${redactUrl(u.href)} answered HTTP ${status}, not 200. Nothing was stored.`,
      );
    }
    const declared = Number(res.headers['content-length']);
    try {
      return await writeStreamed(dir, res, {
        maxBytes: opts.maxBytes,
        sha256,
        ...(Number.isSafeInteger(declared) && declared >= 0 ? { size: declared } : {}),
      });
    } catch (err) {
      res.destroy();
      if (err instanceof ArtifactRefused) throw err;
      throw new ArtifactRefused(
        502,
        `Fetching ${redactUrl(u.href)} failed: ${signal.aborted ? 'it took too long' : (err as Error).message}. Nothing was stored.`,
      );
    }
  }
}
