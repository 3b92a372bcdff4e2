// The seed's procedures run as software, with real processes: a coordinator on the embedded
// PostgreSQL, four agents with demo-apps whose database is a real PostgreSQL 15 (Debian), a test
// machine agent that runs the functionality tests through a real HAProxy, and the readiness gates,
// backups, schema step, sign-off, learned windows, freeze windows and rollback with a DB restore.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psqlQuery, startAppPostgres, type AppPostgres } from '@rollgate/app-db';
import { freePort, startHaproxyOnFreePort, type HaproxyProcess } from '@rollgate/lb/testing';
import { ROOT, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

/** The real CLI against the fleet's coordinator; resolves with stdout, rejects with stderr. */
function rollgate(fleet: Fleet, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
      { cwd: ROOT },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    ),
  );
}

const CONTACTS = {
  lead: { name: 'Ann Lee', email: 'ann.lee@customer.example', phone: '+44 20 7946 0001' },
  appAdmin: { name: 'Raj Patel', phone: '+44 20 7946 0002' },
  lbAdmin: { name: 'Mia Chen', phone: '+44 20 7946 0003' },
};

type Api = Fleet['api'];

async function waitForStatus(api: Api, runId: string, want: string[], timeoutMs = 240_000) {
  return waitFor(
    `run ${runId} to be ${want.join(' or ')}`,
    async () => {
      const s = await api.upgrade.status.query({ runId });
      if (!want.includes(s.run.status) && ['failed', 'aborted', 'succeeded'].includes(s.run.status)) {
        throw new Error(`run ended ${s.run.status}: ${s.run.failure}`);
      }
      if (!want.includes('paused') && s.run.status === 'paused') throw new Error(`paused: ${s.run.failure}`);
      return want.includes(s.run.status) ? s : null;
    },
    timeoutMs,
    250,
  );
}

async function activeEditions(api: Api): Promise<Record<string, string>> {
  const servers = await api.servers.list.query({ cluster: 'demo' });
  return Object.fromEntries(
    servers.map((s) => [s.id, s.services.find((x) => x.name === 'demo-app')?.activeEdition ?? '']),
  );
}

