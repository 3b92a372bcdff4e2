// The seed's backups before an upgrade: the service's files (backupFiles) and its database
// (dbBackup, optionally proven restorable in a scratch database), and the rollback's database
// restore (dbRestore). Everything is kept under <backupsDir>/<service>/<label>.*; a label is
// schema-validated and checked again here so no file can land outside that directory.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type {
  ActionOp,
  BackupFilesResult,
  CommandResult,
  DbBackupResult,
  DbRestoreResult,
} from '@rollgate/domain';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from '../heavy/archive-errors';
import type { ServiceConfig } from '../config';
import { errorMessage, fsyncDir, writeFileAtomic } from '../lib/fs-util';
import { createHeavyClient, type HeavyClient } from '../heavy/heavy-client';
import { OpError, type OpContext, type OpOutcome } from './op-result';
import {
  diffCounts,
  findPgBinDir,
  pgTarget,
  psqlCommand,
  quoteIdent,
  rowCounts,
  runPg,
  withDatabase,
  type PgRunOptions,
} from './pg-tools';

/** Defaults for a zero timeout (proto3 cannot tell unset from 0). */
export const BACKUP_DEFAULTS = { dbTimeoutMs: 30 * 60_000 } as const;

export interface BackupDeps {
  backupsDir: string;
  /** Archives and checksums run in the agent's work process; default a client with default limits. */
  heavy?: HeavyClient;
  /** Bounds on reading an archive back (its entry count); default DEFAULT_ARCHIVE_LIMITS. */
  archiveLimits?: ArchiveLimits;
  baseEnv: Record<string, string>;
  /** Runs one of the service's named commands (backupCommand / restoreCommand) with extra env. */
  runServiceCommand: (
    s: ServiceConfig,
    name: string,
    extraEnv: Record<string, string>,
    timeoutMs: number,
    ctx: OpContext,
  ) => Promise<CommandResult>;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Backups hold a service's files and database: nobody but the agent's user may read them, whatever
 * the umask (issue 17 item 5). Directories 0700, files 0600, set explicitly.
 */
export const BACKUP_DIR_MODE = 0o700;
export const BACKUP_FILE_MODE = 0o600;

/** Creates (or tightens) <backupsDir>/<service> as 0700; the backups root too when the agent creates it. */
export async function privateBackupDir(backupsDir: string, dir: string): Promise<void> {
  const created = await mkdir(resolve(backupsDir), { recursive: true, mode: BACKUP_DIR_MODE });
  if (created !== undefined) await chmod(resolve(backupsDir), BACKUP_DIR_MODE);
  await mkdir(dir, { recursive: true, mode: BACKUP_DIR_MODE });
  await chmod(dir, BACKUP_DIR_MODE);
}

/** <backupsDir>/<service>/<label><suffix>, refusing anything that would leave that directory. */
export function backupPath(backupsDir: string, service: string, label: string, suffix: string): string {
  const root = resolve(backupsDir);
  const dir = resolve(root, service);
  const file = resolve(dir, `${label}${suffix}`);
  if (
    !dir.startsWith(root + sep) ||
    !file.startsWith(dir + sep) ||
    label.includes('/') ||
    label.includes('\\') ||
    label.includes('..')
  ) {
    throw new Error(
      `backup label ${JSON.stringify(label)} (service ${JSON.stringify(service)}) would leave ${root}; use letters, digits, '.', '_' or '-'`,
    );
  }
  return file;
}

const fileExists = (p: string) =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

/** writeFileAtomic, then 0600 (it creates 0644 files; the directory is 0700 meanwhile). */
async function writePrivate(file: string, data: string): Promise<void> {
  await writeFileAtomic(file, data);
  await chmod(file, BACKUP_FILE_MODE);
}

/** `<sha256>  <name>` (sha256sum format), written atomically after the file it describes. */
async function writeChecksum(file: string, sha256: string): Promise<void> {
  await writePrivate(`${file}.sha256`, `${sha256}  ${file.slice(file.lastIndexOf(sep) + 1)}\n`);
}

async function readChecksum(file: string): Promise<string | undefined> {
  try {
    return (await readFile(`${file}.sha256`, 'utf8')).trim().split(/\s+/)[0];
  } catch {
    return undefined;
  }
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const tmpNameFor = (file: string) => `${file}.${randomBytes(6).toString('hex')}.tmp`;

export function createBackupOps(deps: BackupDeps) {
  const heavy = deps.heavy ?? createHeavyClient();
  const limits = deps.archiveLimits ?? DEFAULT_ARCHIVE_LIMITS;
  const sha256File = (file: string, signal?: AbortSignal) =>
    heavy.run({ kind: 'sha256', file }, signal ? { signal } : {});
  async function countEntries(archive: string): Promise<number> {
    return (await heavy.run({ kind: 'countEntries', archive, limits })).entries;
  }

  async function backupFiles(
    s: ServiceConfig,
    op: Extract<ActionOp, { op: 'backupFiles' }>,
    ctx: OpContext,
  ): Promise<OpOutcome> {
    const dirs = s.backup?.directories ?? [];
    if (dirs.length === 0) {
      throw new Error(
        `${s.name} has no backup directories; configure services[].backup.directories in the agent config (e.g. ["/etc/${s.name}"])`,
      );
    }
    const archive = backupPath(deps.backupsDir, s.name, op.label, '.files.tar.gz');
    const recorded = await readChecksum(archive);
    if (recorded !== undefined && (await fileExists(archive))) {
      // An idempotent re-run (e.g. a retried step): keep the archive taken first.
      const { sha256, bytes } = await sha256File(archive);
      if (sha256 !== recorded) {
        throw new Error(
          `the existing archive ${archive} does not match its checksum file (${recorded.slice(0, 12)}, now ${sha256.slice(0, 12)}); it was left alone — move it away or use a new label`,
        );
      }
      const result: BackupFilesResult = {
        kind: 'backupFiles',
        archive,
        bytes,
        sha256,
        entries: await countEntries(archive),
        directories: dirs,
      };
      return {
        summary: `${s.name} files already backed up under "${op.label}": ${archive} (${result.entries} entries, ${mb(bytes)}, sha256 ${sha256.slice(0, 12)}); kept`,
        result,
      };
    }
    for (const d of dirs) {
      let st;
      try {
        st = await stat(d);
      } catch (err) {
        throw new Error(
          `backup directory ${d} of ${s.name} cannot be read (${errorMessage(err)}); fix services[].backup.directories`,
        );
      }
      if (!st.isDirectory()) {
        throw new Error(
          `backup path ${d} of ${s.name} is not a directory; fix services[].backup.directories`,
        );
      }
    }
    await privateBackupDir(deps.backupsDir, resolve(archive, '..'));
    const tmp = tmpNameFor(archive);
    const started = performance.now();
    ctx.log('info', 'RG0075I', `backing up ${s.name} files: ${dirs.join(', ')} → ${archive}`);
    let made;
    try {
      // Paths stored relative to / (etc/demo-app/...), owners and modes kept for a faithful restore.
      made = await heavy.run(
        { kind: 'tarCreate', file: tmp, cwd: '/', paths: dirs.map((d) => resolve(d).slice(1) || '.') },
        { signal: ctx.signal },
      );
      await chmod(tmp, BACKUP_FILE_MODE);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await rename(tmp, archive);
      await fsyncDir(resolve(archive, '..'));
    } catch (err) {
      await rm(tmp, { force: true });
      if (ctx.signal.aborted) throw ctx.signal.reason;
      throw new Error(`could not archive ${s.name} files into ${archive}: ${errorMessage(err)}`);
    }
    const { sha256, bytes, entries } = made;
    await writeChecksum(archive, sha256);
    const result: BackupFilesResult = {
      kind: 'backupFiles',
      archive,
      bytes,
      sha256,
      entries,
      directories: dirs,
    };
    return {
      summary: `${s.name} files backed up: ${archive} (${entries} entries, ${mb(bytes)}, sha256 ${sha256.slice(0, 12)}) in ${secs(performance.now() - started)}`,
      result,
    };
  }

  function databaseOf(s: ServiceConfig) {
    const db = s.database;
    if (!db) {
      throw new Error(
        `${s.name} has no database configured; add services[].database ({ "urlEnv": "…" } or { "url": "postgres://…" }) to the agent config`,
      );
    }
    let url = db.url;
    if (url === undefined && db.urlEnv !== undefined) {
      url = deps.baseEnv[db.urlEnv];
      if (!url) {
        throw new Error(
          `the environment variable ${db.urlEnv} (services[].database.urlEnv of ${s.name}) is not set for the agent; set it in the agent's environment (e.g. its systemd unit) and restart the agent`,
        );
      }
    }
    if (url === undefined) throw new Error(`${s.name}: services[].database needs url or urlEnv`);
    return { db, target: pgTarget(url), url };
  }

  async function pgOptions(
    s: ServiceConfig,
    target: ReturnType<typeof pgTarget>,
    deadline: number,
    ctx: OpContext,
    what: string,
  ): Promise<PgRunOptions> {
    return {
      binDir: await findPgBinDir(s.database?.pgBinDir),
      target,
      deadline,
      signal: ctx.signal,
      baseEnv: deps.baseEnv,
      what,
    };
  }

  /** A configured backupCommand / restoreCommand: gets the file and the database in its environment. */
  async function runConfigured(
    s: ServiceConfig,
    name: string,
    file: string,
    url: string,
    target: ReturnType<typeof pgTarget>,
    deadline: number,
    ctx: OpContext,
  ): Promise<void> {
    const env: Record<string, string> = {
      ROLLGATE_BACKUP_FILE: file,
      ROLLGATE_DATABASE_URL: url,
      PGDATABASE: target.database,
      ...(target.password !== undefined ? { PGPASSWORD: target.password } : {}),
    };
    const r = await deps.runServiceCommand(s, name, env, Math.max(1, deadline - performance.now()), ctx);
    if (r.exitCode !== 0) {
      const tail = r.outputTail.trim().split('\n').slice(-3).join(' | ');
      throw new Error(`${s.name} command ${name} exited with code ${r.exitCode}${tail ? `: ${tail}` : ''}`);
    }
  }

  async function dbBackup(
    s: ServiceConfig,
    op: Extract<ActionOp, { op: 'dbBackup' }>,
    ctx: OpContext,
  ): Promise<OpOutcome> {
    const { db, target, url } = databaseOf(s);
    const file = backupPath(deps.backupsDir, s.name, op.label, '.dump');
    const metaFile = `${file}.json`;
    const timeout = op.timeoutMs || BACKUP_DEFAULTS.dbTimeoutMs;
    const started = performance.now();
    const deadline = started + timeout;

    // Idempotent re-run: a dump already taken (and verified, when asked) under this label is kept.
    try {
      const prev = JSON.parse(await readFile(metaFile, 'utf8')) as DbBackupResult;
      if ((await fileExists(file)) && (!op.verify || prev.verified)) {
        const { sha256 } = await sha256File(file);
        if (sha256 === prev.sha256) {
          return {
            summary: `${s.name} database already backed up under "${op.label}": ${file} (${mb(prev.bytes)}, sha256 ${sha256.slice(0, 12)}${prev.verified ? ', verified' : ''}); kept`,
            result: prev,
          };
        }
      }
    } catch {
      // no previous backup under this label
    }

    const o = await pgOptions(
      s,
      target,
      deadline,
      ctx,
      `count the rows of ${s.name}'s database ${target.database}`,
    );
    const tables = await rowCounts(o);
    await privateBackupDir(deps.backupsDir, resolve(file, '..'));
    const tmp = tmpNameFor(file);
    ctx.log('info', 'RG0075I', `backing up ${s.name} database ${target.url} → ${file}`);
    try {
      if (db.backupCommand !== undefined) {
        await runConfigured(s, db.backupCommand, tmp, url, target, deadline, ctx);
        if (!(await fileExists(tmp))) {
          throw new Error(
            `${s.name} command ${db.backupCommand} did not write the dump to $ROLLGATE_BACKUP_FILE (${tmp})`,
          );
        }
      } else {
        await runPg('pg_dump', ['--format=custom', `--file=${tmp}`, `--dbname=${target.url}`], {
          ...o,
          what: `dump ${s.name}'s database ${target.database}`,
        });
      }
      await chmod(tmp, BACKUP_FILE_MODE);
      await fsyncFile(tmp);
      await rename(tmp, file);
      await fsyncDir(resolve(file, '..'));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const { sha256, bytes } = await sha256File(file);
    await writeChecksum(file, sha256);
    const dumpMs = performance.now() - started;
    const result: DbBackupResult = {
      kind: 'dbBackup',
      file,
      bytes,
      sha256,
      tables,
      verified: false,
      verifyMs: 0,
    };
    const total = Object.values(tables).reduce((a, b) => a + b, 0);
    let how = '';

    if (op.verify && db.backupCommand !== undefined) {
      how = `; not verified: ${s.name} uses its own backupCommand (${db.backupCommand}), whose dumps the agent cannot test-restore`;
      ctx.log('warn', 'RG0075I', `${s.name} database backup${how}`);
    } else if (op.verify) {
      const vStarted = performance.now();
      const suffix = `_rg_verify_${randomBytes(3).toString('hex')}`;
      const scratchName = `${target.database.slice(0, 63 - suffix.length)}${suffix}`;
      const scratch = withDatabase(target, scratchName);
      ctx.log('info', 'RG0075I', `verifying the dump: restoring into scratch database ${scratchName}`);
      let created = false;
      try {
        await psqlCommand(`CREATE DATABASE ${quoteIdent(scratchName)}`, {
          ...o,
          what: `create the scratch database ${scratchName} (the database user needs CREATEDB to verify backups)`,
        });
        created = true;
        await runPg('pg_restore', ['--no-owner', '--no-acl', `--dbname=${scratch.url}`, file], {
          ...o,
          target: scratch,
          what: `restore the dump into the scratch database ${scratchName}`,
        });
        const restored = await rowCounts({
          ...o,
          target: scratch,
          what: `count the rows restored into ${scratchName}`,
        });
        const diff = diffCounts(tables, restored);
        result.verifyMs = Math.round(performance.now() - vStarted);
        if (diff.length > 0) {
          throw new OpError(
            `the backup of ${s.name}'s database did not restore the same rows: ${diff.join('; ')}; if the application was writing during the backup, stop it and back up again`,
            { ...result },
          );
        }
        result.verified = true;
        how = `, verified by a test restore in ${secs(result.verifyMs)}`;
      } catch (err) {
        result.verifyMs = Math.round(performance.now() - vStarted);
        if (err instanceof OpError || ctx.signal.aborted) throw err;
        throw new OpError(`the backup of ${s.name}'s database could not be verified: ${errorMessage(err)}`, {
          ...result,
        });
      } finally {
        if (created) {
          // Drop even after a timeout or a cancel: give the drop its own short deadline and signal.
          await psqlCommand(`DROP DATABASE IF EXISTS ${quoteIdent(scratchName)} WITH (FORCE)`, {
            ...o,
            deadline: performance.now() + 30_000,
            signal: new AbortController().signal,
            what: `drop the scratch database ${scratchName}`,
          }).catch((err: unknown) =>
            ctx.log(
              'warn',
              'RG0075I',
              `could not drop the scratch database ${scratchName}: ${errorMessage(err)}; drop it by hand`,
            ),
          );
        }
      }
    }
    await writePrivate(metaFile, `${JSON.stringify(result, null, 2)}\n`);
    return {
      summary: `${s.name} database backed up: ${file} (${Object.keys(tables).length} tables, ${total} rows, ${mb(bytes)}, sha256 ${sha256.slice(0, 12)}) in ${secs(dumpMs)}${how}`,
      result,
    };
  }

  async function dbRestore(
    s: ServiceConfig,
    op: Extract<ActionOp, { op: 'dbRestore' }>,
    ctx: OpContext,
  ): Promise<OpOutcome> {
    const { db, target, url } = databaseOf(s);
    const file = backupPath(deps.backupsDir, s.name, op.label, '.dump');
    if (!(await fileExists(file))) {
      throw new Error(
        `there is no database backup of ${s.name} labelled "${op.label}" on this server (looked for ${file} in the backups directory ${deps.backupsDir}); run dbBackup with that label first, or restore on the server that took it`,
      );
    }
    const recorded = await readChecksum(file);
    if (recorded !== undefined) {
      const { sha256 } = await sha256File(file);
      if (sha256 !== recorded) {
        throw new Error(
          `the backup ${file} does not match its checksum file (recorded ${recorded.slice(0, 12)}, now ${sha256.slice(0, 12)}); it was not restored`,
        );
      }
    }
    const timeout = op.timeoutMs || BACKUP_DEFAULTS.dbTimeoutMs;
    const started = performance.now();
    const deadline = started + timeout;
    const o = await pgOptions(s, target, deadline, ctx, `restore ${s.name}'s database ${target.database}`);
    ctx.log('info', 'RG0075I', `restoring ${s.name} database ${target.url} from ${file}`);
    if (db.restoreCommand !== undefined) {
      await runConfigured(s, db.restoreCommand, file, url, target, deadline, ctx);
    } else {
      await runPg(
        'pg_restore',
        ['--clean', '--if-exists', '--no-owner', '--single-transaction', `--dbname=${target.url}`, file],
        o,
      );
    }
    const tables = await rowCounts({ ...o, what: `count the rows of ${s.name}'s restored database` });
    const result: DbRestoreResult = { kind: 'dbRestore', file, tables };
    const total = Object.values(tables).reduce((a, b) => a + b, 0);
    return {
      summary: `${s.name} database restored from "${op.label}" (${Object.keys(tables).length} tables, ${total} rows) in ${secs(performance.now() - started)}`,
      result,
    };
  }

  return { backupFiles, dbBackup, dbRestore };
}
