// Where an edition's archive comes from (docs/adr/0036, 0039): uploaded to the coordinator or
// fetched by it from a URL, or fetched by every agent from that URL itself.
import { z } from 'zod';

/** Who downloads an edition given by URL: the coordinator (once) or each agent (docs/adr/0039). */
export const editionFetchBySchema = z.enum(['coordinator', 'agents'], {
  error:
    'fetch-by must be "coordinator" (the coordinator downloads it once) or "agents" (each agent downloads it from the URL)',
});
export type EditionFetchBy = z.infer<typeof editionFetchBySchema>;

/** The most characters of an edition URL; a pre-signed URL's query string is long but not this long. */
export const MAX_EDITION_URL_CHARS = 4000;

/**
 * Checks an edition URL (the first, and every redirect's target): http(s) only, and no user name
 * or password (they would sit in logs, the audit and the database). Returns the parsed URL or why
 * it is refused, in words for an operator; the refusal never repeats the URL's query string.
 */
export function checkEditionUrl(raw: string): { ok: true; url: URL } | { ok: false; error: string } {
  if (raw.length > MAX_EDITION_URL_CHARS) {
    return { ok: false, error: `the URL is longer than ${MAX_EDITION_URL_CHARS} characters` };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, error: 'it is not a URL; give an http:// or https:// URL' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return {
      ok: false,
      error: `editions are fetched over http or https only, not ${u.protocol.replace(/:$/, '')}`,
    };
  }
  if (u.username || u.password) {
    return {
      ok: false,
      error:
        'the URL carries a user name or password, which would sit in logs; use a URL that needs none, e.g. a pre-signed one',
    };
  }
  return { ok: true, url: u };
}

/**
 * The URL as safe to log, audit and show: origin and path only. A query string may carry a
 * signature that grants access to the archive.
 */
export function editionUrlForLogs(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
