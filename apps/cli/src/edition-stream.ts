import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EditionRow } from './api-types';
import { trpcEndpoint } from './client';
import { CliError, EXIT } from './errors';
import { formatBytes } from '@rollgate/domain';

/** Where the coordinator takes an archive as a raw request body (docs/adr/0036). */
const UPLOAD_PATH = '/upload/edition';

export interface EditionStreamOptions {
  /** Coordinator base URL (as --url). */
  url: string;
  /** Sent as x-rollgate-actor. */
  actor: string;
  /** Session or service token, sent as a bearer token. Default none. */
  token?: string | undefined;
}

export interface EditionStreamFields {
  app: string;
  name: string;
  description: string;
  dbUpgradeCommand?: string | undefined;
  /** The file's sha256 and size, so the coordinator refuses anything else. */
  sha256: string;
  size: number;
}

/** Puts an archive's bytes to the coordinator: `sent` so far of `total`. */
export type EditionStreamer = (
  file: string,
  fields: EditionStreamFields,
  onProgress: (sent: number, total: number) => void,
) => Promise<EditionRow | null>;

/** sha256 of a file, read as a stream (an archive may be gigabytes). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * The streamed upload: PUT the file as it is (no base64, no JSON, never whole in memory).
 * Resolves null when the coordinator has no such endpoint (one older than docs/adr/0036), so the
 * caller can fall back to `editions.upload`.
 */
export function createEditionStreamer(opts: EditionStreamOptions): EditionStreamer {
  return async (file, fields, onProgress) => {
    const base = trpcEndpoint(opts.url).replace(/\/trpc$/, '');
    const target = new URL(`${base}${UPLOAD_PATH}`);
    target.searchParams.set('app', fields.app);
    target.searchParams.set('name', fields.name);
    if (fields.description) target.searchParams.set('description', fields.description);
    if (fields.dbUpgradeCommand) target.searchParams.set('dbUpgradeCommand', fields.dbUpgradeCommand);
    target.searchParams.set('sha256', fields.sha256);
    target.searchParams.set('size', String(fields.size));
    const transport: Pick<typeof http, 'request'> =
      target.protocol === 'https:' ? process.getBuiltinModule('node:https') : http;
    let sent = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        onProgress(sent, fields.size);
        done(null, chunk);
      },
    });
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = transport.request(
        target,
        {
          method: 'PUT',
          headers: {
            'content-type': 'application/gzip',
            'content-length': String(fields.size),
            'x-rollgate-actor': opts.actor,
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (c: Buffer) => {
            // Answers are small JSON; never keep more than a little of a confused server's reply.
            if ((kept += c.length) <= 1024 * 1024) chunks.push(c);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      // A refusal arrives while the body is still being sent: it is read, and the send stops.
      pipeline(createReadStream(file), meter, req).catch(() => undefined);
    }).catch((err: Error) => {
      throw new CliError(
        `the upload to ${opts.url} failed after ${formatBytes(sent)}: ${err.message}. Nothing was recorded; run the command again.`,
        EXIT.connection,
      );
    });
    // No such endpoint: a coordinator older than docs/adr/0036, or a bare tRPC server (which
    // answers a raw body with 415). The streamed endpoint itself never answers 415.
    if (status === 404 || status === 415) return null;
    let parsed: { result?: { data?: EditionRow }; error?: { message?: string } };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new CliError(
        `${opts.url} answered the upload with HTTP ${status} and no JSON: is it a Rollgate coordinator?`,
        EXIT.connection,
      );
    }
    if (status === 200 && parsed.result?.data) return parsed.result.data;
    throw new CliError(parsed.error?.message ?? `the upload failed with HTTP ${status}.`);
  };
}

/**
 * Progress of an upload on stderr (stdout stays the result's): a bar redrawn in place on a
 * terminal, else a plain line every 10 % (none when `quiet`, e.g. --json in a script).
 */
export function createUploadProgress(stderr: NodeJS.WriteStream, label: string, quiet = false) {
  const tty = stderr.isTTY === true;
  let lastTenth = -1;
  let lastDraw = 0;
  return {
    update(sent: number, total: number) {
      const ratio = total > 0 ? Math.min(1, sent / total) : 1;
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 100 && sent < total) return;
        lastDraw = now;
        const width = 30;
        const full = Math.round(ratio * width);
        stderr.write(
          `\r${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${Math.floor(ratio * 100)
            .toString()
            .padStart(3)}% ${formatBytes(sent)} / ${formatBytes(total)}\x1b[K`,
        );
        return;
      }
      if (quiet) return;
      const tenth = Math.floor(ratio * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        stderr.write(`${label}: ${tenth * 10}% (${formatBytes(sent)} of ${formatBytes(total)})\n`);
      }
    },
    done() {
      if (tty && lastDraw > 0) stderr.write('\n');
    },
  };
}

/** The streamed upload with its progress on `stderr`: what program.ts gives commands. */
export function createEditionUpload(opts: EditionStreamOptions & { stderr: NodeJS.WriteStream }) {
  const streamer = createEditionStreamer(opts);
  return async (file: string, fields: EditionStreamFields, quiet = false): Promise<EditionRow | null> => {
    const progress = createUploadProgress(opts.stderr, `Uploading ${fields.app} ${fields.name}`, quiet);
    try {
      return await streamer(file, fields, (sent, total) => progress.update(sent, total));
    } finally {
      progress.done();
    }
  };
}
