import { TRPCClientError } from '@trpc/client';
import type { LogRow, RunView } from './api-types';
import { ACTOR_HEADER, trpcEndpoint } from './client';

/**
 * One message of the live run stream (`upgrade.watch`, the subscription the console's live view
 * uses): the run view when it changed (else null) and the new log lines that pass the filter.
 */
export interface LiveUpdate {
  view: RunView | null;
  logs: LogRow[];
}

/** What to follow: a run, log lines after `afterId` only, filtered like `upgrade logs`. */
export interface LiveInput {
  runId: string;
  afterId?: number;
  serverId?: string;
  stepIndex?: number;
  code?: string;
}

/**
 * Follows a run: yields every update until the coordinator ends the stream (the run ended and its
 * last lines were sent). Throws a TRPCClientError: with the coordinator's code when it refused,
 * without one (a connection error, see isConnectionError) when the stream could not be opened or
 * dropped before its end.
 */
export type LiveWatch = (input: LiveInput, signal?: AbortSignal) => AsyncIterable<LiveUpdate>;

export interface LiveOptions {
  /** Coordinator base URL (as for createClient). */
  url: string;
  /** Sent as x-rollgate-actor. */
  actor: string;
  /** The session token, sent as a bearer token. Default none. */
  token?: string | undefined;
  /** How long the coordinator may take to start answering, ms. Default 30000. */
  connectTimeoutMs?: number;
}

/** One Server-Sent Event: its type (`message` when unnamed) and its data lines joined. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Splits a text/event-stream into events (https://html.spec.whatwg.org/#parsing-an-event-stream):
 * fields up to a blank line; `:` lines are comments; events without data are not dispatched.
 */
export async function* parseSse(chunks: AsyncIterable<string>): AsyncGenerator<SseEvent> {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  for await (const chunk of chunks) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
  }
}

/** A failure with no answer from the coordinator: the follower reconnects. */
const dropped = (why: string, cause?: unknown) =>
  TRPCClientError.from(Object.assign(new Error(why), cause === undefined ? {} : { cause }));

/**
 * The live stream over Server-Sent Events, read with fetch (Node has no EventSource) so that the
 * session travels as a bearer header, as on every other call. tRPC's SSE events: `connected` first,
 * then one unnamed event per update, `return` when the procedure ends, `serialized-error` if it fails.
 */
export function createLiveWatch(opts: LiveOptions): LiveWatch {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
  return async function* watch(input, signal) {
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const connectTimer = setTimeout(
      () => abort.abort(new DOMException('no answer in time', 'TimeoutError')),
      connectTimeoutMs,
    );
    try {
      const url = `${trpcEndpoint(opts.url)}/upgrade.watch?input=${encodeURIComponent(JSON.stringify(input))}`;
      let res: Response;
      try {
        res = await fetch(url, {
          headers: {
            accept: 'text/event-stream',
            [ACTOR_HEADER]: opts.actor,
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
          signal: abort.signal,
        });
      } catch (err) {
        throw TRPCClientError.from(err as Error);
      } finally {
        clearTimeout(connectTimer);
      }
      if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        // Refused before the stream began (e.g. no session): tRPC's JSON error body.
        const body = (await res.json().catch(() => null)) as { error?: unknown } | null;
        if (body && typeof body === 'object' && 'error' in body) {
          throw TRPCClientError.from(body as Parameters<typeof TRPCClientError.from>[0]);
        }
        throw dropped(`the coordinator answered HTTP ${res.status} instead of a live stream`);
      }
      if (!res.body) throw dropped('the live stream has no body');
      const text = res.body.pipeThrough(new TextDecoderStream());
      try {
        for await (const e of parseSse(text)) {
          if (e.event === 'message') yield JSON.parse(e.data) as LiveUpdate;
          else if (e.event === 'return') return;
          else if (e.event === 'serialized-error') {
            throw TRPCClientError.from({ error: JSON.parse(e.data) } as Parameters<
              typeof TRPCClientError.from
            >[0]);
          }
          // `connected`, `ping` and `restore-id` carry nothing to show.
        }
      } catch (err) {
        if (err instanceof TRPCClientError) throw err;
        throw dropped('the live stream broke', err);
      }
      throw dropped('the live stream ended before the run did');
    } finally {
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      // Leaving early (the run settled, or an error): close the stream.
      abort.abort();
    }
  };
}
