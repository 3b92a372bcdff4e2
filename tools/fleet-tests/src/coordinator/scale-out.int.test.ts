// Issue 8's scale-out: three coordinator processes share one PostgreSQL (an embedded server this
// test starts, so it outlives any coordinator), four agents split across them, a minor rolling
// upgrade, and the run's leader SIGKILLed mid-run. Another coordinator must take the run over
// within 5 s (lease TTL 3 s, by the database's clock), finish it, run no action twice and leave no
// server out of rotation.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from '@rollgate/db';
import { ROOT, startFleet, waitFor, type Fleet, type FleetCoordinator } from '@rollgate/demo-fleet';

const exec = promisify(execFile);

async function rollgate(url: string, ...args: string[]) {
  const { stdout } = await exec(
    process.execPath,
    [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', url, ...args],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

async function editionServed(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return ((await res.json()) as { edition: string }).edition;
}

describe('several coordinators on one PostgreSQL', () => {
  let dir: string;
  let db: RollgateDb;
  let fleet: Fleet;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-scale-'));
    // The shared database is the test's own: killing a coordinator must not take it down.
    db = createDb({ dataDir: join(dir, 'shared-db') });
    await db.start();
    fleet = await startFleet({
      dir,
      heartbeatMs: 500,
      coordinators: 3,
      coordinatorEnv: { DATABASE_URL: db.url },
    });
    // The real CLI run by these tests signs in with the fleet administrator's session.
    process.env.ROLLGATE_TOKEN = fleet.admin.token;
  });

  afterAll(async () => {
    await fleet?.stop();
    await db?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const query = async <T extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
    (await db.pool.query<T>(text, params)).rows;

  it('another coordinator resumes the run within 5 s of the leader being SIGKILLed', async () => {
    // The agents are spread over the coordinators (each connects to the first of its list).
    const holders = await query<{ id: string; coordinator_id: string | null }>(
      `SELECT id, coordinator_id FROM servers WHERE cluster = 'demo'`,
    );
    expect(holders).toHaveLength(4);
    expect(new Set(holders.map((h) => h.coordinator_id)).size).toBeGreaterThanOrEqual(2);

    const started = JSON.parse(
      await rollgate(
        fleet.coordinators[0]!.url,
        'upgrade',
        'start',
        '--cluster',
        'demo',
        '--app',
        'demo-app',
        '--edition',
        '2.0',
        '--drainage-interval',
        '1',
        '--json',
      ),
    ) as { run: { id: string } };
    const runId = started.run.id;

    await waitFor('the run to reach group 2', async () => {
      const [r] = await query<{ current_step: number }>('SELECT current_step FROM runs WHERE id = $1', [
        runId,
      ]);
      return (r?.current_step ?? 0) >= 6;
    });
    const [lease] = await query<{ holder: string; token: string }>(
      'SELECT holder, token FROM run_leases WHERE run_id = $1',
      [runId],
    );
    const leader = fleet.coordinators.find((c) => c.id === lease!.holder);
    expect(leader, `the lease holder ${lease!.holder} is one of the fleet's coordinators`).toBeDefined();
    const survivors = fleet.coordinators.filter((c) => c !== leader);

    const killedAt = Date.now();
    await leader!.stop('SIGKILL');

    // Takeover: the lease moves to a survivor with the next token (measured in the database).
    const takeover = await waitFor(
      'a survivor to take the run lease over',
      async () => {
        const [l] = await query<{ holder: string; token: string; acquired_at: Date }>(
          'SELECT holder, token, acquired_at FROM run_leases WHERE run_id = $1',
          [runId],
        );
        return l && l.holder !== leader!.id ? l : null;
      },
      15_000,
      25,
    );
    expect(Number(takeover.token)).toBeGreaterThan(Number(lease!.token));
    // Resumed: the next step starts (started_at is written by the engine's clock, in ms).
    const resumed = await waitFor(
      'the next step to start after the kill',
      async () => {
        const [s] = await query<{ index: number; started: string }>(
          `SELECT index, (extract(epoch FROM started_at) * 1000)::bigint AS started FROM steps
           WHERE run_id = $1 AND started_at IS NOT NULL ORDER BY started_at DESC LIMIT 1`,
          [runId],
        );
        return s && Number(s.started) > killedAt ? s : null;
      },
      30_000,
      25,
    );
    const takeoverMs = takeover.acquired_at.getTime() - killedAt;
    const resumeMs = Number(resumed.started) - killedAt;
    console.log(
      `scale-out: leader ${leader!.id} SIGKILLed; ${takeover.holder} took the lease (token ${takeover.token}) after ${takeoverMs} ms; step ${resumed.index + 1} started ${resumeMs} ms after the kill`,
    );
    expect(resumeMs).toBeLessThan(5000);

    const via: FleetCoordinator = survivors.find((c) => c.id === takeover.holder) ?? survivors[0]!;
    const other = survivors.find((c) => c !== via)!;
    const waiting = await waitFor(
      'the run to wait for sign-off',
      async () => {
        const s = await other.api.upgrade.status.query({ runId });
        if (s.run.status === 'paused') throw new Error(`run paused: ${s.run.failure}`);
        return s.run.status === 'waiting-approval' ? s : null;
      },
      120_000,
      250,
    );
    expect(waiting.steps.at(-1)!.kind).toBe('sign-off');
    // Signed off through the coordinator that does NOT lead: the command moves the lease there.
    await rollgate(other.url, 'upgrade', 'signoff', runId, '--approve', '--comment', 'verified');
    const done = await waitFor('the run to succeed', async () => {
      const s = await via.api.upgrade.status.query({ runId });
      return s.run.status === 'succeeded' ? s : null;
    });

    for (const a of fleet.agents) expect(await editionServed(a.servicePort)).toBe('2.0');
    for (const a of fleet.agents)
      expect((await fetch(`http://127.0.0.1:${a.gatePort}/gate`)).status).toBe(200);
    expect(done.outOfRotation).toEqual([]);
    expect(done.steps.every((s) => s.status === 'succeeded')).toBe(true);
    const [open] = await query<{ n: string }>(
      'SELECT count(*) AS n FROM lb_ledger WHERE reopened_at IS NULL',
    );
    expect(Number(open!.n)).toBe(0);

    // Every action id ran exactly once: started once in one agent's journal, and every action of
    // the run was started somewhere.
    const allActions = done.steps.flatMap((s) => s.actions.map((a) => a.id));
    expect(allActions.length).toBeGreaterThan(20);
    const startedIds: string[] = [];
    for (const a of fleet.agents) {
      startedIds.push(
        ...(await fleet.journal(a)).filter((e) => e.t === 'started').map((e) => e.id as string),
      );
    }
    expect(new Set(startedIds).size).toBe(startedIds.length);
    expect([...startedIds].sort()).toEqual([...allActions].sort());

    // The agents that were on the killed coordinator now hold their streams on survivors.
    const after = await query<{ coordinator_id: string | null; status: string }>(
      `SELECT coordinator_id, status FROM servers WHERE cluster = 'demo'`,
    );
    for (const s of after) {
      expect(s.status).toBe('connected');
      expect(s.coordinator_id).not.toBe(leader!.id);
    }
    const recovered = await via.api.upgrade.logs.query({ runId, code: 'RG0016I' });
    expect(recovered.length).toBeGreaterThan(0);
  });
});
