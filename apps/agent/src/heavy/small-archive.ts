// A small edition archive unpacked by the agent itself, without a worker (docs/adr/0051). Staging
// is on every rollout's path, and booting a thread that loads node-tar cost four agents on two
// cores about 0.4 s for a 2 KB archive. This reader takes only the plainest subset of tar: gzip,
// ustar headers with a valid checksum, regular files and directories, short names, octal sizes,
// nothing but zeros after the end. Anything else (links, pax or GNU long names, a prefix field,
// base-256 sizes, a truncated stream, a duplicate path) it does not refuse but *defers*: the
// caller hands the same verified bytes to the full unpacker (archive.ts), which applies every rule
// and words every refusal. What it does accept goes through the same rules first
// (archive-rules.ts: validateEntries, checkFreeSpace), so both unpackers admit the same archives.
// It stays off the event loop where it matters: the inflate runs on libuv's pool with a hard
// output bound, and the writes are asynchronous; only the header walk runs here, bounded by
// INLINE_MAX_ENTRIES.
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { ArchiveLimits } from './archive-errors';
import { checkFreeSpace, validateEntries, type StatFs } from './archive-rules';

/** Largest declared archive the agent unpacks itself, bytes; larger ones go to a worker. */
export const INLINE_MAX_INPUT_BYTES = 1024 * 1024;
/** Most bytes the inflated tar may have here (headers and padding included); past it, deferred. */
export const INLINE_MAX_EXPANDED_BYTES = 8 * 1024 * 1024;
/** Most entries walked on the agent's loop; past it, deferred. */
export const INLINE_MAX_ENTRIES = 2000;

const BLOCK = 512;
const inflate = promisify(gunzip);

/** One entry of the subset: a regular file or a directory, its bytes a view of the tar. */
export interface SmallEntry {
  path: string;
  type: 'File' | 'Directory';
  mode: number;
  mtimeS: number;
  data: Buffer;
}

