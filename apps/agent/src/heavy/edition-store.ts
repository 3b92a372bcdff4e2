// Editions on disk, side by side and never overwritten:
//
//   <dataDir>/editions/<service>/<edition>/            unpacked archive (+ config/, rollgate.env.json)
//   <dataDir>/editions/<service>/<edition>/.rollgate-edition.json   {service, edition, sha256, size, installedAt}
//   <dataDir>/editions/<service>/current -> <edition>  relative symlink, switched atomically
//
// An edition directory appears only complete: archives are unpacked into a temp dir next to it
// and renamed into place, so a crash never leaves a half-installed edition behind.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SAFE_NAME } from '@rollgate/domain';
import { copyTree, fsyncDir, writeFileAtomic, type SyncLater } from '../lib/fs-util';

export const EDITION_META = '.rollgate-edition.json';
export const ENV_FILE = 'rollgate.env.json';

export interface EditionMeta {
  service: string;
  edition: string;
  sha256: string;
  size: number;
  installedAt: number;
}

/** Throws a readable error unless the name is safe to use as a directory name. */
export function checkEditionName(edition: string): void {
  if (!SAFE_NAME.test(edition) || edition.includes('..') || edition === 'current') {
    throw new Error(
      `edition name ${JSON.stringify(edition)} is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, not "current" (e.g. "2.0")`,
    );
  }
}

/** Unpacks an archive into an existing empty directory; throws ArchiveRefusedError to refuse it. */
export type Unpacker = (archive: string, dest: string) => Promise<{ files: number }>;

export interface EditionStoreOptions {
  dataDir: string;
  /**
   * Does the unpacking: in the agent, its heavy-work child (heavy-client.ts), so a large or hostile
   * archive never runs on the loop that serves the gate; tests may pass archive.ts directly.
   */
  unpack: Unpacker;
  /** Clock; default Date.now. */
  now?: () => number;
}

export interface EditionStore {
  serviceDir(service: string): string;
  editionDir(service: string, edition: string): string;
  /** Installed edition names, sorted. */
  listInstalled(service: string): Promise<string[]>;
  readMeta(service: string, edition: string): Promise<EditionMeta | undefined>;
  /** Name the `current` symlink points at, if any. */
  activeEdition(service: string): Promise<string | undefined>;
  /**
   * Unpacks a verified archive as a new edition. Throws (leaving nothing behind) if the archive
   * is refused or the edition appeared meanwhile.
   */
  installArchive(
    service: string,
    edition: string,
    archive: string,
    sha256: string,
    size: number,
  ): Promise<{ files: number }>;
  /**
   * installArchive with the unpacking done by `fill` into an empty temp dir beside the edition
   * (the agent's install: download, verify and unpack in one child, docs/adr/0044). Whatever
   * `fill` throws leaves nothing behind.
   */
  installWith(
    service: string,
    edition: string,
    sha256: string,
    size: number,
    fill: (dest: string) => Promise<{ files: number }>,
  ): Promise<{ files: number }>;
  /**
   * Points `current` at an installed edition (temp symlink + rename: never a moment without one).
   * With `later`, the rename's fsync goes there (an action's end, docs/adr/0050); default: awaited.
   */
  activate(service: string, edition: string, later?: SyncLater): Promise<{ previous: string | undefined }>;
  /**
   * Removes every installed edition of the service, its `current` link and leftovers (rebuild):
   * the directory is renamed away first, so no half-removed edition is ever listed.
   */
  uninstall(service: string): Promise<{ editions: string[]; active: string | undefined }>;
  /**
   * Copies configDir to <edition>/config/ and writes <edition>/rollgate.env.json. With `later`,
   * the env file's fsyncs go there (an action's end, docs/adr/0050); default: awaited.
   */
  configure(
    service: string,
    edition: string,
    configDir: string | undefined,
    env: Record<string, string>,
    later?: SyncLater,
  ): Promise<void>;
}

