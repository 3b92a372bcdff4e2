import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { appRouter, toTRPCError, editionStreamInput, type ApiContext } from '@rollgate/api';
import type { Logger } from '@rollgate/logger';

/** Where an edition archive is PUT as the raw request body (docs/adr/0036). */
export const EDITION_UPLOAD_PATH = '/upload/edition';

/** What is still coming of a refused upload's body is read and dropped up to this, then cut off. */
const DISCARD_MAX = 16 * 1024 * 1024;

/**
 * Answers in tRPC's error shape (what the CLI already reads). The rest of the body is dropped as
 * it arrives so the still-sending client reads the answer, and cut off past DISCARD_MAX. The
 * answer is written at once but the response ends only when the body has ended: ending it first
 * would close the connection with the body's bytes still unread, which the kernel turns into a
 * reset that can drop the answer before the client reads it.
 */
function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
) {
  const text = JSON.stringify({ error: { message, data: { code, httpStatus: status } } });
  if (!res.headersSent) {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      connection: 'close',
    });
  }
  if (req.readableEnded || req.destroyed) {
    res.end(text);
    return;
  }
  res.write(text);
  let discarded = 0;
  req.on('end', () => res.end());
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_MAX) {
      res.end();
      req.destroy();
    }
  });
  req.resume();
}

/** The upload's fields from the query string; zod (editionStreamInput) checks them in uploadCheck. */
function fieldsOf(url: URL): Record<string, unknown> {
  const q = url.searchParams;
  const size = q.get('size');
  return {
    app: q.get('app') ?? undefined,
    name: q.get('name') ?? undefined,
    description: q.get('description') ?? undefined,
    dbUpgradeCommand: q.get('dbUpgradeCommand') ?? undefined,
    sha256: q.get('sha256') ?? undefined,
    size: size === null ? undefined : /^\d{1,16}$/.test(size) ? Number(size) : size,
  };
}

/**
 * PUT /upload/edition?app=…&name=…[&sha256=…&size=…&description=…&dbUpgradeCommand=…], body: the
 * .tar.gz. The caller is held to exactly what `editions.upload` needs (role, token scope, audit)
 * by calling `editions.uploadCheck` first; then the body streams to disk (never into memory) and
 * the edition is recorded. Any failure, the client going away included, records nothing.
 */
export async function handleEditionUpload(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: ApiContext,
  log: Logger,
): Promise<void> {
  if (req.method !== 'PUT' && req.method !== 'POST') {
    answerError(req, res, 405, 'METHOD_NOT_SUPPORTED', `Send the archive with PUT ${EDITION_UPLOAD_PATH}.`);
    return;
  }
  const addStream = ctx.services.editions.addStream;
  if (!addStream) {
    answerError(req, res, 404, 'NOT_FOUND', 'This coordinator takes uploads through editions.upload only.');
    return;
  }
  const fields = fieldsOf(new URL(req.url ?? '/', 'http://coordinator'));
  let input;
  try {
    await appRouter.createCaller(ctx).editions.uploadCheck(fields as never);
    // Parsed again here: the check answers only ok, and the defaults matter (description).
    input = editionStreamInput.parse(fields);
  } catch (err) {
    if (err instanceof TRPCError) {
      answerError(req, res, getHTTPStatusCodeFromError(err), err.code, err.message);
      return;
    }
    throw err;
  }
  const declared = Number(req.headers['content-length']);
  if (input.size !== undefined && Number.isSafeInteger(declared) && declared !== input.size) {
    answerError(
      req,
      res,
      400,
      'BAD_REQUEST',
      `size=${input.size} but the request carries ${declared} bytes; send the file as it is.`,
    );
    return;
  }
  try {
    const record = await addStream(
      { ...input, ...(input.size === undefined && Number.isSafeInteger(declared) ? { size: declared } : {}) },
      req,
      ctx.actor,
    );
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ result: { data: record } }));
  } catch (err) {
    // The router's own table (errors.ts): the same code and status as any procedure's refusal.
    const refusal = toTRPCError(err);
    if (refusal) {
      answerError(req, res, getHTTPStatusCodeFromError(refusal), refusal.code, refusal.message);
      return;
    }
    if (req.destroyed || req.errored) {
      // The client went away mid-body: nothing was stored (writeStreamed removed its .part file).
      log.warn({ app: input.app, edition: input.name }, 'edition upload interrupted; nothing recorded');
      res.destroy();
      return;
    }
    throw err;
  }
}