/** A NUL-terminated header field as text. */
function field(h: Buffer, at: number, len: number): string {
  const raw = h.subarray(at, at + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

/** An octal number field, or undefined for anything else (base-256, stray characters). */
function octal(h: Buffer, at: number, len: number): number | undefined {
  if ((h[at] ?? 0) & 0x80) return undefined;
  const text = field(h, at, len).trim();
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(h: Buffer): boolean {
  const want = octal(h, 148, 8);
  if (want === undefined) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === want;
}

const isZero = (b: Buffer) => b.every((x) => x === 0);

/**
 * The entries of an uncompressed tar, or undefined when it is not the plain subset this reader
 * takes (the caller then uses the full unpacker). Pure; never throws.
 */
export function readSmallTar(tar: Buffer, maxEntries = INLINE_MAX_ENTRIES): SmallEntry[] | undefined {
  const out: SmallEntry[] = [];
  let at = 0;
  for (;;) {
    if (at + BLOCK > tar.length) return undefined; // no end-of-archive block: truncated
    const h = tar.subarray(at, at + BLOCK);
    if (isZero(h)) return isZero(tar.subarray(at)) && out.length > 0 ? out : undefined;
    if (out.length >= maxEntries || !checksumOk(h)) return undefined;
    const magic = h.subarray(257, 265).toString('latin1');
    // POSIX ustar with an empty prefix, or GNU's magic (whose prefix bytes are not a prefix).
    if (magic === 'ustar\u000000') {
      if (h[345] !== 0) return undefined;
    } else if (magic !== 'ustar  \u0000') return undefined;
    const flag = String.fromCharCode(h[156]!);
    const type = flag === '0' || flag === '\u0000' ? 'File' : flag === '5' ? 'Directory' : undefined;
    const name = field(h, 0, 100);
    const size = octal(h, 124, 12);
    const mode = octal(h, 100, 8);
    const mtimeS = octal(h, 136, 12);
    if (!type || name === '' || size === undefined || mode === undefined || mtimeS === undefined) {
      return undefined;
    }
    if (type === 'Directory' ? size !== 0 : name.endsWith('/')) return undefined;
    // node-tar reads a backslash as a separator (so `a\..\b` has a '..'): its rules, not ours.
    if (/[\\\u0000-\u001f\u007f]/.test(name)) return undefined;
    const start = at + BLOCK;
    if (start + size > tar.length) return undefined;
    out.push({ path: name, type, mode, mtimeS, data: tar.subarray(start, start + size) });
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
}

/**
 * Inflates and reads `gz`, or undefined when it is past this reader's bounds or subset (including
 * a limit of the agent config the full unpacker would word: entries, path length, expanded size).
 */
async function entriesOf(gz: Buffer, limits: ArchiveLimits): Promise<SmallEntry[] | undefined> {
  if (gz[0] !== 0x1f || gz[1] !== 0x8b) return undefined;
  let tar: Buffer;
  try {
    tar = await inflate(gz, { maxOutputLength: INLINE_MAX_EXPANDED_BYTES });
  } catch {
    return undefined; // too large for here, or not gzip: the full unpacker says which
  }
  const entries = readSmallTar(tar, Math.min(INLINE_MAX_ENTRIES, limits.maxEntries));
  if (!entries) return undefined;
  let declared = 0;
  for (const e of entries) {
    declared += e.data.length;
    if (e.path.length > limits.maxPathLength) return undefined;
  }
  return declared > limits.maxExpandedBytes ? undefined : entries;
}

/** True when two entries share a path, or an entry lies below a file: node-tar's to sort out. */
function overlaps(entries: { path: string; type: string }[]): boolean {
  const kinds = new Map<string, string>();
  for (const e of entries) {
    if (e.path === '') continue;
    if (kinds.has(e.path)) return true;
    kinds.set(e.path, e.type);
  }
  for (const p of kinds.keys()) {
    for (let d = dirname(p); d !== '.'; d = dirname(d)) if (kinds.get(d) === 'File') return true;
  }
  return false;
}

export interface SmallUnpackOptions {
  /** Stops the unpack between files; default none. */
  signal?: AbortSignal;
  /** Default fs.promises.statfs (tests inject a full disk). */
  statfs?: StatFs;
}

/**
 * Unpacks a small gzip tar into `dest` (an existing, empty directory), or returns undefined, having
 * written nothing, when the full unpacker must (see the head of this file). Throws the same
 * ArchiveRefusedError / ArchiveLimitError as the full unpacker for an entry the rules refuse or a
 * disk without room. On a throw the caller removes dest.
 */
export async function unpackSmallArchive(
  gz: Buffer,
  dest: string,
  limits: ArchiveLimits,
  opts: SmallUnpackOptions = {},
): Promise<{ files: number; expandedBytes: number } | undefined> {
  const { signal } = opts;
  const entries = await entriesOf(gz, limits);
  if (!entries) return undefined;
  const valid = validateEntries(entries);
  if (overlaps(valid)) return undefined;
  await checkFreeSpace(dest, { sizes: entries.map((e) => e.data.length) }, limits, opts.statfs);
  let files = 0;
  let expandedBytes = 0;
  const now = new Date();
  for (const [i, e] of entries.entries()) {
    signal?.throwIfAborted();
    const rel = valid[i]!.path;
    if (rel === '') continue; // dest itself
    const abs = join(dest, rel);
    // Modes as node-tar and archive.ts leave them: under the umask, a file never setuid or sticky,
    // a directory as mkdir(2) takes the mode (the sticky bit kept, setuid and setgid not).
    if (e.type === 'Directory') {
      await mkdir(dirname(abs), { recursive: true });
      await mkdir(abs, { mode: e.mode & 0o7777 || 0o777 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err; // made already as a file's parent: left as it is
      });
      continue;
    }
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, e.data, { flag: 'wx', mode: e.mode & 0o777 || 0o666 });
    await utimes(abs, now, new Date(e.mtimeS * 1000));
    files += 1;
    expandedBytes += e.data.length;
  }
  return { files, expandedBytes };
}

/**
 * Reads `input` while it stays within `max` bytes. `whole` is all of it when it ended by then;
 * `replay` yields what was read, then the rest of the stream (for the worker, when not whole or
 * when this reader defers).
 */
export async function takeSmall(
  input: AsyncIterable<Uint8Array>,
  max: number,
): Promise<{ whole: Buffer | undefined; replay: AsyncIterable<Uint8Array> }> {
  const it = input[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let ended = false;
  while (bytes <= max) {
    const next = await it.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    bytes += next.value.length;
  }
  async function* replay(): AsyncIterable<Uint8Array> {
    yield* chunks;
    if (ended) return;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  }
  return { whole: ended && bytes <= max ? Buffer.concat(chunks) : undefined, replay: replay() };
}
