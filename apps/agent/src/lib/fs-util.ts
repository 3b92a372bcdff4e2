// Small file-system helpers shared by the state file, the edition store and the supervisor.
import { randomBytes } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Takes fsyncs an action needs done by its end but not before its next op (docs/adr/0050): the
 * executor awaits them all before it journals the action's result, and fails the action if one
 * rejected (the disk could not make a change durable).
 */
export type SyncLater = (sync: Promise<void>) => void;

/** Deeper than this, a copied tree is taken for a symlink loop. */
const MAX_TREE_DEPTH = 32;

/**
 * Copies the directory `src` to `dst` (which must not exist), following symlinks, with each file's
 * and directory's mode. What `fs.cp(src, dst, { recursive, dereference })` did, in a few calls per
 * entry where fs.cp makes ~10 (a service's configuration is copied while it is out of rotation,
 * docs/adr/0050), with bounds fs.cp lacks: a device (e.g. a file disabled as a link to /dev/null)
 * becomes an empty file rather than a read of the device, which for /dev/zero would never end; a
 * FIFO (whose read would block) or a socket is refused by name; a tree deeper than 32 levels is
 * taken for a symlink loop. One entry at a time: a failure leaves no copy still being written
 * into `dst` (the caller removes it), and a large tree does not queue the agent's other file I/O
 * behind it on libuv's four threads.
 */
export async function copyTree(src: string, dst: string, depth = 0): Promise<void> {
  if (depth > MAX_TREE_DEPTH) {
    throw new Error(`${src} is more than ${MAX_TREE_DEPTH} directories deep (a symlink loop?)`);
  }
  const { mode } = await stat(src);
  await mkdir(dst);
  for (const e of await readdir(src, { withFileTypes: true })) {
    const from = join(src, e.name);
    const to = join(dst, e.name);
    const st = e.isSymbolicLink() ? await stat(from) : e;
    if (st.isDirectory()) await copyTree(from, to, depth + 1);
    else if (st.isFile()) await copyFile(from, to);
    else if (st.isCharacterDevice() || st.isBlockDevice()) await writeFile(to, '', { mode: 0o644 });
    else
      throw new Error(
        `${from} is a FIFO or a socket; only files, directories and devices (as empty files) are copied`,
      );
  }
  await chmod(dst, mode & 0o7777);
}

/**
 * Writes a file so readers see either the old or the new content, never half of it: write a temp
 * file in the same directory, fsync it, rename it over the target, fsync the directory. With
 * `later`, the rename is done (and visible) when this resolves and both fsyncs go to `later`.
 */
export async function writeFileAtomic(
  path: string,
  data: string,
  mode = 0o644,
  later?: SyncLater,
): Promise<void> {
  const tmp = tempBeside(path);
  // 'wx': a temp name that exists already is never reused (nor followed, if it is a link).
  const fh = await open(tmp, 'wx', mode);
  let handedOver = false;
  try {
    await fh.writeFile(data);
    if (!later) await fh.sync();
    await renameOver(tmp, path);
    if (later) {
      // The descriptor still names the renamed file: its data, then the rename, made durable.
      handedOver = true;
      later(syncThenClose(fh).then(() => fsyncDir(dirname(path))));
      return;
    }
  } finally {
    if (!handedOver) await fh.close();
  }
  await fsyncDir(dirname(path));
}

async function syncThenClose(fh: FileHandle): Promise<void> {
  try {
    await fh.sync();
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * Replaces a file without any fsync: readers (and a restarted agent) see the old or the new
 * content. For records that mean nothing after a power loss, e.g. a pid file: no process
 * survives one, and a torn file reads as "not running".
 */
export async function replaceFile(path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = tempBeside(path);
  await writeFile(tmp, data, { mode, flag: 'wx' });
  await renameOver(tmp, path);
}

/** A fresh temp name beside `path`: the same directory, so renaming it over `path` is atomic. */
const tempBeside = (path: string) => join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);

/** Renames `tmp` over `path`; if that fails, the temp file goes and the error is rethrown. */
async function renameOver(tmp: string, path: string): Promise<void> {
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Makes a rename or create in dir durable; best effort (some file systems refuse). */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not every file system supports fsync on a directory; the rename itself is still atomic.
  }
}

/** Removes everything inside `dir`, keeping `dir` itself. */
export async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** Resolves after ms, or rejects with signal.reason as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
