// Accounts end to end with the real CLI and a real coordinator: the first administrator exists once,
// sign-in saves a private session, an administrator creates a viewer, the API refuses the viewer a
// run, failed sign-ins are rate limited, and no password or token reaches the coordinator's log.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startFleet, type Fleet } from '@rollgate/demo-fleet';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('rollgate login, users and roles against a real coordinator', () => {
  let dir: string;
  let home: string;
  let fleet: Fleet;

  /** The real CLI, with its own config directory and no token in the environment unless given. */
  function rollgate(
    args: string[],
    opts: { stdin?: string; env?: Record<string, string> } = {},
  ): Promise<Result> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        [join(ROOT, 'apps/cli/bin/rollgate.mjs'), '--url', fleet.url, ...args],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: home,
            XDG_CONFIG_HOME: join(home, '.config'),
            ...opts.env,
          },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(opts.stdin ?? '');
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-cli-auth-'));
    home = await mkdtemp(join(tmpdir(), 'rollgate-cli-home-'));
    fleet = await startFleet({ dir, heartbeatMs: 1000, editions: ['1.0', '2.0'] });
  });

  afterAll(async () => {
    await fleet?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  });

  it('refuses a second first administrator, and any call without a session', async () => {
    const init = await rollgate(['admin', 'init', '--username', 'root'], {
      stdin: 'a long enough password\n',
    });
    expect(init.code).toBe(1);
    expect(init.stderr).toMatch(/An administrator already exists/);
    const anonymous = await rollgate(['servers']);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/Sign in first: `rollgate login`/);
  });

  it('signs in with the password on standard input and keeps the session private (0600)', async () => {
    const login = await rollgate(['login', '--username', 'admin'], { stdin: `${fleet.admin.password}\n` });
    expect(login.stderr).toBe('');
    expect(login.stdout).toMatch(/^Signed in to .* as admin \(admin\) until /);
    const file = join(home, '.config', 'rollgate', 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, '.config', 'rollgate'))).mode & 0o777).toBe(0o700);
    expect((await rollgate(['whoami'])).stdout.trim()).toBe(`admin (admin) at ${fleet.url}`);
    expect((await rollgate(['servers'])).code).toBe(0);
  });

  it('an administrator creates a viewer; the viewer may read but the API refuses it a run', async () => {
    const created = await rollgate(['users', 'create', '--username', 'vera', '--role', 'viewer'], {
      stdin: 'vera-s long secret\n',
    });
    expect(created.stderr).toMatch(/must not contain the user name/);
    const ok = await rollgate(['users', 'create', '--username', 'vera', '--role', 'viewer'], {
      stdin: 'a viewer password 42\n',
    });
    expect(ok.stdout.trim()).toBe('Created vera (viewer).');
    const token = (
      await rollgate(['login', '--username', 'vera', '--print-token'], { stdin: 'a viewer password 42\n' })
    ).stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const asViewer = { env: { ROLLGATE_TOKEN: token } };
    expect((await rollgate(['servers', '--json'], asViewer)).code).toBe(0);
    const start = await rollgate(
      ['upgrade', 'start', '--cluster', 'demo', '--app', 'demo-app', '--edition', '2.0'],
      asViewer,
    );
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/vera is a viewer; "upgrade.start" needs the operator role/);
    const users = await rollgate(['users', 'list'], asViewer);
    expect(users.stderr).toMatch(/needs the administrator role/);
    expect((await fleet.api.upgrade.list.query()).length).toBe(0);
  });

  it('rate-limits failed sign-ins, and no password or token ever reaches the coordinator log', async () => {
    const tries: Result[] = [];
    for (let i = 0; i < 6; i++)
      tries.push(await rollgate(['login', '--username', 'vera'], { stdin: 'wrong password!!\n' }));
    expect(tries[0]!.stderr).toMatch(/Wrong user name or password/);
    expect(tries.at(-1)!.stderr).toMatch(
      /Too many failed sign-ins for "vera" from 127\.0\.0\.1; try again in \d+ s/,
    );
    const log = await readFile(join(dir, 'logs', 'coordinator.log'), 'utf8');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [
      fleet.admin.password,
      fleet.admin.token,
      'a viewer password 42',
      'wrong password!!',
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});
