// Signed webhooks (docs/adr/0032): the receiver recomputes the HMAC of the raw body with the
// subscription's secret and compares it with X-Rollgate-Signature, in constant time.
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-rollgate-signature';
export const TIMESTAMP_HEADER = 'x-rollgate-timestamp';

/** `sha256=<hex HMAC-SHA256 of body with secret>`. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** The URL as logs and errors show it: scheme, host and path; a query may carry a token. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export interface WebhookResult {
  ok: boolean;
  /** The HTTP status, null when none came (refused, timed out). */
  status: number | null;
  /** Why it failed, for the delivery log; never contains the secret. */
  error: string | null;
}

export interface PostOptions {
  url: string;
  secret: string;
  body: string;
  event: string;
  deliveryId: number;
  /** Default 10000 ms. */
  timeoutMs?: number;
  /** Default Date.now. */
  now?: () => number;
}

/** POSTs once; a 2xx is delivered, anything else (redirects included) is a failure to retry. */
export async function postWebhook(o: PostOptions): Promise<WebhookResult> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      // Not followed: a redirect could send the event (and its signature) somewhere not subscribed.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'rollgate-notifier',
        'x-rollgate-event': o.event,
        'x-rollgate-delivery': String(o.deliveryId),
        [TIMESTAMP_HEADER]: String(Math.floor((o.now ?? Date.now)() / 1000)),
        [SIGNATURE_HEADER]: signature(o.secret, o.body),
      },
      body: o.body,
    });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel();
      return { ok: true, status: res.status, error: null };
    }
    // A little of the answer helps the operator; more is not kept.
    const text = (await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ').trim();
    return { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, status: null, error: `${redactUrl(o.url)}: ${why}` };
  }
}
