// What an edition archive may hold and whether the disk has room for it: the rules both unpackers
// apply (archive.ts with node-tar in the heavy-work child, small-archive.ts in the agent itself,
// docs/adr/0051). Pure but for one statfs; loads neither `tar` nor zlib.
import { statfs as fsStatfs } from 'node:fs/promises';
import { ArchiveLimitError, ArchiveRefusedError, formatBytes, type ArchiveLimits } from './archive-errors';

export const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const ALLOWED_TYPES = new Set([...FILE_TYPES, 'Directory', 'SymbolicLink', 'Link']);

export interface ArchiveEntryInfo {
  /** Normalized relative path ('' for the root directory entry). */
  path: string;
  type: string;
  linkpath?: string;
}

/** Splits a relative archive path into segments, refusing absolute paths and `..`. */
export function segmentsOf(raw: string, what: string): string[] {
  if (raw.includes('\0')) throw new ArchiveRefusedError(`${what} contains a NUL byte`);
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.startsWith('\\')) {
    throw new ArchiveRefusedError(`${what} is an absolute path and would escape the edition directory`);
  }
  const segs = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.includes('..')) {
    throw new ArchiveRefusedError(`${what} has a '..' segment and would escape the edition directory`);
  }
  return segs;
}

/**
 * Validates a whole archive listing. Throws ArchiveRefusedError for: absolute paths, `..`
 * segments, device files, FIFOs and other special types, symlinks whose target leaves the
 * directory (or passes through another symlink, which could make a lexically-inside target point
 * outside), hardlinks to anything but a regular file of the same archive, entries below a symlink
 * (writing through it), and paths that appear twice with different types.
 */
export function validateEntries(
  raw: { path: string; type: string; linkpath?: string }[],
): ArchiveEntryInfo[] {
  const out: ArchiveEntryInfo[] = [];
  const typeOf = new Map<string, string>();
  for (const e of raw) {
    const what = `archive entry ${JSON.stringify(e.path)}`;
    if (!ALLOWED_TYPES.has(e.type)) {
      throw new ArchiveRefusedError(
        `${what} is a ${e.type}; only files, directories and links are allowed in an edition`,
      );
    }
    const segs = segmentsOf(e.path, what);
    const path = segs.join('/');
    const known = typeOf.get(path);
    const kind = FILE_TYPES.has(e.type) ? 'File' : e.type;
    if (known !== undefined && known !== kind) {
      throw new ArchiveRefusedError(`${what} appears twice with different types (${known}, ${kind})`);
    }
    typeOf.set(path, kind);
    out.push({ path, type: kind, ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}) });
  }
  const isSymlink = (p: string) => typeOf.get(p) === 'SymbolicLink';
  for (const e of out) {
    const what = `archive entry ${JSON.stringify(e.path)}`;
    // No entry may sit below a symlink: extracting it would write wherever the link points.
    const segs = e.path === '' ? [] : e.path.split('/');
    for (let i = 1; i < segs.length; i++) {
      const prefix = segs.slice(0, i).join('/');
      if (isSymlink(prefix))
        throw new ArchiveRefusedError(`${what} lies below the symlink "${prefix}"; refused`);
    }
    if (e.type === 'SymbolicLink') {
      const target = e.linkpath ?? '';
      if (target === '') throw new ArchiveRefusedError(`${what} is a symlink with an empty target`);
      if (target.startsWith('/')) {
        throw new ArchiveRefusedError(
          `${what} is a symlink to the absolute path ${JSON.stringify(target)}, outside the edition directory`,
        );
      }
      // Walk the target lexically from the link's directory. Every component walked *through*
      // must be a real directory of the archive, not another symlink, so the lexical answer is
      // the real one once unpacked.
      const stack = segs.slice(0, -1);
      const parts = target.split('/').filter((s) => s !== '' && s !== '.');
      parts.forEach((part, i) => {
        if (part === '..') {
          if (stack.length === 0) {
            throw new ArchiveRefusedError(
              `${what} is a symlink to ${JSON.stringify(target)}, which resolves outside the edition directory`,
            );
          }
          stack.pop();
        } else {
          stack.push(part);
          if (i < parts.length - 1 && isSymlink(stack.join('/'))) {
            throw new ArchiveRefusedError(
              `${what} is a symlink whose target ${JSON.stringify(target)} passes through another symlink; refused`,
            );
          }
        }
      });
    }
    if (e.type === 'Link') {
      const target = segmentsOf(
        e.linkpath ?? '',
        `hardlink ${JSON.stringify(e.path)} -> ${JSON.stringify(e.linkpath ?? '')}`,
      ).join('/');
      if (typeOf.get(target) !== 'File') {
        throw new ArchiveRefusedError(
          `${what} is a hardlink to ${JSON.stringify(e.linkpath ?? '')}, which is not a regular file of this archive`,
        );
      }
      const tsegs = target.split('/');
      for (let i = 1; i < tsegs.length; i++) {
        if (isSymlink(tsegs.slice(0, i).join('/'))) {
          throw new ArchiveRefusedError(
            `${what} is a hardlink through the symlink "${tsegs.slice(0, i).join('/')}"; refused`,
          );
        }
      }
    }
  }
  return out;
}

/** statfs as the free-space check needs it (injectable for tests). */
export type StatFs = (path: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;

/**
 * Refuses the unpack unless the file system of `dir` has room for the archive's entries (each
 * rounded up to whole blocks, one block per entry for its inode and directory slot) plus the margin.
 */
export async function checkFreeSpace(
  dir: string,
  scan: { sizes: readonly number[] },
  limits: Pick<ArchiveLimits, 'freeSpaceMarginBytes'>,
  statfs: StatFs = fsStatfs,
): Promise<{ need: number; free: number }> {
  const st = await statfs(dir);
  const bsize = Number(st.bsize) || 4096;
  const free = Number(st.bavail) * bsize;
  let expected = 0;
  for (const size of scan.sizes) expected += (Math.ceil(size / bsize) + 1) * bsize;
  const need = expected + limits.freeSpaceMarginBytes;
  if (free < need) {
    throw new ArchiveLimitError(
      `unpacking needs ${formatBytes(need)} free on ${dir} (${formatBytes(expected)} for the edition + ${formatBytes(limits.freeSpaceMarginBytes)} margin) but only ${formatBytes(free)} is free; free some space there (or lower limits.freeSpaceMarginBytes in the agent config)`,
      'freeSpaceMarginBytes',
    );
  }
  return { need, free };
}
