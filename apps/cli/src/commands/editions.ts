import { readFile, stat } from 'node:fs/promises';
import type { CommandContext, JsonFlag } from '../context';
import { sha256File } from '../edition-stream';
import { CliError, EXIT } from '../errors';
import { formatBytes } from '@rollgate/domain';
import { renderEditions } from '../format';

/**
 * The base64 `editions.upload` takes at most 64 MiB (MAX_EDITION_BYTES in @rollgate/api); it is
 * used only with a coordinator that has no streamed upload (docs/adr/0036).
 */
const MAX_BASE64_EDITION_BYTES = 64 * 1024 * 1024;

/** Uploading 64 MiB over a slow link takes a while; the default 30 s request timeout would cut it off. */
const UPLOAD_TIMEOUT_MS = 10 * 60_000;

/** The coordinator fetching a large archive by URL takes a while too. */
const FETCH_TIMEOUT_MS = 60 * 60_000;

export interface EditionUploadFlags extends JsonFlag {
  app: string;
  name: string;
  /** Path of the edition archive (or fromUrl). */
  file?: string;
  /** An http(s) URL the coordinator fetches the archive from (with sha256). Default none. */
  fromUrl?: string;
  /** The archive's sha256: required with fromUrl, checked against the file otherwise. */
  sha256?: string;
  /**
   * With fromUrl: who downloads the archive, "coordinator" (once, into its store) or "agents"
   * (each agent from the URL, docs/adr/0039). Default "coordinator".
   */
  fetchBy?: string;
  /** With fetchBy "agents": the archive's size in bytes, checked by the agents. Default unknown. */
  size?: number;
  /** Free text shown in the console. Default ''. */
  description?: string;
  /** Named database upgrade command (from the service's config on the agents). Default: none. */
  dbUpgradeCommand?: string;
}

/**
 * The by-URL choices (docs/adr/0039), checked before anything is sent: --fetch-by and --size only
 * mean something with --from-url, and --size only when agents fetch (the coordinator measures).
 */
export function urlEditionOptions(flags: EditionUploadFlags): {
  fetchBy: 'coordinator' | 'agents';
  size?: number;
} {
  const fetchBy = flags.fetchBy ?? 'coordinator';
  if (fetchBy !== 'coordinator' && fetchBy !== 'agents') {
    throw new CliError(
      `--fetch-by must be "coordinator" (it downloads the archive once) or "agents" (each agent downloads it from the URL), not "${fetchBy}".`,
    );
  }
  if (flags.fromUrl === undefined && (flags.fetchBy !== undefined || flags.size !== undefined)) {
    throw new CliError('--fetch-by and --size go with --from-url <url>; an uploaded --file needs neither.');
  }
  if (flags.size !== undefined && fetchBy !== 'agents') {
    throw new CliError(
      '--size goes with --fetch-by agents: when the coordinator fetches the archive it measures it itself.',
    );
  }
  return { fetchBy, ...(flags.size !== undefined ? { size: flags.size } : {}) };
}

export async function editionUploadCommand(ctx: CommandContext, flags: EditionUploadFlags): Promise<number> {
  if ((flags.file === undefined) === (flags.fromUrl === undefined)) {
    throw new CliError('Give the archive with --file <path> or --from-url <url> (one of them).');
  }
  const byUrl = urlEditionOptions(flags);
  if (flags.sha256 !== undefined && !/^[a-f0-9]{64}$/.test(flags.sha256)) {
    throw new CliError('--sha256 must be 64 lower-case hexadecimal digits, as `sha256sum` prints.');
  }
  const fields = {
    app: flags.app,
    name: flags.name,
    description: flags.description ?? '',
    ...(flags.dbUpgradeCommand ? { dbUpgradeCommand: flags.dbUpgradeCommand } : {}),
  };
  let edition;
  let expected: string;
  if (flags.fromUrl !== undefined) {
    if (flags.sha256 === undefined) {
      throw new CliError(
        '--from-url needs --sha256 <hex>: the coordinator verifies what it fetches against it.',
      );
    }
    expected = flags.sha256;
    edition = await ctx.client.editions.addFromUrl.mutate(
      { ...fields, url: flags.fromUrl, sha256: flags.sha256, ...byUrl },
      { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) },
    );
  } else {
    const file = flags.file!;
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new CliError(`--file ${file} is not a file: pass the edition archive.`);
    if (info.size === 0) throw new CliError(`--file ${file} is empty: pass the edition archive.`);
    expected = await sha256File(file);
    if (flags.sha256 !== undefined && flags.sha256 !== expected) {
      throw new CliError(
        `--file ${file} has sha256 ${expected}, not the --sha256 given. Nothing was uploaded.`,
      );
    }
    // Streamed to disk on the coordinator (docs/adr/0036); base64 only for a coordinator without it.
    edition = ctx.streamEdition
      ? await ctx.streamEdition(file, { ...fields, sha256: expected, size: info.size }, flags.json === true)
      : null;
    if (edition === null) {
      if (info.size > MAX_BASE64_EDITION_BYTES) {
        throw new CliError(
          `--file ${file} is ${formatBytes(info.size)}; this coordinator takes editions up to ${formatBytes(MAX_BASE64_EDITION_BYTES)} (it has no streamed upload: upgrade it).`,
        );
      }
      const content = await readFile(file);
      edition = await ctx.client.editions.upload.mutate(
        { ...fields, contentBase64: content.toString('base64') },
        { signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS) },
      );
    }
  }
  // The coordinator hashes what it received; a different digest means the bytes changed on the way.
  if (edition.sha256 !== expected) {
    throw new CliError(
      `the coordinator stored edition ${edition.app} ${edition.name} with sha256 ${edition.sha256}, but the file's is ${expected}. Upload it again under a new name.`,
      EXIT.connection,
    );
  }
  if (flags.json) {
    ctx.out.json(edition);
  } else if (edition.fetchBy === 'agents') {
    ctx.out.print(`Added edition ${edition.name} of ${edition.app}: each agent fetches it from the URL`);
    ctx.out.print(`  from   ${edition.source ?? '-'}`);
    ctx.out.print(`  sha256 ${edition.sha256} (every agent verifies it before unpacking)`);
    ctx.out.print(
      `  size   ${edition.size > 0 ? `${edition.size} bytes (${formatBytes(edition.size)})` : 'unknown (agents bound it by their own limit)'}`,
    );
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
