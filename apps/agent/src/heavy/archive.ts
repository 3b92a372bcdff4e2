// Safe unpacking of edition archives (gzip tar). Nothing may land outside the edition directory,
// and no archive may cost the server more than the agent config's `limits` (docs/adr/0016).
//
// node-tar already strips absolute paths and `..` and refuses to write through symlinks, but it
// does so by *silently* skipping entries, leaving a half-unpacked edition that looks complete. We
// refuse the whole archive instead, with a message naming the entry, in three layers:
//   1. list every entry first and validate the archive as a whole (nothing is written yet);
//   2. extract with `strict` (any tar warning is an error) and a filter that admits only the
//      entries validated in step 1;
//   3. walk the result and check every symlink resolves inside the directory.
// Both passes inflate the archive as a stream of small chunks (never the whole archive, nor one
// whole read, in memory: node-tar's own file reader inflates 16 MiB reads in one go, which is how
// a 20 MB bomb once became a 4 GiB buffer) and count as they go: entries, path lengths, the sizes
// the headers declare (a bomb's header says 20 GiB before a byte of it is inflated) and the bytes
// actually inflated. Between the passes the data directory must have room for the result.
// The caller extracts into a fresh temp dir and deletes it on any error, so a refused archive
// leaves nothing behind. This module runs in the agent's heavy-work child (heavy-worker.ts).
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, realpath, chmod, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type * as TarModule from 'tar';
import {
  ArchiveLimitError,
  ArchiveRefusedError,
  DEFAULT_ARCHIVE_LIMITS,
  RATIO_FLOOR_BYTES,
  formatBytes,
  type ArchiveLimits,
} from './archive-errors';

import { checkFreeSpace, FILE_TYPES, segmentsOf, validateEntries, type StatFs } from './archive-rules';

export { ArchiveLimitError, ArchiveRefusedError } from './archive-errors';
export { checkFreeSpace, validateEntries, type ArchiveEntryInfo, type StatFs } from './archive-rules';

// Loaded on first use: only installs need it.
let tarModule: Promise<typeof TarModule> | undefined;
const loadTar = () => (tarModule ??= import('tar'));

type RawEntry = { path: string; type: string; linkpath?: string };

/** What a pass over an archive counted. */
export interface ArchiveScan {
  entries: RawEntry[];
  /** Sum of the sizes the entries' headers declare. */
  declaredBytes: number;
  /** Bytes of tar stream inflated (headers and padding included). */
  expandedBytes: number;
  /** Size of the archive file. */
  compressedBytes: number;
  /** Per entry size, for the free-space estimate. */
  sizes: number[];
}

const raise = (limit: keyof ArchiveLimits) =>
  `raise limits.${limit} in the agent config if this edition is genuine`;

/** Counts one entry against the limits; returns the refusal, if any. */
function checkEntry(
  scan: ArchiveScan,
  entry: { path: string; size?: number; linkpath?: string },
  limits: ArchiveLimits,
): ArchiveRefusedError | undefined {
  const count = scan.sizes.length + 1;
  if (count > limits.maxEntries) {
    return new ArchiveLimitError(
      `the archive has more than ${limits.maxEntries} entries (limit ${limits.maxEntries}); ${raise('maxEntries')}`,
      'maxEntries',
    );
  }
  for (const [what, p] of [
    ['path', entry.path],
    ['link target', entry.linkpath ?? ''],
  ] as const) {
    if (p.length > limits.maxPathLength) {
      return new ArchiveLimitError(
        `archive entry ${JSON.stringify(entry.path.slice(0, 80) + (entry.path.length > 80 ? '…' : ''))} has a ${what} of ${p.length} characters (limit ${limits.maxPathLength}); ${raise('maxPathLength')}`,
        'maxPathLength',
      );
    }
  }
  const size = Math.max(0, entry.size ?? 0);
  scan.sizes.push(size);
  scan.declaredBytes += size;
  return checkExpanded(scan.declaredBytes, scan.compressedBytes, limits);
}

