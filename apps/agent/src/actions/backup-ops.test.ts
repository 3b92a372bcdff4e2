import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActionOp, BackupFilesResult, CommandResult } from '@rollgate/domain';
import { createLogger } from '@rollgate/logger';
import { freePort } from '@rollgate/test-kit';
import type { ArtifactChunk__Output } from '@rollgate/protocol';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupPath } from './backup-ops';
import { parseConfig, type ServiceConfig } from '../config';
import { inProcessHeavy } from '../../test/in-process-heavy';
import { extractArchiveSafely } from '../heavy/archive';
import { createEditionStore, type EditionStore } from '../heavy/edition-store';
import type { HealthMonitor } from '../rotation/health-monitor';
import { OpError, type OpContext, type OpOutcome } from './op-result';
import { createOpRunner, type OpRunner } from './ops';
import { createSupervisor, type Supervisor } from '../processes/supervisor';

const log = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let supervisor: Supervisor;
let editions: EditionStore;
let fetches: string[];
let lines: string[];
const artifacts = new Map<string, Buffer>();

const health: HealthMonitor = {
  start() {},
  stop() {},
  checkNow: async () => {},
  passed: async () => {},
  view: () => [],
  get: () => undefined,
};

function service(extra: Record<string, unknown> = {}): ServiceConfig {
  const r = parseConfig(
    {
      agentId: 'a1',
      cluster: 'c',
      role: 'admin',
      coordinator: { address: '127.0.0.1:1' },
      dataDir: join(dir, 'data'),
      gate: { port: 7070 },
      services: [
        {
          name: 'demo-app',
          port: 1,
          start: { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] },
          commands: {
            ok: { command: process.execPath, args: ['-e', 'console.log("line 1"); console.log("done")'] },
            fail: {
              command: process.execPath,
              args: ['-e', 'console.log("x".repeat(6000)); console.error("boom"); process.exit(3)'],
            },
          },
          ...extra,
        },
      ],
    },
    dir,
  );
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config.services[0]!;
}

function runner(
  s: ServiceConfig,
  env: Record<string, string> = {},
  deps: Partial<Parameters<typeof createOpRunner>[0]> = {},
): OpRunner {
  return createOpRunner({
    heavy: inProcessHeavy,
    dataDir: join(dir, 'data'),
    services: [s],
    backupsDir: join(dir, 'backups'),
    baseEnv: { PATH: process.env.PATH ?? '', ...env },
    editions,
    supervisor,
    health,
    setGateWish: async () => {},
    countConnections: async () => 0,
    isListening: async () => false,
    fetchArtifact: (sha256) => {
      fetches.push(sha256);
      const bytes = artifacts.get(sha256)!;
      return (async function* (): AsyncIterable<ArtifactChunk__Output> {
        yield { data: bytes, offset: 0, totalSize: bytes.length, sha256 };
      })();
    },
    lastOutput: () => undefined,
    ...deps,
  });
}

const ctx = (): OpContext => ({
  actionId: 'a',
  signal: new AbortController().signal,
  log: (_l, _c, m) => lines.push(m),
});

async function run(r: OpRunner, op: ActionOp): Promise<Exclude<OpOutcome, string>> {
  const out = await r(op, ctx());
  return typeof out === 'string' ? { summary: out } : out;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-backup-'));
  fetches = [];
  lines = [];
  editions = createEditionStore({ dataDir: join(dir, 'data'), unpack: (a, d) => extractArchiveSafely(a, d) });
  supervisor = createSupervisor({
    dataDir: join(dir, 'data'),
    baseEnv: {},
    log,
    onOutput: () => {},
    onExit: () => {},
  });
});
afterEach(async () => {
  await supervisor.stop('demo-app', 2000).catch(() => {});
  supervisor.close();
  await rm(dir, { recursive: true, force: true });
});

async function listArchive(file: string): Promise<string[]> {
  const out: string[] = [];
  await tar.list({ file, onReadEntry: (e) => void out.push(e.path) });
  return out;
}

