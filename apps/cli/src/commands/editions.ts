import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { CommandContext, JsonFlag } from '../context';
import { CliError, EXIT } from '../errors';
import { formatBytes, renderEditions } from '../format';

/**
 * The coordinator refuses archives over 64 MiB (MAX_EDITION_BYTES in @rollgate/api, which the CLI
 * may only import types from). Checking here as well spares reading and encoding a huge file only
 * to be refused; the coordinator stays the authority.
 */
const MAX_EDITION_BYTES = 64 * 1024 * 1024;

/** Uploading 64 MiB over a slow link takes a while; the default 30 s request timeout would cut it off. */
const UPLOAD_TIMEOUT_MS = 10 * 60_000;

export interface EditionUploadFlags extends JsonFlag {
  app: string;
  name: string;
  /** Path of the edition archive. */
  file: string;
  /** Free text shown in the console. Default ''. */
  description?: string;
  /** Named database upgrade command (from the service's config on the agents). Default: none. */
  dbUpgradeCommand?: string;
}

export async function editionUploadCommand(ctx: CommandContext, flags: EditionUploadFlags): Promise<number> {
  const info = await stat(flags.file);
  if (!info.isFile()) throw new CliError(`--file ${flags.file} is not a file: pass the edition archive.`);
  if (info.size === 0) throw new CliError(`--file ${flags.file} is empty: pass the edition archive.`);
  if (info.size > MAX_EDITION_BYTES) {
    throw new CliError(
      `--file ${flags.file} is ${formatBytes(info.size)}; the coordinator accepts editions up to ${formatBytes(MAX_EDITION_BYTES)}.`,
    );
  }
  const content = await readFile(flags.file);
  const localSha = createHash('sha256').update(content).digest('hex');
  const edition = await ctx.client.editions.upload.mutate(
    {
      app: flags.app,
      name: flags.name,
      description: flags.description ?? '',
      ...(flags.dbUpgradeCommand ? { dbUpgradeCommand: flags.dbUpgradeCommand } : {}),
      contentBase64: content.toString('base64'),
    },
    { signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS) },
  );
  // The coordinator hashes what it received; a different digest means the bytes changed on the way.
  if (edition.sha256 !== localSha) {
    throw new CliError(
      `the coordinator stored edition ${edition.app} ${edition.name} with sha256 ${edition.sha256}, but the file's is ${localSha}. Upload it again under a new name.`,
      EXIT.connection,
    );
  }
  if (flags.json) {
    ctx.out.json(edition);
  } else {
    ctx.out.print(`Uploaded edition ${edition.name} of ${edition.app}`);
    ctx.out.print(`  sha256 ${edition.sha256}`);
    ctx.out.print(`  size   ${edition.size} bytes (${formatBytes(edition.size)})`);
  }
  return 0;
}

export interface EditionListFlags extends JsonFlag {
  /** Only editions of this application. Default: all. */
  app?: string;
}

export async function editionListCommand(ctx: CommandContext, flags: EditionListFlags): Promise<number> {
  const editions = await ctx.client.editions.list.query(flags.app ? { app: flags.app } : {});
  if (flags.json) ctx.out.json(editions);
  else ctx.out.print(renderEditions(editions, { color: ctx.out.color }));
  return 0;
}
