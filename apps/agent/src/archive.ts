// Safe unpacking of edition archives (gzip tar). Nothing may land outside the edition directory.
//
// node-tar already strips absolute paths and `..` and refuses to write through symlinks, but it
// does so by *silently* skipping entries, leaving a half-unpacked edition that looks complete. We
// refuse the whole archive instead, with a message naming the entry, in three layers:
//   1. list every entry first and validate the archive as a whole (nothing is written yet);
//   2. extract with `strict` (any tar warning is an error) and a filter that admits only the
//      entries validated in step 1;
//   3. walk the result and check every symlink resolves inside the directory.
// The caller extracts into a fresh temp dir and deletes it on any error, so a refused archive
// leaves nothing behind.
import { lstat, readdir, realpath, chmod } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type * as TarModule from 'tar';

// Loaded on first use: only installs need it, and an idle agent should stay small.
let tarModule: Promise<typeof TarModule> | undefined;
const loadTar = () => (tarModule ??= import('tar'));

/** The archive was refused; the message names the entry and why, for the operator. */
export class ArchiveRefusedError extends Error {
  override name = 'ArchiveRefusedError';
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const ALLOWED_TYPES = new Set([...FILE_TYPES, 'Directory', 'SymbolicLink', 'Link']);

export interface ArchiveEntryInfo {
  /** Normalized relative path ('' for the root directory entry). */
  path: string;
  type: string;
  linkpath?: string;
}

/** Splits a relative archive path into segments, refusing absolute paths and `..`. */
function segmentsOf(raw: string, what: string): string[] {
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

/** Lists the raw entries of a gzip (or plain) tar without writing anything. */
export async function listArchive(
  file: string,
): Promise<{ path: string; type: string; linkpath?: string }[]> {
  const entries: { path: string; type: string; linkpath?: string }[] = [];
  const tar = await loadTar();
  try {
    await tar.list({
      file,
      strict: true,
      onReadEntry: (entry) => {
        entries.push({
          path: entry.path,
          type: entry.type,
          ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
        });
      },
    });
  } catch (err) {
    throw new ArchiveRefusedError(`the archive is not a readable gzip tar: ${(err as Error).message}`);
  }
  if (entries.length === 0) throw new ArchiveRefusedError('the archive is empty or not a tar archive');
  return entries;
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

/**
 * Unpacks `archive` into `dest` (an existing, empty directory) or throws ArchiveRefusedError.
 * On error the caller removes dest: this function may have written inside it, never outside.
 */
export async function extractArchiveSafely(archive: string, dest: string): Promise<{ files: number }> {
  const validated = validateEntries(await listArchive(archive));
  const allowed = new Set(validated.map((e) => `${e.type}\0${e.path}`));
  const problems: string[] = [];
  const tar = await loadTar();
  try {
    await tar.extract({
      file: archive,
      cwd: dest,
      strict: true,
      // Files belong to the agent's user even when it runs as root and the archive names owners.
      preserveOwner: false,
      filter: (path, entry) => {
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
    });
  } catch (err) {
    throw new ArchiveRefusedError(`unpacking failed: ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new ArchiveRefusedError(`unpacking refused: ${problems.join('; ')}`);
  return { files: await verifyTree(dest) };
}