export function createEditionStore(opts: EditionStoreOptions): EditionStore {
  const now = opts.now ?? Date.now;
  const root = join(opts.dataDir, 'editions');
  const serviceDir = (service: string) => join(root, service);
  const editionDir = (service: string, edition: string) => {
    checkEditionName(edition);
    return join(root, service, edition);
  };
  const tmpName = (prefix: string) => `.${prefix}-${randomBytes(6).toString('hex')}`;

  async function readMeta(service: string, edition: string): Promise<EditionMeta | undefined> {
    try {
      return JSON.parse(
        await readFile(join(editionDir(service, edition), EDITION_META), 'utf8'),
      ) as EditionMeta;
    } catch {
      return undefined;
    }
  }

  async function requireInstalled(service: string, edition: string): Promise<void> {
    if (!(await readMeta(service, edition))) {
      throw new Error(`${service} edition ${edition} is not installed; install it first`);
    }
  }

  return {
    serviceDir,
    editionDir,
    async listInstalled(service) {
      let names: string[];
      try {
        names = await readdir(serviceDir(service));
      } catch {
        return [];
      }
      const out: string[] = [];
      for (const n of names) {
        if (n.startsWith('.') || n === 'current') continue;
        if (await readMeta(service, n)) out.push(n);
      }
      return out.sort();
    },
    readMeta,
    async activeEdition(service) {
      try {
        return await readlink(join(serviceDir(service), 'current'));
      } catch {
        return undefined;
      }
    },
    installArchive(service, edition, archive, sha256, size) {
      return this.installWith(service, edition, sha256, size, (dest) => opts.unpack(archive, dest));
    },
    async installWith(service, edition, sha256, size, fill) {
      const target = editionDir(service, edition);
      await mkdir(serviceDir(service), { recursive: true });
      // Temp dir next to the target: same file system, so the final rename is atomic.
      const tmp = join(serviceDir(service), tmpName(`install-${edition}`));
      await mkdir(tmp);
      try {
        const { files } = await fill(tmp);
        const meta: EditionMeta = { service, edition, sha256, size, installedAt: now() };
        await writeFile(join(tmp, EDITION_META), `${JSON.stringify(meta, null, 2)}\n`);
        try {
          await lstat(target);
          throw new Error(
            `${service} edition ${edition} appeared while installing; editions are never overwritten`,
          );
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        await rename(tmp, target);
        await fsyncDir(serviceDir(service));
        return { files };
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    },
    async activate(service, edition, later) {
      await requireInstalled(service, edition);
      const dir = serviceDir(service);
      const previous = await this.activeEdition(service);
      const tmp = join(dir, tmpName('current'));
      // Relative target: the data dir can be moved or mounted elsewhere without breaking it.
      await symlink(edition, tmp);
      try {
        await rename(tmp, join(dir, 'current'));
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      if (later) later(fsyncDir(dir));
      else await fsyncDir(dir);
      return { previous };
    },
    async uninstall(service) {
      if (!SAFE_NAME.test(service) || service.includes('..')) {
        throw new Error(`service name ${JSON.stringify(service)} is not allowed`);
      }
      const editions = await this.listInstalled(service);
      const active = await this.activeEdition(service);
      const dir = serviceDir(service);
      const trash = join(root, tmpName(`uninstall-${service}`));
      try {
        await rename(dir, trash);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { editions: [], active: undefined };
        throw err;
      }
      await fsyncDir(root);
      await rm(trash, { recursive: true, force: true });
      return { editions, active };
    },
    async configure(service, edition, configDir, env, later) {
      await requireInstalled(service, edition);
      const dir = editionDir(service, edition);
      if (configDir !== undefined) {
        // Copy beside, then swap, so the edition never sees a half-copied config/.
        const tmp = join(dir, tmpName('config'));
        try {
          await copyTree(configDir, tmp);
        } catch (err) {
          await rm(tmp, { recursive: true, force: true });
          throw new Error(
            `could not copy configDir ${configDir}: ${(err as Error).message}; check the service's configDir in the agent config`,
          );
        }
        await rm(join(dir, 'config'), { recursive: true, force: true });
        await rename(tmp, join(dir, 'config'));
      }
      await writeFileAtomic(join(dir, ENV_FILE), `${JSON.stringify(env, null, 2)}\n`, 0o644, later);
    },
  };
}