describe('backupFiles', () => {
  it('issue 17 item 5: a files backup and its checksum are private: directories 0700, files 0600', async () => {
    await mkdir(join(dir, 'etc'), { recursive: true });
    await writeFile(join(dir, 'etc', 'app.conf'), 'secret=1\n');
    const r = runner(service({ backup: { directories: ['etc'] } }));
    await run(r, { op: 'backupFiles', service: 'demo-app', label: 'private-1' });
    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    expect(await mode(join(dir, 'backups'))).toBe(0o700);
    expect(await mode(join(dir, 'backups', 'demo-app'))).toBe(0o700);
    expect(await mode(join(dir, 'backups', 'demo-app', 'private-1.files.tar.gz'))).toBe(0o600);
    expect(await mode(join(dir, 'backups', 'demo-app', 'private-1.files.tar.gz.sha256'))).toBe(0o600);
  });

  it('archives the configured directories atomically, with checksum, size and entry count; a re-run keeps it', async () => {
    await mkdir(join(dir, 'etc', 'sub'), { recursive: true });
    await writeFile(join(dir, 'etc', 'app.conf'), 'port=8081\n');
    await writeFile(join(dir, 'etc', 'sub', 'x.txt'), 'x');
    await mkdir(join(dir, 'var'), { recursive: true });
    await writeFile(join(dir, 'var', 'state.db'), 'state');
    const s = service({ backup: { directories: ['etc', join(dir, 'var')] } });
    const r = runner(s);
    const first = await run(r, { op: 'backupFiles', service: 'demo-app', label: 'run-1' });
    const res = first.result as BackupFilesResult;
    expect(res.kind).toBe('backupFiles');
    expect(res.archive).toBe(join(dir, 'backups', 'demo-app', 'run-1.files.tar.gz'));
    expect(res.directories).toEqual([join(dir, 'etc'), join(dir, 'var')]);
    const bytes = await readFile(res.archive);
    expect(res.bytes).toBe(bytes.length);
    expect(res.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const entries = await listArchive(res.archive);
    expect(entries.length).toBe(res.entries);
    const rel = dir.slice(1);
    expect(entries).toEqual(
      expect.arrayContaining([`${rel}/etc/app.conf`, `${rel}/etc/sub/x.txt`, `${rel}/var/state.db`]),
    );
    expect(await readFile(`${res.archive}.sha256`, 'utf8')).toBe(`${res.sha256}  run-1.files.tar.gz\n`);
    // No temp file left behind.
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(join(dir, 'backups', 'demo-app'))).sort()).toEqual([
      'run-1.files.tar.gz',
      'run-1.files.tar.gz.sha256',
    ]);

    // Idempotent: a files change does not alter the kept archive.
    await writeFile(join(dir, 'etc', 'app.conf'), 'port=9999\n');
    const again = await run(r, { op: 'backupFiles', service: 'demo-app', label: 'run-1' });
    expect(again.result).toEqual(res);
    expect(again.summary).toMatch(/already backed up.*kept/);

    // Without its checksum file the archive is taken again.
    await rm(`${res.archive}.sha256`);
    const third = await run(r, { op: 'backupFiles', service: 'demo-app', label: 'run-1' });
    expect((third.result as BackupFilesResult).sha256).not.toBe(res.sha256);
  });

  it('fails clearly without configured directories, or with a missing one', async () => {
    await expect(
      run(runner(service()), { op: 'backupFiles', service: 'demo-app', label: 'l' }),
    ).rejects.toThrow(/configure services\[\]\.backup\.directories/);
    const r = runner(service({ backup: { directories: ['/nonexistent-rollgate-dir'] } }));
    await expect(run(r, { op: 'backupFiles', service: 'demo-app', label: 'l' })).rejects.toThrow(
      /\/nonexistent-rollgate-dir of demo-app cannot be read/,
    );
  });

  it('refuses a label or service that would leave the backups directory', () => {
    expect(() => backupPath('/b', 'demo-app', '../x', '.dump')).toThrow(/would leave \/b/);
    expect(() => backupPath('/b', '..', 'x', '.dump')).toThrow(/would leave/);
    expect(() => backupPath('/b', 'demo-app', 'a/b', '.dump')).toThrow(/would leave/);
    expect(backupPath('/b', 'demo-app', 'run-1', '.dump')).toBe('/b/demo-app/run-1.dump');
  });
});

