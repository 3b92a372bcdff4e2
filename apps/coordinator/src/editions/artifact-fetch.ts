import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { checkEditionUrl, editionUrlForLogs } from '@rollgate/domain';
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
 * Checks one URL (the first, and every redirect's target) by the domain's rule, the one the API
 * and the agents apply too: http(s), no user or password.
 */
export function checkFetchUrl(raw: string): URL {
  const checked = checkEditionUrl(raw);
  if (!checked.ok) {
    throw new ArtifactRefused(400, `${checked.error[0]!.toUpperCase()}${checked.error.slice(1)}.`);
  }
  return checked.url;
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
        `Could not fetch ${editionUrlForLogs(u.href)}: ${signal.aborted ? 'it took too long' : (err as Error).message}. Nothing was stored.`,
      );
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= maxRedirects) {
        throw new ArtifactRefused(
          502,
          `${editionUrlForLogs(url)} redirected more than ${maxRedirects} times. Nothing was stored.`,
        );
      }
      u = checkFetchUrl(new URL(res.headers.location, u).href);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new ArtifactRefused(
        502,
        `${editionUrlForLogs(u.href)} answered HTTP ${status}, not 200. Nothing was stored.`,
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
        `Fetching ${editionUrlForLogs(u.href)} failed: ${signal.aborted ? 'it took too long' : (err as Error).message}. Nothing was stored.`,
      );
    }
  }
}