/** The expanded total (declared or inflated so far) against maxExpandedBytes and the ratio. */
function checkExpanded(
  expanded: number,
  compressed: number,
  limits: ArchiveLimits,
): ArchiveRefusedError | undefined {
  if (expanded > limits.maxExpandedBytes) {
    return new ArchiveLimitError(
      `the archive expands past ${formatBytes(expanded)} (limit ${formatBytes(limits.maxExpandedBytes)}); ${raise('maxExpandedBytes')}`,
      'maxExpandedBytes',
    );
  }
  if (expanded > RATIO_FLOOR_BYTES && expanded > limits.maxExpansionRatio * compressed) {
    const ratio = Math.floor(expanded / Math.max(1, compressed));
    return new ArchiveLimitError(
      `the archive expands past ${formatBytes(expanded)}, ${ratio} times its compressed size of ${formatBytes(compressed)} (limit ${limits.maxExpansionRatio} times); ${raise('maxExpansionRatio')}`,
      'maxExpansionRatio',
    );
  }
  return undefined;
}

/** The archive as a stream of inflated tar bytes in small chunks (gzip or plain tar). */
async function inflated(file: string): Promise<{ source: Readable; compressed: number }> {
  const fh = await open(file, 'r');
  let magic: Buffer;
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    magic = buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const compressed = (await stat(file)).size;
  const raw = createReadStream(file, { highWaterMark: 64 * 1024 });
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return { source: raw, compressed };
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  return { source: pipeline(raw, gunzip, () => {}), compressed };
}

interface TarSink {
  write(chunk: Buffer): boolean;
  end(): unknown;
  on(ev: string, fn: (...a: unknown[]) => void): unknown;
  once(ev: string, fn: (...a: unknown[]) => void): unknown;
}

/**
 * Feeds the inflated archive into a node-tar Parser or Unpack (built by `makeSink`, whose filter
 * calls `admit` for every header) and counts as it goes. Throws the first refusal.
 */
async function pump(
  file: string,
  limits: ArchiveLimits,
  makeSink: (admit: (entry: { path: string; size?: number; linkpath?: string }) => boolean) => {
    sink: TarSink;
    doneEvent: 'end' | 'close';
  },
): Promise<ArchiveScan> {
  const { source, compressed } = await inflated(file);
  const scan: ArchiveScan = {
    entries: [],
    declaredBytes: 0,
    expandedBytes: 0,
    compressedBytes: compressed,
    sizes: [],
  };
  let refusal: Error | undefined;
  const admit = (entry: { path: string; size?: number; linkpath?: string }) => {
    refusal ??= checkEntry(scan, entry, limits);
    return refusal === undefined;
  };
  const { sink, doneEvent } = makeSink(admit);
  const done = new Promise<void>((resolve, reject) => {
    sink.once(doneEvent, () => resolve());
    // `on`, not `once`: a strict Unpack can emit several errors (one per entry it gives up on).
    sink.on('error', (e) => reject(e as Error));
  });
  done.catch(() => {}); // observed below; a refusal may come first
  // node-tar keeps everything written after the end-of-archive blocks in one growing buffer
  // (concatenated at every write): past the first null block the sink gets at most 1 MiB more, the
  // rest is only inflated and counted. An archive that goes on after that ends truncated (refused).
  let afterNull = -1;
  sink.once('nullBlock', () => (afterNull = 0));
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      scan.expandedBytes += chunk.length;
      refusal ??= checkExpanded(scan.expandedBytes, compressed, limits);
      if (refusal) break;
      if (afterNull >= 0 && (afterNull += chunk.length) > 1024 * 1024) continue;
      if (!sink.write(chunk)) {
        await Promise.race([new Promise((r) => sink.once('drain', r)), done]);
      }
      if (refusal) break;
    }
  } catch (err) {
    // A zlib error (not a gzip file, truncated) or the sink's: the callers word it.
    refusal ??= err as Error;
  }
  source.destroy();
  if (refusal) throw refusal;
  sink.end();
  try {
    await done;
  } catch (err) {
    throw refusal ?? err;
  }
  if (refusal) throw refusal;
  return scan;
}

/**
 * Lists the raw entries of a gzip (or plain) tar without writing anything, refusing it as soon as
 * it passes a limit.
 */
