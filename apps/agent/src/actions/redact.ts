// Secrets the agent knows (database URL passwords, test account passwords) must never reach a log
// line, an error, a result or the journal. Everything an op reports passes through a redactor.

/** `scheme://user:password@host` → `scheme://user:***@host`, for any URL scheme. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]*)@/gi;
/** `password=secret` in libpq keyword/value strings and query strings. */
const PASSWORD_PARAM = /\b(password|passwd|pwd)=([^\s&;]+)/gi;

export type Redactor = (text: string) => string;

export const MASK = '***';

/** Replaces URL credentials, password=… parameters and every known secret with ***. */
export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  // Longest first, so a secret containing another is masked whole.
  const known = [...new Set([...secrets].filter((s): s is string => !!s && s.length >= 3))].sort(
    (a, b) => b.length - a.length,
  );
  const encoded = known.flatMap((s) => {
    const e = encodeURIComponent(s);
    return e === s ? [] : [e];
  });
  const all = [...known, ...encoded];
  return (text) => {
    let out = text.replace(URL_CREDENTIALS, `$1:${MASK}@`).replace(PASSWORD_PARAM, `$1=${MASK}`);
    for (const s of all) if (out.includes(s)) out = out.split(s).join(MASK);
    return out;
  };
}

/** The same object with every string passed through the redactor (results, before journaling). */
export function redactDeep<T>(value: T, redact: Redactor): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [redact(k), walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}

/** The password of a database URL, if it has one (decoded). */
export function urlPassword(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p === '' ? undefined : decodeURIComponent(p);
  } catch {
    return undefined;
  }
}

/** A URL safe to show: the password replaced by ***. */
export function displayUrl(url: string): string {
  return url.replace(URL_CREDENTIALS, `$1:${MASK}@`);
}
