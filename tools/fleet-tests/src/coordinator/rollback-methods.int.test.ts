// The other rollback procedures, with real processes: after a failure in group 2 of a minor
// upgrade, (1) restore the servers' snapshots through the snapshot hook, and (2) rebuild the servers
// from scratch (uninstall every edition, reinstall the previous one from the coordinator, start).
// Each time every server must run 1.0 again and nothing may be left out of rotation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

describe('rollback by snapshot restore and by rebuild', () => {
  let dir: string;
  let fleet: Fleet;

  async function until(runId: string, want: string) {
    return waitFor(
      `run ${runId} to be ${want}`,
      async () => {
        const s = await fleet.api.upgrade.status.query({ runId });
        if (s.run.status !== want && ['failed', 'aborted', 'succeeded'].includes(s.run.status)) {
          throw new Error(`run ended ${s.run.status}: ${s.run.failure}`);
        }
        if (want !== 'paused' && s.run.status === 'paused') throw new Error(`paused: ${s.run.failure}`);
        return s.run.status === want ? s : null;
      },
      180_000,
      250,
    );
  }

  async function servedEverywhere(): Promise<string[]> {
    return Promise.all(
      fleet.agents.map(async (a) => {
        const res = await fetch(`http://127.0.0.1:${a.servicePort}/version`);
        return ((await res.json()) as { edition: string }).edition;
      }),
    );
  }

  /** A minor upgrade to 2.0 that fails when group 2 starts it (admin-2 cannot run 2.0). */
  async function failedUpgrade() {
    const started = await fleet.api.upgrade.start.mutate({
      cluster: 'demo',
      app: 'demo-app',
      edition: '2.0',
      drainageIntervalSec: 1,
      healthTimeoutSec: 5,
      signOff: false,
    });
    const paused = await until(started.run.id, 'paused');
    expect(paused.steps.find((s) => s.status === 'failed')?.group).toBe(2);
    return started.run.id;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-rollback-methods-'));
    fleet = await startFleet({ dir, heartbeatMs: 500, failEdition: { 'admin-2': '2.0' } });
    await fleet.api.cluster.configure.mutate({
      cluster: 'demo',
      settings: { preparation: { snapshots: 'all' } },
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('restores the snapshots taken before the window, then starts 1.0 everywhere', async () => {
    const runId = await failedUpgrade();
    const options = await fleet.api.upgrade.rollbackOptions.query({ runId });
    expect(options.find((o) => o.method === 'restore-snapshots')).toMatchObject({ applicable: true });
    const rb = await fleet.api.upgrade.rollback.mutate({ runId, method: 'restore-snapshots' });
    const done = await until(rb.run.id, 'succeeded');
    const restoreStep = done.steps.find((s) =>
      s.ops.some((o) => o.op === 'command' && o.command === 'restore-snapshot'),
    );
    expect(restoreStep?.actions.map((a) => a.serverId).sort()).toEqual([
      'admin-1',
      'admin-2',
      'stream-1',
      'stream-2',
    ]);
    expect(await servedEverywhere()).toEqual(['1.0', '1.0', '1.0', '1.0']);
    expect(done.outOfRotation).toEqual([]);
  });

  it('rebuilds every server from scratch: every edition uninstalled, 1.0 downloaded again, started', async () => {
    const runId = await failedUpgrade();
    const rb = await fleet.api.upgrade.rollback.mutate({
      runId,
      method: 'rebuild',
      reason: 'corrupted install',
    });
    expect(rb.run.plan.rollback).toEqual({ ofRun: runId, method: 'rebuild' });
    const done = await until(rb.run.id, 'succeeded');
    const ops = done.steps.flatMap((s) => s.ops.map((o) => o.op));
    expect(ops).toContain('uninstall');
    expect(ops).toContain('install');
    expect(await servedEverywhere()).toEqual(['1.0', '1.0', '1.0', '1.0']);
    // After the rebuild only the reinstalled edition is on the servers.
    const installed = await waitFor(
      'the agents to report their editions after the rebuild',
      async () => {
        const servers = await fleet.api.servers.list.query({ cluster: 'demo' });
        const lists = servers.map(
          (s) => s.services.find((x) => x.name === 'demo-app')?.installedEditions ?? [],
        );
        return lists.every((l) => l.length === 1) ? lists : null;
      },
      10_000,
    );
    expect(installed).toEqual([['1.0'], ['1.0'], ['1.0'], ['1.0']]);
    expect(done.outOfRotation).toEqual([]);
  });
});