export async function listArchive(
  file: string,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<ArchiveScan> {
  const tar = await loadTar();
  let scan: ArchiveScan;
  const entries: RawEntry[] = [];
  try {
    scan = await pump(file, limits, (admit) => ({
      sink: new tar.Parser({
        strict: true,
        filter: (_path, entry) => admit(entry as TarModule.ReadEntry),
        onReadEntry: (entry) => {
          entries.push({
            path: entry.path,
            type: entry.type,
            ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
          });
          entry.resume();
        },
      }) as unknown as TarSink,
      doneEvent: 'end',
    }));
  } catch (err) {
    if (err instanceof ArchiveRefusedError) throw err;
    throw new ArchiveRefusedError(`the archive is not a readable gzip tar: ${(err as Error).message}`);
  }
  if (entries.length === 0) throw new ArchiveRefusedError('the archive is empty or not a tar archive');
  return { ...scan, entries };
}

/** Every symlink under root must resolve inside root; special files are refused; setuid bits dropped. */
async function verifyTree(root: string): Promise<number> {
  const realRoot = await realpath(root);
  let files = 0;
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of await readdir(dir)) {
      const abs = join(dir, name);
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs);
      if (st.isSymbolicLink()) {
        let resolved: string | undefined;
        try {
          resolved = await realpath(abs);
        } catch {
          resolved = undefined; // dangling inside link: harmless, validated lexically already
        }
        if (resolved !== undefined && resolved !== realRoot && !resolved.startsWith(realRoot + sep)) {
          throw new ArchiveRefusedError(
            `archive entry "${relPath}" is a symlink resolving outside the edition directory`,
          );
        }
      } else if (st.isDirectory()) {
        await walk(abs, relPath);
      } else if (st.isFile()) {
        files += 1;
        // An edition never needs setuid/setgid: an agent running as root must not hand them out.
        if (st.mode & 0o7000) await chmod(abs, st.mode & 0o777);
      } else {
        throw new ArchiveRefusedError(`archive entry "${relPath}" unpacked as a special file; refused`);
      }
    }
  }
  await walk(realRoot, '');
  return files;
}

export interface ExtractOptions {
  /** Default DEFAULT_ARCHIVE_LIMITS. */
  limits?: ArchiveLimits;
  /** Default fs.promises.statfs (tests inject a full disk). */
  statfs?: StatFs;
}

/**
 * Unpacks `archive` into `dest` (an existing, empty directory) or throws ArchiveRefusedError
 * (ArchiveLimitError when a limit is passed). On error the caller removes dest: this function may
 * have written inside it, never outside.
 */
export async function extractArchiveSafely(
  archive: string,
  dest: string,
  opts: ExtractOptions = {},
): Promise<{ files: number; expandedBytes: number }> {
  const limits = opts.limits ?? DEFAULT_ARCHIVE_LIMITS;
  const listing = await listArchive(archive, limits);
  const validated = validateEntries(listing.entries);
  await checkFreeSpace(dest, listing, limits, opts.statfs);
  const allowed = new Set(validated.map((e) => `${e.type}\0${e.path}`));
  const problems: string[] = [];
  const tar = await loadTar();
  try {
    await pump(archive, limits, (admit) => ({
      sink: new tar.Unpack({
        cwd: dest,
        strict: true,
        // Files belong to the agent's user even when it runs as root and the archive names owners.
        preserveOwner: false,
        filter: (path, entry) => {
          if (!admit(entry as TarModule.ReadEntry)) return false;
          // Defence in depth: re-validate against what step 1 admitted (the file could have changed).
          const type = 'type' in entry && typeof entry.type === 'string' ? entry.type : 'File';
          const kind = FILE_TYPES.has(type) ? 'File' : type;
          let norm: string;
          try {
            norm = segmentsOf(path, `archive entry ${JSON.stringify(path)}`).join('/');
          } catch (err) {
            problems.push((err as Error).message);
            return false;
          }
          if (!allowed.has(`${kind}\0${norm}`)) {
            problems.push(`archive entry ${JSON.stringify(path)} was not in the validated listing`);
            return false;
          }
          return true;
        },
        onwarn: (code, message) => {
          problems.push(`${code}: ${message}`);
        },
      }) as unknown as TarSink,
      doneEvent: 'close',
    }));
  } catch (err) {
    if (err instanceof ArchiveRefusedError) throw err;
    throw new ArchiveRefusedError(`unpacking failed: ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new ArchiveRefusedError(`unpacking refused: ${problems.join('; ')}`);
  return { files: await verifyTree(dest), expandedBytes: listing.declaredBytes };
}
