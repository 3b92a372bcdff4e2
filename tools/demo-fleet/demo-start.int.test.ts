// `npm start` with HAProxy installed (issue 16 item 7): the demo fleet comes up behind HAProxy with
// a steady load, the banner names the frontend, and during an upgrade the coordinator's lb.traffic
// query reports the requests served per edition and no failed request. The demo runs exactly as
// `npm start` runs it (node --import tsx tools/demo-fleet/main.ts), on its own ports and data dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FatalWait, freePort, ROOT, waitFor } from './fleet';
import { authedClient, ensureAdmin } from './src/admin';

describe('npm start behind HAProxy (issue 16 item 7)', { timeout: 300_000 }, () => {
  let dir: string;
  let demo: ChildProcess;
  let output = '';
  let front = '';
  let url = '';
  let api: ReturnType<typeof authedClient>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-demo-start-'));
    const [http, grpc, web, lbPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    url = `http://127.0.0.1:${http}`;
    demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'tools/demo-fleet/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        // As a user runs `npm start`: the sources under tsx, initdb on first start (not the int
        // tier's bundles and cluster template, docs/adr/0048).
        ROLLGATE_TEST_COORDINATOR_BUNDLE: '',
        ROLLGATE_TEST_AGENT_BUNDLE: '',
        ROLLGATE_TEST_PG_TEMPLATE: '',
        ROLLGATE_DATA_DIR: dir,
        ROLLGATE_HTTP_PORT: String(http),
        ROLLGATE_GRPC_PORT: String(grpc),
        ROLLGATE_WEB_PORT: String(web),
        ROLLGATE_LB_PORT: String(lbPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    front = await waitFor(
      'the start-up banner with the HAProxy frontend',
      () => {
        if (demo.exitCode !== null) throw new FatalWait(`npm start exited ${demo.exitCode}:\n${output}`);
        return /Rollgate is running/.test(output)
          ? (/frontend\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? null)
          : null;
      },
      240_000,
      250,
    );
    expect(front).toBe(`http://127.0.0.1:${lbPort}`);
    const session = await ensureAdmin(
      url,
      join(dir, 'demo', 'admin-password'),
      join(dir, 'demo', 'coordinator', 'bootstrap-secret'),
    );
    api = authedClient(url, session.token);
  }, 300_000);

  afterAll(async () => {
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      const exited = once(demo, 'exit');
      demo.kill('SIGTERM');
      const timer = setTimeout(() => demo.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('HAProxy serves the demo application at the frontend the banner prints', async () => {
    const res = await fetch(front);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { edition: string }).edition).toBe('1.0');
  });

  it('during an upgrade to 2.0, lb.traffic reports requests served by both editions and failed = 0', async () => {
    type Traffic = Awaited<ReturnType<typeof api.lb.traffic.query>>;
    // What the console's chart does: the difference between two reads, each server's new answers
    // counted under the edition it runs at the later read.
    const during: Record<string, number> = {};
    let last: Traffic | null = null;
    const read = async (): Promise<Traffic> => {
      const t = await api.lb.traffic.query({ cluster: 'demo' });
      if (t.error) throw new FatalWait(`lb.traffic: ${t.error}`);
      if (last) {
        const before = new Map(last.servers.map((s) => [s.haproxyServer, s.served]));
        for (const s of t.servers) {
          const key = s.edition ?? 'unknown';
          during[key] = (during[key] ?? 0) + s.served - (before.get(s.haproxyServer) ?? s.served);
        }
      }
      last = t;
      return t;
    };
    await waitFor(
      'the steady load counted under edition 1.0',
      async () => ((await read()).editions.find((e) => e.edition === '1.0')?.served ?? 0) > 0,
      30_000,
      250,
    );
    expect(last!.editions.map((e) => e.edition)).toEqual(['1.0']);
    // From here on: what was served while the run switched the servers, and just after.
    for (const k of Object.keys(during)) delete during[k];
    const view = await api.editions.rollout.mutate({ app: 'demo-app', cluster: 'demo', edition: '2.0' });
    await waitFor(
      `run ${view.run.id} to succeed`,
      async () => {
        await read();
        const { run } = await api.upgrade.status.query({ runId: view.run.id });
        if (['paused', 'failed', 'aborted'].includes(run.status))
          throw new FatalWait(`run ${run.id} ${run.status}: ${run.failure}\n${output}`);
        return run.status === 'succeeded';
      },
      240_000,
      250,
    );
    // Every server now runs 2.0; wait for the steady load to be served there.
    const after = await waitFor(
      'the steady load served by edition 2.0',
      async () => ((await read()) && (during['2.0'] ?? 0) > 0 ? last : null),
      30_000,
      250,
    );
    expect(during['1.0']).toBeGreaterThan(0);
    expect(after!.servers.every((s) => s.edition === '2.0')).toBe(true);
    expect(after!.failed).toBe(0);
    expect(after!.servers.every((s) => s.http5xx === 0)).toBe(true);
    const res = await fetch(front);
    expect(((await res.json()) as { edition: string }).edition).toBe('2.0');
  });
});
