// The edition manager's verbs with real processes: distribution without activation, a grouped
// rollout (groupSize 2 of 4) under continuous load through a real HAProxy with no request lost, a
// groupSize larger than the target refused, a back-out by the fast path (nothing downloaded), and
// an atomic rollout whose one-exchange switch leaves no request on the old edition.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyRuntime } from '@rollgate/lb';
import { createLoadGenerator, type LoadResult } from '@rollgate/lb/testing';
import {
  behindHaproxy,
  runSucceeded,
  startFleet,
  waitFor,
  type Fleet,
  type FleetHaproxy,
} from '@rollgate/demo-fleet';

describe('edition verbs: install, grouped rollout under load, back-out fast path', () => {
  let dir: string;
  let fleet: Fleet;
  let lb: FleetHaproxy;
  let front: string;

  const finished = (runId: string) => runSucceeded(fleet, runId);

  async function active(): Promise<string[]> {
    const servers = await fleet.api.servers.list.query({ cluster: 'demo' });
    return servers.map((s) => s.services.find((x) => x.name === 'demo-app')?.activeEdition ?? '');
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-editions-'));
    fleet = await startFleet({ dir, heartbeatMs: 500 });
    lb = await behindHaproxy(fleet, { lb: { readmitTimeoutMs: 10_000, drainageIntervalSec: 3 } });
    front = lb.front;
  });

  afterAll(async () => {
    await lb?.stop();
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('distributes 2.0 without activating it; the edition status shows it installed but INACTIVE', async () => {
    const view = await fleet.api.editions.install.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
    });
    expect(view.run.kind).toBe('distribute');
    await finished(view.run.id);
    expect(await active()).toEqual(['1.0', '1.0', '1.0', '1.0']);
    const status = await waitFor(
      'the agents to report 2.0 installed',
      async () => {
        const rows = await fleet.api.editions.status.query({ app: 'demo-app' });
        const e2 = rows.find((r) => r.edition === '2.0')?.targets.find((t) => t.cluster === 'demo');
        return e2?.installedOn === 4 ? rows : null;
      },
      10_000,
    );
    expect(status.find((r) => r.edition === '1.0')).toMatchObject({
      base: true,
      targets: [{ cluster: 'demo', state: 'ACTIVE' }],
    });
    expect(status.find((r) => r.edition === '2.0')).toMatchObject({
      base: false,
      targets: [{ state: 'INACTIVE', activeOn: 0 }],
    });
  });

  it('refuses groupSize 5 on 4 servers with a clear error, and a simple activation whose downtime was not accepted', async () => {
    await expect(
      fleet.api.editions.rollout.mutate({ app: 'demo-app', cluster: 'demo', edition: '2.0', groupSize: 5 }),
    ).rejects.toThrow(/groupSize 5 exceeds the 4 servers of cluster "demo"/);
    await expect(
      fleet.api.editions.activate.mutate({ app: 'demo-app', cluster: 'demo', edition: '2.0' }),
    ).rejects.toThrow(/stops all 4 servers .* --accept-downtime/);
    // Nothing was started.
    expect((await fleet.api.upgrade.list.query()).filter((r) => r.status !== 'succeeded')).toEqual([]);
  });

  it('a grouped rollout (groupSize 2) under continuous keep-alive load loses no request', async () => {
    const load = createLoadGenerator({ url: `${front}/`, ratePerSec: 300, keepAlive: true });
    load.start();
    await new Promise((r) => setTimeout(r, 500));
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
      groupSize: 2,
      drainageIntervalSec: 3,
    });
    expect(view.run.plan.rollout).toMatchObject({ strategy: 'grouped', groupSize: 2, fastPath: true });
    expect(view.steps.map((s) => s.servers)).toEqual([
      ['admin-1', 'stream-1'],
      ['admin-2', 'stream-2'],
    ]);
    await finished(view.run.id);
    await new Promise((r) => setTimeout(r, 500));
    const report = await load.stop();
    console.log(
      `[rollout groupSize 2] sent ${report.sent}, errors ${report.errors}, non-2xx ${report.non2xx}, by edition ${JSON.stringify(report.byBody)}`,
    );
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(report.byBody['2.0'] ?? 0).toBeGreaterThan(0);
    expect(await active()).toEqual(['2.0', '2.0', '2.0', '2.0']);
    // The seed's log sequence, with stable codes: rollout started, processing server, quiescing,
    // draining, stopping, old edition deactivated / new activated, starting, rollout completed.
    const codes = new Set(
      (await fleet.api.upgrade.logs.query({ runId: view.run.id, limit: 5000 })).map((l) => l.code),
    );
    for (const c of ['RG0010I', 'RG0117I', 'RG0110I', 'RG0111I', 'RG0112I', 'RG0116I', 'RG0114I', 'RG0011I'])
      expect(codes, c).toContain(c);
  });

  it('backs out to 1.0 by the fast path: no download, and 1.0 serves again', async () => {
    const view = await fleet.api.editions.backout.mutate({ app: 'demo-app', cluster: 'demo', groupSize: 2 });
    expect(view.run.kind).toBe('backout');
    expect(view.run.plan.toEdition.name).toBe('1.0');
    expect(view.run.plan.rollout?.fastPath).toBe(true);
    expect(view.steps.flatMap((s) => s.ops).some((o) => o.op === 'install')).toBe(false);
    await finished(view.run.id);
    expect(await active()).toEqual(['1.0', '1.0', '1.0', '1.0']);
    // No agent downloaded anything for this run (synchronizing is the download/unpack line).
    const lines = await fleet.api.upgrade.logs.query({ runId: view.run.id, limit: 5000 });
    expect(lines.filter((l) => l.code === 'RG0113I')).toEqual([]);
    for (const a of fleet.agents) {
      const journal = await fleet.journal(a);
      const ops = journal
        .filter((j) => String(j.actionId ?? '').startsWith(view.run.id))
        .flatMap((j) => (j.ops as { op: string }[] | undefined) ?? []);
      expect(ops.some((o) => o.op === 'install')).toBe(false);
    }
    const res = await fetch(`${front}/`);
    expect(((await res.json()) as { edition: string }).edition).toBe('1.0');
  });

  it('an atomic rollout under keep-alive load: 0 failed requests, one edition before the switch and only 2.0 after it', async () => {
    const results: LoadResult[] = [];
    const load = createLoadGenerator({
      url: `${front}/`,
      ratePerSec: 300,
      keepAlive: true,
      onResult: (r) => results.push(r),
    });
    load.start();
    // HAProxy's own view, sampled while the run goes: how many servers serve at the fewest.
    const rt = createHaproxyRuntime({ socketPath: lb.socketPath });
    // Both roles (admin, stream) must keep a server UP at every moment, the switch included.
    const serving = {
      fewestPerRole: Infinity,
      fewest: Infinity,
      samples: [] as number[],
      failedReads: 0,
      stopped: false,
    };
    const sampling = (async () => {
      while (!serving.stopped) {
        try {
          const rows = await rt.serverStats('demo');
          const up = rows.filter((r) => !r.name.endsWith('-beside') && r.status === 'UP');
          const perRole = ['admin', 'stream'].map(
            (role) => up.filter((r) => r.name.startsWith(`${role}-`)).length,
          );
          serving.fewestPerRole = Math.min(serving.fewestPerRole, ...perRole);
          serving.fewest = Math.min(serving.fewest, up.length);
          serving.samples.push(Date.now());
        } catch {
          serving.failedReads++;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Long enough that requests finish more than a second before the switch however quickly the
    // run reaches it (the fast path can get there within a second of the rollout's start).
    await new Promise((r) => setTimeout(r, 2000));
    const view = await fleet.api.editions.rollout.mutate({
      app: 'demo-app',
      cluster: 'demo',
      edition: '2.0',
      strategy: 'atomic',
      drainageIntervalSec: 3,
    });
    expect(view.run.plan.rollout).toMatchObject({ strategy: 'atomic', fastPath: true });
    expect(view.steps.map((s) => [s.kind, s.servers])).toEqual([
      ['upgrade', ['admin-1', 'stream-1']],
      ['switch', []],
      ['upgrade', ['admin-2', 'stream-2']],
    ]);
    await finished(view.run.id);
    await new Promise((r) => setTimeout(r, 500));
    serving.stopped = true;
    await sampling;
    const report = await load.stop();
    const lines = await fleet.api.upgrade.logs.query({ runId: view.run.id, limit: 5000 });
    const switchLine = lines.find((l) => l.code === 'RG0115I');
    expect(switchLine?.message).toMatch(
      /admin-1, stream-1 ready and admin-2, stream-2 drained in one exchange/,
    );
    const switchedAt = switchLine!.at;
    const after = results.filter((r) => r.startedAt > switchedAt);
    // Finished well before the exchange was made (the log line follows it within milliseconds).
    const before = results.filter((r) => r.finishedAt < switchedAt - 1000);
    const tally = (rs: LoadResult[]) =>
      rs.reduce<Record<string, number>>(
        (t, r) => ((t[r.key ?? 'error'] = (t[r.key ?? 'error'] ?? 0) + 1), t),
        {},
      );
    console.log(
      `[atomic] sent ${report.sent}, errors ${report.errors}, non-2xx ${report.non2xx}; before the switch ${JSON.stringify(tally(before))}, after it ${JSON.stringify(tally(after))}`,
    );
    // Who answered the old edition after the switch, and when: the run's lines say what moved then.
    const strays = after.filter((r) => r.key !== '2.0');
    if (strays.length > 0)
      console.log(
        `[atomic] after the switch at ${switchedAt}: ${strays.map((r) => `${r.key} from ${r.server} due +${r.startedAt - switchedAt} ms, done +${r.finishedAt - switchedAt} ms`).join('; ')}\n${lines.map((l) => `+${l.at - switchedAt} ${l.code} ${l.serverId ?? ''} ${l.message}`).join('\n')}`,
      );
    expect(report.errorSamples).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.non2xx).toBe(0);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect(tally(before)).toEqual({ '1.0': before.length });
    expect(tally(after)).toEqual({ '2.0': after.length });
    expect(await active()).toEqual(['2.0', '2.0', '2.0', '2.0']);
    // The plan's setting: at most half the cluster out at once.
    expect(view.run.plan.maxOutOfRotation).toBe(2);
    // The capacity floor held, as HAProxy saw it: never fewer than half the cluster UP, and each
    // role always had a server UP, in samples from before and after the switch.
    console.log(
      `[atomic] ${serving.samples.length} show-stat rounds (${serving.failedReads} failed reads), fewest servers UP ${serving.fewest}, fewest per role ${serving.fewestPerRole}`,
    );
    expect(serving.failedReads).toBeLessThan(serving.samples.length / 10);
    expect(serving.samples.some((t) => t < switchedAt)).toBe(true);
    expect(serving.samples.some((t) => t > switchedAt)).toBe(true);
    expect(serving.fewest).toBe(2);
    expect(serving.fewestPerRole).toBe(1);
  });
});