describe('major upgrade of the demo fleet, with its database, tests, backups and sign-off', () => {
  let dir: string;
  let appDb: AppPostgres;
  let fleet: Fleet;
  let haproxy: HaproxyProcess;
  let front: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-major-'));
    appDb = await startAppPostgres({ dir: join(dir, 'app-db') });
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      appDatabaseUrl: appDb.url,
      testMachine: true,
      editions: ['1.0', '2.0', '2.1'],
    });
    // The real CLI run by these tests signs in with the fleet administrator's session.
    process.env.ROLLGATE_TOKEN = fleet.admin.token;
    // The LB admin's HAProxy: health checks on each agent's gate and agent-check, no runtime API.
    await fleet.api.lb.configure.mutate({
      cluster: 'demo',
      config: {
        mode: 'gate-only',
        backend: 'demo',
        checkIntervalMs: 500,
        fall: 2,
        rise: 2,
        agentInterMs: 500,
        drainageIntervalSec: 2,
      },
    });
    const started = await startHaproxyOnFreePort(
      (port) =>
        fleet.api.lb.haproxyConfig.query({
          cluster: 'demo',
          backend: 'demo',
          bind: `127.0.0.1:${port}`,
          socketPath: join(dir, 'haproxy.sock'),
          checkIntervalMs: 500,
        }),
      freePort,
    );
    haproxy = started.haproxy;
    front = `http://127.0.0.1:${started.port}`;
    await waitFor(
      'the service through HAProxy',
      async () => (await fetch(`${front}/health`)).ok,
      30_000,
      200,
    );
    await fleet.api.cluster.configure.mutate({
      cluster: 'demo',
      settings: {
        tests: {
          testMachine: fleet.testMachineId!,
          baseUrl: front,
          probes: [
            { kind: 'http', name: 'health', path: '/health', bodyContains: 'ok' },
            { kind: 'login', name: 'login', path: '/login', format: 'form', account: 'demo' },
            { kind: 'navigate', name: 'navigation', pages: ['/apps', '/admin'] },
            {
              kind: 'version',
              name: 'admin version',
              path: '/version',
              field: 'edition',
              expect: ['{from}', '{to}'],
            },
          ],
        },
        preparation: { snapshots: 'all', repositoryCheck: 'repository-check' },
        schedule: { timeZone: 'Europe/London' },
      },
    });
  });

  afterAll(async () => {
    await haproxy?.stop();
    await fleet?.stop();
    await appDb?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start while a readiness gate is unmet and writes nothing; once met, runs the 15 steps to full service', async () => {
    const input = { cluster: 'demo', app: 'demo-app', edition: '2.0', procedure: 'major' as const };
    const plan = await fleet.api.upgrade.plan.query(input);
    expect(plan.procedure).toBe('major');
    expect(plan.readiness.find((g) => g.gate === 'contacts')).toMatchObject({
      required: true,
      status: 'unmet',
    });
    expect(plan.window).toMatchObject({ atRiskMinutes: 40, downtimeMinutes: 15 });
    expect(plan.steps.filter((s) => s.seedStep !== null).map((s) => s.seedStep)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ]);

    await expect(fleet.api.upgrade.start.mutate(input)).rejects.toThrow(
      /Readiness gate "contacts" is unmet[\s\S]*--contacts/,
    );
    expect(await fleet.api.upgrade.list.query()).toEqual([]);

    const before = await psqlQuery(appDb.url, 'SELECT count(*) FROM items');
    const started = await fleet.api.upgrade.start.mutate({ ...input, contacts: CONTACTS });
    const runId = started.run.id;
    const contacts = started.run.readiness.find((g) => g.gate === 'contacts');
    expect(contacts).toMatchObject({ status: 'met', by: 'admin' });
    expect(contacts?.at).toBeGreaterThan(0);

    const waiting = await waitForStatus(fleet.api, runId, ['waiting-approval']);
    expect(waiting.steps.find((s) => s.kind === 'sign-off')?.status).toBe('running');

    // Every readiness gate the run checks itself is met, with its evidence.
    const evidence = await fleet.api.upgrade.evidence.query({ runId });
    const printed = await rollgate(fleet, 'upgrade', 'evidence', runId);
    expect(printed).toMatch(/database dumped to .*, verified restorable in \d+ ms/);
    expect(printed).toMatch(/contacts +met +by admin/);
    const gate = (g: string) => evidence.readiness.find((r) => r.gate === g);
    for (const g of [
      'remote-access',
      'installation-files',
      'file-backup',
      'snapshots',
      'database-backup',
      'repository',
      'test-machine',
    ]) {
      expect(gate(g), g).toMatchObject({ status: 'met' });
    }
    const results = evidence.steps.flatMap((s) => s.results.map((r) => ({ key: s.key, ...r })));
    const dump = results.find((r) => r.key === 'prep.database-backup')?.result;
    expect(dump).toMatchObject({ kind: 'dbBackup', verified: true });
    expect(results.filter((r) => r.key === 'prep.file-backup').map((r) => r.result.kind)).toEqual(
      Array(4).fill('backupFiles'),
    );
    // The functionality tests ran from the test machine through HAProxy at every stage and passed.
    const tests = results.filter((r) => r.result.kind === 'functionalTest');
    expect(tests.map((t) => t.key)).toEqual(
      expect.arrayContaining(['prep.test', 'g1.test-others', 'g1.test', 'verify.test-others', 'final-test']),
    );
    for (const t of tests) {
      expect(t.serverId).toBe(fleet.testMachineId);
      expect(t.result).toMatchObject({ failed: 0, passed: 4, baseUrl: front });
    }

    // The schema step ran exactly once, on one server.
    const dbStep = waiting.steps.find((s) => s.key === 'db-upgrade')!;
    expect(dbStep.actions).toHaveLength(1);
    expect(await psqlQuery(appDb.url, 'SELECT count(*) FROM rollgate_demo_migrations')).toBe('1');
    expect(await psqlQuery(appDb.url, 'SELECT count(*) FROM items')).toBe(before);

    const done = await fleet.api.upgrade.signOff.mutate({ runId, decision: 'approve', comment: 'all good' });
    expect(['running', 'succeeded']).toContain(done.run.status);
    await waitForStatus(fleet.api, runId, ['succeeded']);
    expect(Object.values(await activeEditions(fleet.api))).toEqual(['2.0', '2.0', '2.0', '2.0']);
    const audit = await fleet.api.audit.list.query();
    expect(audit.find((a) => a.action === 'run.sign-off.approve' && a.target === runId)).toBeDefined();

    // Log lines are written in batches: wait for the last banner rather than race the writer.
    const logs = await waitFor(
      'the last phase banner',
      async () => {
        const l = await fleet.api.upgrade.logs.query({ runId, code: 'RG0017I', limit: 100 });
        return l.length >= 5 ? l : null;
      },
      10_000,
    );
    expect(logs.map((l) => l.message.replace('phase begins: ', ''))).toEqual([
      'Pre-upgrade requirements',
      'Service at risk / limited capability',
      'Service downtime',
      'Limited service restored',
      'Full service restored',
    ]);
    // The log filters by server and step too.
    const dbLines = await fleet.api.upgrade.logs.query({ runId, stepIndex: dbStep.index, limit: 500 });
    expect(dbLines.length).toBeGreaterThan(0);
    expect(dbLines.every((l) => l.stepIndex === dbStep.index)).toBe(true);
  });

  it('a second run announces the window learned from the first beside the seed default, and a notice', async () => {
    const plan = await fleet.api.upgrade.plan.query({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.1',
      procedure: 'major',
    });
    expect(plan.window.atRiskMinutes).toBe(40);
    expect(plan.window.learned?.runs).toBe(1);
    expect(plan.window.learned!.atRiskMinutes).toBeGreaterThanOrEqual(1);
    expect(plan.window.learned!.atRiskMinutes).toBeLessThan(40);
    const [last] = await fleet.api.upgrade.list.query();
    const { text } = await fleet.api.upgrade.notice.query({ runId: last!.id });
    expect(text).toMatch(/at risk/i);
    expect(text).toMatch(/downtime/i);
  });

  it('a freeze window refuses a scheduled start and nothing is written', async () => {
    const now = Date.now();
    await fleet.api.cluster.configure.mutate({
      cluster: 'demo',
      settings: {
        ...(await fleet.api.cluster.settings.query({ cluster: 'demo' })),
        schedule: {
          timeZone: 'Europe/London',
          freezes: [{ from: now + 3_600_000, to: now + 4 * 3_600_000, reason: 'year-end close' }],
        },
      },
    });
    const runsBefore = (await fleet.api.upgrade.list.query()).length;
    await expect(
      fleet.api.upgrade.start.mutate({
        cluster: 'demo',
        app: 'demo-app',
        edition: '2.1',
        at: new Date(now + 2 * 3_600_000).toISOString(),
        contacts: CONTACTS,
      }),
    ).rejects.toThrow(/year-end close/);
    expect((await fleet.api.upgrade.list.query()).length).toBe(runsBefore);
  });
});

