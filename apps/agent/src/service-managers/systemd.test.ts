// The systemd manager's exact commands, with an injected runner (no systemd as PID 1 here; the
// README's "Services under systemd" is the manual check on a machine that has it).
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@rollgate/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderEnvFile } from './env-file';
import type { RunOptions, RunResult, Runner } from './run-argv';
import { createSystemdManager, parseIsActive } from './systemd';

const log = createLogger({ name: 'test', level: 'silent' });
const ok = (stdout = ''): RunResult => ({ code: 0, signal: null, stdout, stderr: '', timedOut: false });
const exit = (code: number, stdout = '', stderr = ''): RunResult => ({
  code,
  signal: null,
  stdout,
  stderr,
  timedOut: false,
});

/** A fake systemctl: records every argv and answers from a small state machine. */
function fakeSystemctl() {
  const calls: { argv: string[]; opts: RunOptions }[] = [];
  const state = { active: 'inactive', mainPid: 0 };
  const run: Runner = async (argv, opts) => {
    calls.push({ argv: [...argv], opts });
    const [, verb] = argv;
    if (verb === 'is-active')
      return state.active === 'active' ? ok('active\n') : exit(3, `${state.active}\n`);
    if (verb === 'show') return ok(`${state.mainPid}\n`);
    if (verb === 'start') {
      state.active = 'active';
      state.mainPid = 4242;
      return ok();
    }
    if (verb === 'stop') {
      state.active = 'inactive';
      state.mainPid = 0;
      return ok();
    }
    return exit(1, '', `unexpected ${argv.join(' ')}`);
  };
  return { run, calls, state };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rg-systemd-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('systemd manager (issue 14 item 3)', () => {
  it('maps systemctl is-active: exit 0 running, exit 3 stopped/failed/starting, anything else unknown', () => {
    expect(parseIsActive(0, 'active\n', '').state).toBe('running');
    expect(parseIsActive(3, 'inactive\n', '')).toEqual({ state: 'stopped', pid: null, detail: 'inactive' });
    expect(parseIsActive(3, 'failed\n', '').state).toBe('failed');
    expect(parseIsActive(3, 'activating\n', '').state).toBe('starting');
    const missing = parseIsActive(4, '', 'Unit nope.service could not be found.');
    expect(missing.state).toBe('unknown');
    expect(missing.detail).toContain('exited with code 4: Unit nope.service could not be found.');
  });

  it('starts with `systemctl start <unit>` after writing the env file, stops with `systemctl stop <unit>`', async () => {
    const fake = fakeSystemctl();
    const envFile = join(dir, 'etc', 'demo-app.env');
    const m = createSystemdManager({
      service: 'demo-app',
      unit: 'rollgate-x.service',
      envFile,
      dataDir: dir,
      run: fake.run,
      log,
    });
    expect(await m.refresh()).toBe(false);
    expect(fake.calls.map((c) => c.argv)).toEqual([['systemctl', 'is-active', 'rollgate-x.service']]);

    fake.calls.length = 0;
    const rec = await m.start({
      edition: '2.0',
      dir: '/var/lib/rollgate/editions/demo-app/2.0',
      env: { PORT: '8081', DATABASE_URL: 'postgres://app:s3cr"et$@db/app' },
    });
    expect(rec).toEqual({ pid: 4242, edition: '2.0' });
    expect(fake.calls.map((c) => c.argv)).toEqual([
      ['systemctl', 'start', 'rollgate-x.service'],
      ['systemctl', 'is-active', 'rollgate-x.service'],
      ['systemctl', 'show', '--property=MainPID', '--value', 'rollgate-x.service'],
    ]);
    // No shell anywhere: each argv is the program and its words.
    expect(fake.calls.every((c) => c.argv[0] === 'systemctl')).toBe(true);

    const text = await readFile(envFile, 'utf8');
    expect(text).toBe(
      [
        '# Written by the Rollgate agent at each start; edits are overwritten.',
        'ROLLGATE_SERVICE="demo-app"',
        'ROLLGATE_EDITION="2.0"',
        'ROLLGATE_EDITION_DIR="/var/lib/rollgate/editions/demo-app/2.0"',
        'PORT="8081"',
        'DATABASE_URL="postgres://app:s3cr\\"et\\$@db/app"',
        '',
      ].join('\n'),
    );
    // Secrets inside: readable by its owner only; no temp file left beside it (written atomically).
    expect((await stat(envFile)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'etc'))).toEqual(['demo-app.env']);
    expect(m.running()).toEqual({ pid: 4242, edition: '2.0' });

    fake.calls.length = 0;
    const stopped = await m.stop(10_000);
    expect(stopped.alreadyStopped).toBe(false);
    expect(stopped.killed).toBe(false);
    expect(fake.calls.map((c) => c.argv)).toEqual([
      ['systemctl', 'is-active', 'rollgate-x.service'],
      ['systemctl', 'show', '--property=MainPID', '--value', 'rollgate-x.service'],
      ['systemctl', 'stop', 'rollgate-x.service'],
      ['systemctl', 'is-active', 'rollgate-x.service'],
    ]);
    expect(m.running()).toBeUndefined();
    // Stopping a stopped unit runs no stop at all.
    fake.calls.length = 0;
    expect((await m.stop(10_000)).alreadyStopped).toBe(true);
    expect(fake.calls.map((c) => c.argv[1])).toEqual(['is-active']);
  });

  it('reports a restart made by systemd (a new main pid) and never signals the process itself', async () => {
    const fake = fakeSystemctl();
    const restarts: string[] = [];
    const m = createSystemdManager({
      service: 'demo-app',
      unit: 'rollgate-x.service',
      envFile: join(dir, 'x.env'),
      dataDir: dir,
      run: fake.run,
      log,
      onRestart: (_s, detail) => restarts.push(detail),
      reuseMs: 0, // every refresh asks systemctl
    });
    await m.start({ edition: '1.0', dir: '/e/1.0', env: {} });
    // The process crashed; Restart=on-failure brought it back under a new pid.
    fake.state.active = 'activating';
    expect(await m.refresh()).toBe(true);
    expect(m.lastStatus()?.state).toBe('starting');
    fake.state.active = 'active';
    fake.state.mainPid = 5151;
    expect(await m.refresh()).toBe(true);
    expect(restarts).toEqual(['systemd restarted demo-app (pid 4242 → 5151)']);
    expect(m.restarts()).toBe(1);
    expect(m.running()).toEqual({ pid: 5151, edition: '1.0' });
    expect(fake.calls.map((c) => c.argv[1])).not.toContain('kill');
  });

  it('explains a failed start with what systemctl said and where to look', async () => {
    const run: Runner = async (argv) =>
      argv[1] === 'start'
        ? exit(5, '', 'Failed to start rollgate-x.service: Unit rollgate-x.service not found.')
        : exit(3, 'inactive\n');
    const m = createSystemdManager({
      service: 'demo-app',
      unit: 'rollgate-x.service',
      envFile: join(dir, 'x.env'),
      dataDir: dir,
      run,
      log,
    });
    await expect(m.start({ edition: '1.0', dir: '/e/1.0', env: {} })).rejects.toThrow(
      /systemctl start rollgate-x.service exited with code 5: Failed to start rollgate-x.service: Unit rollgate-x.service not found.; see `systemctl status rollgate-x.service` and `journalctl -u rollgate-x.service`/,
    );
  });

  it('refuses an env value that cannot be written safely, naming the variable but not its value', () => {
    expect(() => renderEnvFile('x', '1.0', '/e', { TOKEN: 'abc\nROLLGATE_EDITION=evil' })).toThrow(
      /the value of TOKEN holds a line break/,
    );
    try {
      renderEnvFile('x', '1.0', '/e', { TOKEN: 'abc\nsecret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });
});
