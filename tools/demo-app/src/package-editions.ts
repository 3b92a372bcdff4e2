// Builds demo-app edition archives: one gzip tar per edition holding server.mjs and edition.json
// ({ name, schema }); editions of schema 2 (major version 2 and later, e.g. "2.0") also carry
// migrate.mjs and declare the database upgrade command `db-upgrade` (the agent config maps that
// command to `node migrate.mjs`, run in the active edition's directory).
//
// The archives are deterministic (fixed mtime, fixed modes, portable headers and gzip header, sorted
// entries) so the same source always yields the same sha256: tests and the demo fleet can refer to
// an edition by digest without rebuilding surprises.
//
// CLI: tsx tools/demo-app/src/package-editions.ts <outDir> [edition ...]
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

export interface DemoEdition {
  name: string;
  /** Absolute path of the .tgz. */
  path: string;
  /** Lowercase hex sha256 of the .tgz bytes. */
  sha256: string;
  /** Size of the .tgz in bytes. */
  size: number;
  /** Database schema the edition expects: 1 (items(id, name)) or 2 (adds items.note). */
  schema: 1 | 2;
  /** Set on schema-2 editions: the command the upgrade runs once (upload it with the edition). */
  dbUpgradeCommand?: string;
}

/** The command name a schema-2 edition declares as its database upgrade. */
export const DB_UPGRADE_COMMAND = 'db-upgrade';

/** Every entry gets this mtime so the archive bytes do not depend on when it was built. */
const FIXED_MTIME = new Date('2020-01-01T00:00:00Z');

/** Edition names end up in file names and paths: same rule as the domain's SAFE_NAME. */
const EDITION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Absolute path of the demo service source that goes into every archive. */
export function demoServerPath(): string {
  return fileURLToPath(new URL('./server.mjs', import.meta.url));
}

/** Absolute path of the schema migration shipped in schema-2 archives. */
export function demoMigratePath(): string {
  return fileURLToPath(new URL('./migrate.mjs', import.meta.url));
}

/** Absolute path of a demo hook script (tools/demo-app/hooks/<name>.mjs). */
export function demoHookPath(name: 'snapshot' | 'restore-snapshot' | 'repository-check' | 'db-init'): string {
  return fileURLToPath(new URL(`../hooks/${name}.mjs`, import.meta.url));
}

/** Schema 2 from major version 2 on ("2.0", "2.1", "3.0"); schema 1 before ("1.0", "1.1"). */
export function editionSchema(name: string): 1 | 2 {
  const major = Number.parseInt(name, 10);
  return Number.isInteger(major) && major >= 2 ? 2 : 1;
}

/**
 * Writes `demo-app-<name>.tgz` for each edition name into outDir (created if missing).
 * @param outDir where the archives go
 * @param names edition names; default ['1.0', '2.0']
 */
export async function buildDemoEditions(
  outDir: string,
  names: string[] = ['1.0', '2.0'],
): Promise<DemoEdition[]> {
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  const editions: DemoEdition[] = [];
  for (const name of names) {
    if (!EDITION_NAME.test(name) || name.includes('..')) {
      throw new Error(
        `edition name ${JSON.stringify(name)} is not allowed: use 1-64 letters, digits, '.', '_' or '-' (e.g. "2.0")`,
      );
    }
    const staging = await mkdtemp(join(tmpdir(), 'demo-edition-'));
    try {
      const schema = editionSchema(name);
      // sorted: archive order is part of the digest
      const entries =
        schema >= 2 ? ['edition.json', 'migrate.mjs', 'server.mjs'] : ['edition.json', 'server.mjs'];
      await copyFile(demoServerPath(), join(staging, 'server.mjs'));
      if (schema >= 2) await copyFile(demoMigratePath(), join(staging, 'migrate.mjs'));
      await writeFile(join(staging, 'edition.json'), `${JSON.stringify({ name, schema })}\n`);
      for (const entry of entries) {
        // Modes and mtimes come from the file system; pin them so the umask and clock do not leak in.
        await chmod(join(staging, entry), 0o644);
        await utimes(join(staging, entry), FIXED_MTIME, FIXED_MTIME);
      }
      const path = join(out, `demo-app-${name}.tgz`);
      await tar.create(
        { gzip: { portable: true, level: 9 }, portable: true, mtime: FIXED_MTIME, cwd: staging, file: path },
        entries,
      );
      const bytes = await readFile(path);
      editions.push({
        name,
        path,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        size: (await stat(path)).size,
        schema,
        ...(schema >= 2 ? { dbUpgradeCommand: DB_UPGRADE_COMMAND } : {}),
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return editions;
}

const invokedDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const [outDir, ...names] = process.argv.slice(2);
  if (!outDir) {
    console.error(
      'usage: tsx tools/demo-app/src/package-editions.ts <outDir> [edition ...]   (default editions: 1.0 2.0)',
    );
    process.exit(2);
  }
  buildDemoEditions(outDir, names.length > 0 ? names : undefined).then(
    (editions) => {
      for (const e of editions) console.log(`${e.name}\t${e.sha256}\t${e.size}\t${e.path}`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
