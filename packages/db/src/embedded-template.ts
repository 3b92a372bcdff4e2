// A coordinator data directory holding an initialised, cleanly stopped embedded cluster, made once
// per integration test run and copied as the data directory of every coordinator the run starts
// (docs/adr/0048): initdb takes seconds on a busy machine and its output is the same every time.
import os from 'node:os';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createEmbeddedPostgres, silentLogger } from './embedded-postgres';
import { probeAnswers } from './pg-probe';

export interface EmbeddedTemplateOptions {
  /** Root only: where the world-readable copy of the PostgreSQL binaries is cached. Default: `os.tmpdir()`. */
  binaryCacheDir?: string;
  /** How long the one start may take. Default: 120 000 ms (the machine running the tests is busy). */
  startTimeoutMs?: number;
}

/**
 * Makes `dir` a data directory of a stopped embedded cluster: initdb (as a coordinator's first
 * start does), one start to check it answers, a fast shutdown. Its persisted port is cleared, so
 * each copy picks a free one; the superuser password is the same in every copy (loopback only,
 * for tests). A copy (`cp -a dir/. <data dir>`) is then adopted by createDb as its own cluster:
 * it creates the database and applies the migrations as on any start.
 */
export async function createEmbeddedTemplate(dir: string, opts: EmbeddedTemplateOptions = {}): Promise<void> {
  const dataDir = path.resolve(dir);
  // The postgres user (as root) must traverse down to the cluster for it to live in <dir>/pg.
  await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
  const server = createEmbeddedPostgres({
    dataDir,
    binaryCacheDir: opts.binaryCacheDir ?? os.tmpdir(),
    logger: silentLogger,
    startTimeoutMs: opts.startTimeoutMs ?? 120_000,
    stopTimeoutMs: 30_000,
  });
  await server.start((port, password) =>
    probeAnswers({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' }),
  );
  await server.stop();
  if (server.pgDir !== path.join(dataDir, 'pg')) {
    throw new Error(
      `the template cluster went to ${server.pgDir}, not under ${dataDir} (the postgres user cannot reach it): choose a directory every user can traverse, e.g. under ${os.tmpdir()}`,
    );
  }
  const stateFile = path.join(dataDir, 'pg-state.json');
  const state = JSON.parse(await fs.readFile(stateFile, 'utf8')) as { port: number | null };
  state.port = null;
  await fs.writeFile(stateFile, JSON.stringify(state), { mode: 0o600 });
  await fs.rm(path.join(dataDir, 'postgres.log'), { force: true });
}
