// The spine's end-to-end scenario with real processes on loopback: a coordinator on the embedded
// PostgreSQL, four agent processes (2 roles × 2 servers) each managing a real demo-app.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoEditions } from '@rollgate/demo-app';
import { ROOT, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

const exec = promisify(execFile);

/** Runs the real CLI against the fleet's coordinator. */
async function rollgate(fleet: Fleet, ...args: string[]) {
  const { stdout } = await exec(
    process.execPath,
    [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
    {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return stdout;
}

/** Polls every gate and remembers the most that were closed at the same moment. */
function watchGates(fleet: Fleet) {
  let maxClosed = 0;
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const states = await Promise.all(
        fleet.agents.map((a) =>
          fetch(`http://127.0.0.1:${a.gatePort}/gate`)
            .then((r) => r.status === 200)
            .catch(() => false),
        ),
      );
      maxClosed = Math.max(maxClosed, states.filter((open) => !open).length);
      samples++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { maxClosed, samples };
    },
  };
}

async function editionServed(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return ((await res.json()) as { edition: string }).edition;
}

describe('a minor rolling upgrade of the demo fleet', () => {
  let dir: string;
  let fleet: Fleet;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-int-'));
    fleet = await startFleet({ dir, heartbeatMs: 500 });
    // The real CLI run by these tests signs in with the fleet administrator's session.
    process.env.ROLLGATE_TOKEN = fleet.admin.token;
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('upgrades 1.0 → 2.0 through a coordinator crash, one group out at a time, each action once', async () => {
    for (const a of fleet.agents) expect(await editionServed(a.servicePort)).toBe('1.0');
    const gates = watchGates(fleet);

    const started = JSON.parse(
      await rollgate(
        fleet,
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

    // Kill the coordinator with SIGKILL in the middle of the run (group 2 is being worked on).
    await waitFor('the run to reach group 2', async () => {
      const s = await fleet.api.upgrade.status.query({ runId });
      return s.run.currentStep >= 6;
    });
    await fleet.stopCoordinator('SIGKILL');
    await fleet.startCoordinator();

    const waiting = await waitFor(
      'the run to wait for sign-off',
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId });
        if (s.run.status === 'paused') throw new Error(`run paused: ${s.run.failure}`);
        return s.run.status === 'waiting-approval' ? s : null;
      },
      120_000,
      250,
    );
    expect(waiting.steps.at(-1)!.kind).toBe('sign-off');
    await rollgate(fleet, 'upgrade', 'signoff', runId, '--approve', '--comment', 'verified by the test');
    const done = await waitFor('the run to succeed', async () => {
      const s = await fleet.api.upgrade.status.query({ runId });
      return s.run.status === 'succeeded' ? s : null;
    });
    const { maxClosed, samples } = await gates.stop();

    // Every demo-app now answers 2.0, and every gate is open again.
    for (const a of fleet.agents) expect(await editionServed(a.servicePort)).toBe('2.0');
    for (const a of fleet.agents)
      expect((await fetch(`http://127.0.0.1:${a.gatePort}/gate`)).status).toBe(200);
    expect(done.outOfRotation).toEqual([]);
    expect(done.steps.every((s) => s.status === 'succeeded')).toBe(true);

    // Never more gates closed than one server group (2 servers), and the watcher really watched.
    expect(samples).toBeGreaterThan(50);
    expect(maxClosed).toBeGreaterThan(0);
    expect(maxClosed).toBeLessThanOrEqual(2);

    // No action ran twice: each agent's journal starts every action id at most once.
    const allActions = done.steps.flatMap((s) => s.actions.map((a) => a.id));
    expect(allActions.length).toBeGreaterThan(20);
    for (const a of fleet.agents) {
      const started = (await fleet.journal(a)).filter((e) => e.t === 'started').map((e) => e.id as string);
      expect(new Set(started).size).toBe(started.length);
      for (const id of started) expect(allActions).toContain(id);
    }

    // Every action's log is stored and readable with `rollgate upgrade logs`.
    type Line = { actionId: string | null; code: string; source: string };
    // Log lines are written in batches: the completion line may land a moment after the status.
    const logs = await waitFor('the run log to end with its completion', async () => {
      const lines = JSON.parse(
        await rollgate(fleet, 'upgrade', 'logs', runId, '--json', '--limit', '5000'),
      ) as Line[];
      return lines.at(-1)?.code === 'RG0011I' ? lines : null;
    });
    const agentLogged = new Set(
      logs.filter((l) => l.source === 'agent' && l.actionId).map((l) => l.actionId),
    );
    for (const id of allActions) expect(agentLogged, `logs of ${id}`).toContain(id);
    expect(logs.some((l) => l.code === 'RG0016I')).toBe(true); // recovered after the crash
    expect(logs.at(-1)!.code).toBe('RG0011I');
  });

  it('marks an agent lost when its heartbeats stop, says so in the run, and goes on when it is back', async () => {
    const [next] = await buildDemoEditions(join(dir, 'more-editions'), ['2.1']);
    await fleet.api.editions.upload.mutate({
      app: 'demo-app',
      name: '2.1',
      contentBase64: (await readFile(next!.path)).toString('base64'),
    });
    const admin1 = fleet.agents.find((a) => a.id === 'admin-1')!;
    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.1',
      drainageIntervalSec: 3,
    });
    const runId = start.run.id;
    // Freeze the agent mid-action: its connection stays open but it sends nothing.
    admin1.proc!.kill('SIGSTOP');
    try {
      const lost = await waitFor('the run to report admin-1 lost', async () => {
        const logs = await fleet.api.upgrade.logs.query({ runId, code: 'RG0051W' });
        return logs.find((l) => l.serverId === 'admin-1');
      });
      expect(lost.message).toMatch(/admin-1/);
      const servers = await fleet.api.servers.list.query({});
      expect(servers.find((s) => s.id === 'admin-1')!.status).toBe('lost');
      // The run does not go on blindly without it: it holds on a step that needs admin-1.
      const held = await waitFor('the run to hold on admin-1', async () => {
        const a = await fleet.api.upgrade.status.query({ runId });
        await new Promise((r) => setTimeout(r, 1000));
        const b = await fleet.api.upgrade.status.query({ runId });
        return a.run.currentStep === b.run.currentStep ? b : null;
      });
      expect(
        held.steps[held.run.currentStep]!.actions.some(
          (x) => x.serverId === 'admin-1' && x.status !== 'succeeded',
        ),
      ).toBe(true);
    } finally {
      admin1.proc!.kill('SIGCONT');
    }
    await waitFor(
      'the run to wait for sign-off',
      async () => (await fleet.api.upgrade.status.query({ runId })).run.status === 'waiting-approval',
      120_000,
      250,
    );
    await fleet.api.upgrade.signOff.mutate({ runId, decision: 'approve', comment: '' });
    await waitFor(
      'the run to succeed',
      async () => (await fleet.api.upgrade.status.query({ runId })).run.status === 'succeeded',
    );
    for (const a of fleet.agents) expect(await editionServed(a.servicePort)).toBe('2.1');
    const back = await fleet.api.upgrade.logs.query({ runId, code: 'RG0052I' });
    expect(back.some((l) => l.serverId === 'admin-1')).toBe(true);
  });

  it('refuses an artifact whose sha256 does not match, and the run stops showing that error', async () => {
    const [bad] = await buildDemoEditions(join(dir, 'bad-editions'), ['3.0']);
    await fleet.api.editions.upload.mutate({
      app: 'demo-app',
      name: '3.0',
      contentBase64: (await readFile(bad!.path)).toString('base64'),
    });
    // Corrupt the coordinator's copy: what agents download no longer has the promised digest.
    const stored = join(dir, 'coordinator', 'artifacts', bad!.sha256);
    const bytes = await readFile(stored);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(stored, bytes);

    const start = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '3.0',
      drainageIntervalSec: 0,
    });
    const paused = await waitFor(
      'the run to stop on the checksum error',
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId: start.run.id });
        return s.run.status === 'paused' ? s : null;
      },
      60_000,
    );
    expect(paused.run.failure).toMatch(/checksum mismatch/i);
    const failedStep = paused.steps.find((s) => s.status === 'failed')!;
    // Staging (a preparation step, before the window) downloads and verifies the archive first.
    expect(failedStep.kind).toBe('prepare');
    expect(failedStep.error).toMatch(/checksum mismatch/i);
    // Nothing was installed on any server of group 1.
    for (const a of fleet.agents) {
      expect(existsSync(join(a.dataDir, 'editions', 'demo-app', '3.0'))).toBe(false);
    }
    // The CLI shows the error and exits with the "paused on failure" code.
    const status = await exec(
      process.execPath,
      [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, 'upgrade', 'status', start.run.id],
      {
        cwd: ROOT,
      },
    ).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    expect(status.out).toMatch(/checksum mismatch/i);
    await fleet.api.upgrade.abort.mutate({ runId: start.run.id, reason: 'bad artifact' });
  });
});
