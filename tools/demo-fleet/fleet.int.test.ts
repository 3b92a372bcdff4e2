// The demo fleet with an application database, a test machine and an injected failure: the agent
// configs it writes, the seeded database every demo-app reads, and the editions it uploads.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { psqlQuery, startAppPostgres, type AppPostgres } from '@rollgate/app-db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, TEST_MACHINE, type Fleet } from './fleet';

let dir: string;
let db: AppPostgres | undefined;
let fleet: Fleet | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'demo-fleet-'));
  // As root the cluster runs as `postgres`, which must reach it (else it goes to a fallback dir).
  await chmod(dir, 0o755);
  db = await startAppPostgres({ dir: join(dir, 'app-db') });
  fleet = await startFleet({
    dir: join(dir, 'fleet'),
    heartbeatMs: 500,
    agents: [
      { id: 'admin-1', role: 'admin' },
      { id: 'admin-2', role: 'admin' },
    ],
    appDatabaseUrl: db.url,
    testMachine: true,
    failEdition: { 'admin-2': '2.0' },
  });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

type ServiceCfg = {
  name: string;
  env: Record<string, string>;
  commands: Record<string, { command: string; args: string[] }>;
  database?: { url: string; pgBinDir?: string };
  backup?: { directories: string[] };
  configDir?: string;
};
const readConfig = async (path: string) =>
  JSON.parse(await readFile(path, 'utf8')) as {
    agentId: string;
    cluster: string;
    role: string;
    services: ServiceCfg[];
    testAccounts?: Record<string, { username: string; password: string }>;
  };

function runCommand(spec: { command: string; args: string[] }, cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = spawn(spec.command, spec.args, { cwd, env: { ...process.env, ...env } });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.once('close', (code) => resolve({ code, out }));
  });
}

describe('demo fleet with an application database', () => {
  it('exposes the app database URL and the test machine', () => {
    expect(fleet!.appDatabaseUrl).toBe(db!.url);
    expect(fleet!.testMachineId).toBe(TEST_MACHINE.id);
    expect(fleet!.agents.map((a) => a.id)).toEqual(['admin-1', 'admin-2']);
  });

  it('writes database, backup, commands and the injected failure into the demo-app agent configs', async () => {
    const [a1, a2] = fleet!.agents;
    const c1 = await readConfig(a1!.configPath);
    const s = c1.services[0]!;
    expect(s.name).toBe('demo-app');
    expect(s.database).toEqual({ url: db!.url, pgBinDir: db!.binDir });
    expect(s.backup).toEqual({ directories: [a1!.configDir] });
    expect(s.env.DATABASE_URL).toBe(db!.url);
    expect(Object.keys(s.commands).sort()).toEqual([
      'db-init',
      'db-upgrade',
      'repository-check',
      'restore-snapshot',
      'snapshot',
    ]);
    expect(s.commands['db-upgrade']!.args).toEqual(['migrate.mjs']);
    expect(s.env.DEMO_FAIL_EDITION).toBeUndefined();
    const c2 = await readConfig(a2!.configPath);
    expect(c2.services[0]!.env.DEMO_FAIL_EDITION).toBe('2.0');
  });

  it('writes the test machine config: own cluster and role, the test account', async () => {
    const c = await readConfig(fleet!.tester!.configPath);
    expect(c).toMatchObject({ agentId: 'tester-1', cluster: 'demo-tests', role: 'tester' });
    expect(c.testAccounts).toEqual({ demo: { username: 'demo', password: 'demo-password' } });
    const servers = await fleet!.api.servers.list.query({});
    expect(servers.find((x) => x.id === 'tester-1')?.status).toBe('connected');
  });

  it('seeded the database; every demo-app reads it through the agent-provided env', async () => {
    expect(await psqlQuery(db!.url, 'SELECT count(*) FROM items')).toBe('4');
    for (const a of fleet!.agents) {
      const r = await fetch(`http://127.0.0.1:${a.servicePort}/items`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as { edition: string; items: unknown[] };
      expect(body.edition).toBe('1.0');
      expect(body.items).toHaveLength(4);
    }
  });

  it('uploads 2.0 declaring its database upgrade command', async () => {
    const editions = await fleet!.api.editions.list.query({ app: 'demo-app' });
    const e2 = editions.find((e) => e.name === '2.0');
    expect(e2?.dbUpgradeCommand).toBe('db-upgrade');
    expect(editions.find((e) => e.name === '1.0')?.dbUpgradeCommand).toBeUndefined();
  });

  it('its hook commands work as configured (run in the active edition dir, with the service env)', async () => {
    const a = fleet!.agents[0]!;
    const s = (await readConfig(a.configPath)).services[0]!;
    const cwd = join(a.dataDir, 'editions', 'demo-app', 'current');
    const check = await runCommand(s.commands['repository-check']!, cwd, s.env);
    expect(check.code, check.out).toBe(0);
    const snap = await runCommand(s.commands.snapshot!, cwd, s.env);
    expect(snap.code, snap.out).toBe(0);
    const saved = await readFile(
      join(fleet!.snapshotsDir, a.id, 'pre-upgrade', '1.0', 'edition.json'),
      'utf8',
    );
    expect(JSON.parse(saved)).toMatchObject({ name: '1.0' });
  });
});
