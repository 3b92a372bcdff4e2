// Issue 16 item 5 end to end: a real coordinator on a real PostgreSQL, real agents in two
// clusters, and the real `rollgate` CLI authenticated by ROLLGATE_TOKEN alone (no login). An
// administrator creates a cluster-scoped token; CI uploads an edition and rolls it out with
// `--wait --json`; the token's last use and audit rows appear; another cluster is refused; the
// token stops working when revoked and when it expires. No token is printed by this test.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoEditions } from '@rollgate/demo-app';
import { ROOT, startFleet, waitFor, type Fleet } from '@rollgate/demo-fleet';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('issue 16 item 5: service tokens with the real CLI and a real coordinator', () => {
  let dir: string;
  let home: string;
  let fleet: Fleet;
  let ciToken = '';
  /** Every token this test makes: they must never reach a log. */
  const made: string[] = [];

  /** The real CLI with no saved session; `token` is its ROLLGATE_TOKEN. */
  function rollgate(args: string[], token: string): Promise<Result> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
        {
          cwd: ROOT,
          timeout: 120_000,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: home,
            XDG_CONFIG_HOME: join(home, '.config'),
            ROLLGATE_TOKEN: token,
          },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }
  const asAdmin = (args: string[]) => rollgate(args, fleet.admin.token);

  async function createToken(args: string[]): Promise<string> {
    const r = await asAdmin(['token', 'create', ...args]);
    expect(r.stderr).toMatch(/This is the only time it is shown/);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    // Checked without printing it: a failed match must not put the token in the test log.
    expect(/^rgt_[A-Za-z0-9_-]{43}$/.test(token)).toBe(true);
    made.push(token);
    return token;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-tokens-'));
    home = await mkdtemp(join(tmpdir(), 'rollgate-tokens-home-'));
    fleet = await startFleet({
      dir,
      heartbeatMs: 1000,
      editions: ['1.0'],
      agents: [
        // Two in the token's cluster: a rollout of one server alone would need a side-by-side LB.
        { id: 'web-1', role: 'web' },
        { id: 'web-2', role: 'web' },
        { id: 'other-1', role: 'web', cluster: 'other' },
      ],
    });
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  });

  it('issue 16 item 5: an administrator creates a scoped operator token; list shows it, never its text', async () => {
    ciToken = await createToken([
      '--name',
      'ci',
      '--role',
      'operator',
      '--cluster',
      'demo',
      '--expires',
      '1d',
    ]);
    const list = await asAdmin(['token', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(
      /^NAME\s+ROLE\s+SCOPE\s+CREATED\s+EXPIRES\s+LAST USED\s+STATE$/,
    );
    expect(list.stdout).toMatch(/^ci\s+operator\s+demo\s+.* by admin\s+.*\s+never\s+active/m);
    expect(list.stdout.includes(ciToken)).toBe(false);
    // A viewer account may not manage tokens; neither may the token itself.
    const viewer = await fleet.createUser('vic', 'viewer', 'a viewer password 42');
    expect((await rollgate(['token', 'list'], viewer.token)).stderr).toMatch(/needs the administrator role/);
    expect((await rollgate(['token', 'list'], ciToken)).stderr).toMatch(
      /token:ci is a.? operator; "tokens.list" needs the administrator role/,
    );
  });

  it('issue 16 item 5: CI uploads an edition and rolls it out with --wait --json on ROLLGATE_TOKEN alone', async () => {
    const [edition] = await buildDemoEditions(join(dir, 'ci-editions'), ['2.0']);
    const upload = await rollgate(
      ['edition', 'upload', '--app', 'demo-app', '--name', '2.0', '--file', edition!.path, '--json'],
      ciToken,
    );
    expect(upload.stderr).toBe('');
    expect(upload.code).toBe(0);
    expect(JSON.parse(upload.stdout)).toMatchObject({ app: 'demo-app', name: '2.0' });
    const rollout = await rollgate(
      [
        'edition',
        'rollout',
        '--app',
        'demo-app',
        '--cluster',
        'demo',
        '--edition',
        '2.0',
        '--drainage-interval',
        '0',
        '--wait',
        '--json',
      ],
      ciToken,
    );
    expect(rollout.code, rollout.stderr).toBe(0);
    // --wait --json prints the run view as one JSON line per change: the last line is the end.
    const lines = rollout.stdout.trim().split('\n');
    const view = JSON.parse(lines.at(-1)!) as { run: { status: string; createdBy: string } };
    expect(view.run.status).toBe('succeeded');
    expect(view.run.createdBy).toBe('token:ci');
  });

  it('issue 16 item 5: each use stamps the last use and writes an audit row', async () => {
    const used = await waitFor(
      'the last use of "ci" in token list',
      async () => {
        const rows = JSON.parse((await asAdmin(['token', 'list', '--json'])).stdout) as {
          name: string;
          lastUsedAt: number | null;
          lastUsedFrom: string | null;
        }[];
        return rows.find((r) => r.name === 'ci' && r.lastUsedAt !== null);
      },
      30_000,
    );
    expect(used.lastUsedFrom).toBe('127.0.0.1');
    const audit = await fleet.api.audit.list.query();
    const uses = audit.filter((a) => a.action === 'token.use' && a.target === 'ci');
    const procedures = new Set(uses.map((a) => a.details.procedure));
    expect(procedures).toEqual(new Set(['editions.upload', 'editions.rollout', 'upgrade.watch']));
    expect(uses.every((a) => a.actor === 'token:ci')).toBe(true);
    expect(audit.some((a) => a.action === 'token.create' && a.target === 'ci' && a.actor === 'admin')).toBe(
      true,
    );
  });

  it('issue 16 item 5: a token scoped to one cluster is refused on another, with what to do', async () => {
    const other = await rollgate(['servers', '--cluster', 'other', '--json'], ciToken);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(
      /Service token "ci" may act on cluster "demo" only; "servers.list" acts on cluster "other"\. Use a token scoped to "other"/,
    );
    const everywhere = await rollgate(['servers', '--json'], ciToken);
    expect(everywhere.code).toBe(1);
    expect(everywhere.stderr).toMatch(/names no cluster .*--cluster demo/);
    const own = await rollgate(['servers', '--cluster', 'demo', '--json'], ciToken);
    expect(own.code).toBe(0);
    expect((JSON.parse(own.stdout) as { id: string }[]).map((s) => s.id).sort()).toEqual(['web-1', 'web-2']);
    const refused = (await fleet.api.audit.list.query()).filter(
      (a) => a.action === 'token.refused' && a.target === 'ci',
    );
    expect(refused.length).toBe(2);
  });

  it('issue 16 item 5: a revoked token is refused at once', async () => {
    const revoke = await asAdmin(['token', 'revoke', 'ci']);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(/Service token "ci" is revoked/);
    const after = await rollgate(['servers', '--cluster', 'demo'], ciToken);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/Service token "ci" was revoked at .*rollgate token create --name ci/);
    expect((await asAdmin(['token', 'list'])).stdout).toMatch(/^ci\s+operator\s+demo\s+.*revoked /m);
  });

  it('issue 16 item 5: a token stops working when it expires', async () => {
    const short = await createToken(['--name', 'short', '--role', 'viewer', '--expires', '10s']);
    expect((await rollgate(['servers', '--cluster', 'demo', '--json'], short)).code).toBe(0);
    const refused = await waitFor(
      'the 10 s token to expire',
      async () => {
        const r = await rollgate(['servers', '--json'], short);
        return r.code !== 0 && /expired at/.test(r.stderr) ? r : null;
      },
      60_000,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Service token "short" expired at .*rollgate token revoke short/);
  });

  it('issue 16 item 5: no token reaches the coordinator log', async () => {
    const log = await readFile(join(dir, 'logs', 'coordinator.log'), 'utf8');
    expect(log.length).toBeGreaterThan(0);
    expect(made.length).toBe(2);
    expect(made.filter((t) => log.includes(t)).length).toBe(0);
  });
});