describe('a failure in group 2 of a major upgrade, then a rollback that restores the database', () => {
  let dir: string;
  let appDb: AppPostgres;
  let fleet: Fleet;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-rollback-'));
    appDb = await startAppPostgres({ dir: join(dir, 'app-db') });
    // 2.0 cannot start on admin-2 (group 2): the failure is real, in the agent's supervisor.
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      appDatabaseUrl: appDb.url,
      failEdition: { 'admin-2': '2.0' },
    });
    // The real CLI run by these tests signs in with the fleet administrator's session.
    process.env.ROLLGATE_TOKEN = fleet.admin.token;
  });

  afterAll(async () => {
    await fleet?.stop();
    await appDb?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pauses on the failure, offers the methods that apply, and the rollback restores the data and 1.0 everywhere', async () => {
    await psqlQuery(appDb.url, "INSERT INTO items (name) VALUES ('written before the upgrade')");
    const rowsBefore = await psqlQuery(appDb.url, 'SELECT id, name FROM items ORDER BY id');
    const started = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      procedure: 'major',
      contacts: CONTACTS,
      healthTimeoutSec: 5,
    });
    const runId = started.run.id;
    const paused = await waitForStatus(fleet.api, runId, ['paused']);
    expect(paused.run.failure).toMatch(/admin-2/);
    expect(paused.run.failure).toContain(`rollgate upgrade rollback ${runId}`);
    const failedStep = paused.steps.find((s) => s.status === 'failed')!;
    expect(failedStep.group).toBe(2);
    expect(await psqlQuery(appDb.url, 'SELECT count(*) FROM rollgate_demo_migrations')).toBe('1');

    const options = await fleet.api.upgrade.rollbackOptions.query({ runId });
    const byMethod = Object.fromEntries(options.map((o) => [o.method, o]));
    expect(byMethod['reinstall']?.applicable).toBe(false); // the schema changed: 1.0 cannot run on it
    expect(byMethod['restore-database']).toMatchObject({ applicable: true, recommended: true });
    expect(byMethod['restore-database']!.estimateMinutes).toBeGreaterThan(0);

    // What an operator reads at 2 a.m.: the methods, the recommended one marked, with estimates.
    const offered = await rollgate(fleet, 'upgrade', 'rollback', runId, '--options');
    expect(offered).toMatch(/→ restore-database +~\d+ min/);
    expect(offered).toMatch(/ reinstall +n\/a /);

    const rb = await fleet.api.upgrade.rollback.mutate({ runId, reason: 'admin-2 cannot start 2.0' });
    expect(rb.run.plan.rollback).toEqual({ ofRun: runId, method: 'restore-database' });
    expect(rb.run.parentRunId).toBe(runId);
    await waitForStatus(fleet.api, rb.run.id, ['succeeded']);
    expect((await fleet.api.upgrade.status.query({ runId })).run.status).toBe('aborted');

    // The data equals the pre-upgrade data, and the schema is 1.0's again.
    expect(await psqlQuery(appDb.url, 'SELECT id, name FROM items ORDER BY id')).toBe(rowsBefore);
    expect(
      await psqlQuery(
        appDb.url,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'",
      ),
    ).toBe('0');
    expect(Object.values(await activeEditions(fleet.api))).toEqual(['1.0', '1.0', '1.0', '1.0']);
    for (const a of fleet.agents) {
      const res = await fetch(`http://127.0.0.1:${a.servicePort}/version`);
      expect(((await res.json()) as { edition: string }).edition).toBe('1.0');
    }
    const audit = await fleet.api.audit.list.query();
    expect(audit.find((a) => a.action === 'run.rollback' && a.target === runId)?.details).toMatchObject({
      method: 'restore-database',
      rollbackRun: rb.run.id,
    });
  });
});