describe('command results', () => {
  it('succeeds with exit code, output tail and ms', async () => {
    const s = service();
    await seedEdition(s);
    const out = await run(runner(s), {
      op: 'command',
      service: 'demo-app',
      command: 'ok',
      timeoutMs: 10_000,
    });
    const res = out.result as CommandResult;
    expect(res).toMatchObject({ kind: 'command', command: 'ok', exitCode: 0, outputTail: 'line 1\ndone\n' });
    // Measured in whole ms: a Node process cannot start, print and exit in under half a millisecond.
    expect(Number.isInteger(res.ms) && res.ms > 0, `ms = ${res.ms}`).toBe(true);
  });

  it('a failed command still carries its result: exit code and the last 4 KiB of output', async () => {
    const s = service();
    await seedEdition(s);
    const err = await run(runner(s), {
      op: 'command',
      service: 'demo-app',
      command: 'fail',
      timeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpError);
    const res = (err as OpError).result as CommandResult;
    expect((err as Error).message).toMatch(/exited with code 3; last output: boom/);
    expect(res.exitCode).toBe(3);
    expect(Buffer.byteLength(res.outputTail)).toBeLessThanOrEqual(4096);
    expect(res.outputTail.endsWith('boom\n')).toBe(true);
  });
});

async function tgz(files: Record<string, string>): Promise<{ bytes: Buffer; sha256: string }> {
  const src = await mkdtemp(join(dir, 'src-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(src, name), text);
  const file = join(dir, `edition-${Math.random().toString(36).slice(2)}.tgz`);
  await tar.create({ gzip: true, file, cwd: src, portable: true }, Object.keys(files));
  const bytes = await readFile(file);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function seedEdition(s: ServiceConfig): Promise<string> {
  const { bytes, sha256 } = await tgz({ 'server.mjs': 'setInterval(() => {}, 1000);\n' });
  artifacts.set(sha256, bytes);
  const r = runner(s);
  await run(r, { op: 'install', service: s.name, edition: '1.0', sha256, size: bytes.length });
  await run(r, { op: 'activate', service: s.name, edition: '1.0' });
  return sha256;
}

describe('uninstall', () => {
  it('refuses while the service runs; once stopped removes every edition, so install downloads again', async () => {
    const s = service();
    const sha1 = await seedEdition(s);
    const r = runner(s);
    const two = await tgz({ 'server.mjs': '// 2.0\nsetInterval(() => {}, 1000);\n' });
    artifacts.set(two.sha256, two.bytes);
    await run(r, {
      op: 'install',
      service: s.name,
      edition: '2.0',
      sha256: two.sha256,
      size: two.bytes.length,
    });
    expect(await editions.listInstalled('demo-app')).toEqual(['1.0', '2.0']);
    expect(fetches).toHaveLength(2);

    await run(r, { op: 'start', service: 'demo-app' });
    await expect(run(r, { op: 'uninstall', service: 'demo-app' })).rejects.toThrow(
      /is running .*stop it first/,
    );
    expect(await editions.listInstalled('demo-app')).toEqual(['1.0', '2.0']);

    await run(r, { op: 'stop', service: 'demo-app', timeoutMs: 2000 });
    const out = await run(r, { op: 'uninstall', service: 'demo-app' });
    expect(out.summary).toMatch(/removed editions 1\.0, 2\.0 \(active was 1\.0\)/);
    expect(await editions.listInstalled('demo-app')).toEqual([]);
    expect(await editions.activeEdition('demo-app')).toBeUndefined();
    await expect(stat(editions.serviceDir('demo-app'))).rejects.toThrow(/ENOENT/);

    // A following install downloads the archive again (it is not "already installed").
    const again = await run(r, { op: 'install', service: 'demo-app', edition: '1.0', sha256: sha1, size: 0 });
    expect(again.summary).toMatch(/^installed demo-app edition 1\.0/);
    expect(fetches).toEqual([sha1, two.sha256, sha1]);

    // Uninstalling nothing is fine (idempotent re-run).
    await run(r, { op: 'uninstall', service: 'demo-app' });
    expect((await run(r, { op: 'uninstall', service: 'demo-app' })).summary).toMatch(/no installed edition/);
  });
});

describe('secrets', () => {
  it('never reports a database password: a restoreCommand that prints it is masked in the error and the result', async () => {
    const leak = {
      command: process.execPath,
      args: [
        '-e',
        'console.log(process.env.ROLLGATE_DATABASE_URL, "pw:", process.env.PGPASSWORD); process.exit(1)',
      ],
    };
    const s = service({ commands: { leak }, database: { urlEnv: 'APP_DB_URL', restoreCommand: 'leak' } });
    const r = runner(s, { APP_DB_URL: 'postgres://app:s3cret-pw@127.0.0.1:1/appdb' });
    const missing = (await run(r, {
      op: 'dbRestore',
      service: 'demo-app',
      label: 'l',
      timeoutMs: 5000,
    }).catch((e: unknown) => e)) as Error;
    expect(missing.message).toMatch(
      /no database backup of demo-app labelled "l" on this server \(looked for .*l\.dump in the backups directory/,
    );
    await mkdir(join(dir, 'backups', 'demo-app'), { recursive: true });
    await writeFile(join(dir, 'backups', 'demo-app', 'l.dump'), 'not really a dump');
    const err = (await run(r, { op: 'dbRestore', service: 'demo-app', label: 'l', timeoutMs: 5000 }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toMatch(
      /command leak exited with code 1: postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/appdb pw: \*\*\*/,
    );
    expect(err.message).not.toContain('s3cret-pw');
    expect(lines.join('\n')).not.toContain('s3cret-pw');

    const unset = (await run(runner(s), {
      op: 'dbBackup',
      service: 'demo-app',
      label: 'x',
      verify: false,
      timeoutMs: 5000,
    }).catch((e: unknown) => e)) as Error;
    expect(unset.message).toMatch(/environment variable APP_DB_URL .* is not set/);
    const noDb = (await run(runner(service()), {
      op: 'dbBackup',
      service: 'demo-app',
      label: 'x',
      verify: true,
      timeoutMs: 0,
    }).catch((e: unknown) => e)) as Error;
    expect(noDb.message).toMatch(/demo-app has no database configured; add services\[\]\.database/);
  });
});

describe('waitHealthy', () => {
  it('issue 18: asks every few ms while nothing listens, but a service that answers 503 while it warms up only every pollMs (100 ms)', async () => {
    const port = await freePort();
    const s = service({ port });
    await seedEdition(s);
    const r = runner(s);
    await run(r, { op: 'start', service: s.name });
    // The service's health endpoint, played by the test: nothing listens for 300 ms, then 503 for
    // 600 ms, then 200.
    let asked = 0;
    let listening = 0;
    const server = createServer((_req, res) => {
      asked++;
      res.statusCode = performance.now() - listening < 600 ? 503 : 200;
      res.end();
    });
    const opened = new Promise<void>((resolve) =>
      setTimeout(() => {
        server.listen(port, '127.0.0.1', () => {
          listening = performance.now();
          resolve();
        });
      }, 300),
    );
    try {
      const out = await run(r, { op: 'waitHealthy', service: s.name, timeoutMs: 20_000 });
      await opened;
      expect(out.summary).toMatch(/^demo-app healthy after /);
      const answeredFor = performance.now() - listening;
      // Every 5 ms it would have been asked ~120 times in the 600 ms of 503s.
      expect(asked).toBeGreaterThanOrEqual(2);
      expect(asked).toBeLessThanOrEqual(Math.ceil(answeredFor / 100) + 3);
    } finally {
      server.close();
      await run(r, { op: 'stop', service: s.name, timeoutMs: 5000 });
    }
  });
});

describe('gate', () => {
  it("issue 18: an open wish leaves its fsync to the action's end; a closed one is durable before the op ends", async () => {
    const calls: { wish: string; later: boolean }[] = [];
    const r = runner(
      service(),
      {},
      {
        setGateWish: async (wish, _reason, later) => void calls.push({ wish, later: later !== undefined }),
      },
    );
    const later = () => {};
    await r({ op: 'gate', state: 'closed' }, { ...ctx(), syncLater: later });
    await r({ op: 'gate', state: 'open' }, { ...ctx(), syncLater: later });
    expect(calls).toEqual([
      { wish: 'closed', later: false },
      { wish: 'open', later: true },
    ]);
  });
});
