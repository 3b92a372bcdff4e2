// The bundled CLI (issue 18 item 5, docs/adr/0024) built for real and run by plain `node` against a
// real coordinator with two real agents: --version says the release and the commit it was built
// from, `servers` answers, and `edition rollout --wait` / `upgrade logs --follow` follow the run on
// the live stream and return once it has ended, with its exit code and every line of it.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startFleet, type Fleet } from '@rollgate/demo-fleet';
import { buildCliBundle } from './build.mjs';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('the bundled CLI (issue 18 item 5)', () => {
  let dir: string;
  let bundle: string;
  let commit: string;
  let fleet: Fleet;

  /** `node <bundle> …` with nothing of the checkout's loaders: what an installed CLI is. */
  function rollgate(args: string[], env: Record<string, string> = {}): Promise<Result> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [bundle, ...args],
        {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
          maxBuffer: 64 * 1024 * 1024,
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }
  const authed = (...args: string[]) =>
    rollgate(['--url', fleet.url, ...args], { ROLLGATE_TOKEN: fleet.admin.token });
  /** `edition rollout` of demo-app on the two servers, one at a time, with JSON output. */
  const rollout = (edition: string, ...more: string[]) =>
    authed(
      ...['edition', 'rollout', '--app', 'demo-app', '--cluster', 'demo', '--edition', edition],
      ...['--group-size', '1', '--drainage-interval', '0', '--json', ...more],
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-cli-bundle-'));
    const built = await buildCliBundle({ outDir: join(dir, 'dist') });
    bundle = built.bundle;
    commit = built.commit;
    fleet = await startFleet({
      dir: join(dir, 'fleet'),
      heartbeatMs: 500,
      agents: [
        { id: 'web-1', role: 'web' },
        { id: 'web-2', role: 'web' },
      ],
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is one executable file that answers --version with the release and the commit', async () => {
    const text = await readFile(bundle, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(text).not.toContain('sourceMappingURL');
    const r = await rollgate(['--version']);
    expect(r.code).toBe(0);
    const version = JSON.parse(await readFile(join(ROOT, 'apps/cli/package.json'), 'utf8')).version;
    expect(commit).toMatch(/^[0-9a-f]{12}$/);
    expect(r.stdout).toBe(`${version} (commit ${commit})\n`);
  });

  it('runs a real command against a real coordinator: servers --json', async () => {
    const r = await authed('servers', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ids = (JSON.parse(r.stdout) as { id: string }[]).map((s) => s.id).sort();
    expect(ids).toEqual(['web-1', 'web-2']);
  });

  it('edition rollout --wait returns once the run has ended (exit 0), and logs --follow then ends too', async () => {
    const r = await rollout('2.0', '--wait');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const views = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { run: { id: string; status: string } });
    // Followed: more than the starting view arrived, and the last one is the end.
    expect(views.length).toBeGreaterThan(1);
    expect(views.at(-1)!.run.status).toBe('succeeded');
    const runId = views[0]!.run.id;
    // The coordinator agrees: the CLI returned after the end, not before.
    expect((await fleet.api.upgrade.status.query({ runId })).run.status).toBe('succeeded');

    // --follow on a run that has ended: every line once, the same as a plain read, then exit 0.
    const follow = await authed('upgrade', 'logs', runId, '--follow', '--json');
    expect(follow.code).toBe(0);
    const followed = follow.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: number }).id);
    const all = (await fleet.api.upgrade.logs.query({ runId, limit: 5000 })).map((l) => l.id);
    expect(followed).toEqual(all);
    expect(new Set(followed).size).toBe(followed.length);
  });

  it('logs --follow from a run\'s start ends after its last line: every line once, "rollout completed" last', async () => {
    const started = await rollout('1.0');
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const runId = (JSON.parse(started.stdout) as { run: { id: string } }).run.id;
    const follow = await authed('upgrade', 'logs', runId, '--follow', '--json');
    expect(follow.code).toBe(0);
    // The stream ended on the run's end with nothing left behind (docs/adr/0055): what it printed
    // is what a plain read gives afterwards, the engine's last line included.
    expect((await fleet.api.upgrade.status.query({ runId })).run.status).toBe('succeeded');
    const followed = follow.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; code: string });
    const all = await fleet.api.upgrade.logs.query({ runId, limit: 5000 });
    expect(followed.map((l) => l.id)).toEqual(all.map((l) => l.id));
    expect(followed.at(-1)!.code).toBe('RG0011I');
  });

  it('a refused live stream is a clear error, not a hang: no session, exit 1', async () => {
    const run = (await fleet.api.upgrade.list.query())[0]!;
    const r = await rollgate(['--url', fleet.url, 'upgrade', 'status', run.id, '--watch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sign in|rollgate login/i);
  });
});
