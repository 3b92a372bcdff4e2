// The `process` manager's settings in the agent config (services[].restart, user, group, log) and
// how run-as users are resolved (issue 14.3).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config';
import { resolveRunAs } from './run-as';
import { DEFAULT_RESTART_POLICY } from './supervisor';

const withService = (extra: Record<string, unknown>) => ({
  agentId: 'admin-1',
  cluster: 'demo',
  role: 'admin',
  coordinator: { address: '127.0.0.1:7443' },
  dataDir: '/var/lib/rollgate-agent',
  gate: { host: '127.0.0.1', port: 7070 },
  services: [{ name: 'demo-app', port: 8081, start: { command: 'node', args: ['server.mjs'] }, ...extra }],
});

function errorsOf(input: unknown): string[] {
  const r = parseConfig(input, '/etc/rollgate');
  if (r.ok) throw new Error('expected the config to be refused');
  return r.errors;
}

describe('services[] restart, user, group, log (issue 14.3)', () => {
  it('defaults: on-failure with 1 s → 30 s back-off, 10 restarts in 10 min; 10 MiB × 5 log files', () => {
    const r = parseConfig(withService({}), '/etc/rollgate');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const s = r.config.services[0]!;
    expect(s.restart).toEqual(DEFAULT_RESTART_POLICY);
    expect(s.restart).toEqual({
      policy: 'on-failure',
      backoffMs: 1000,
      maxBackoffMs: 30_000,
      maxRestarts: 10,
      windowMs: 600_000,
    });
    expect(s.log).toEqual({ maxBytes: 10 * 1024 * 1024, keep: 5 });
    expect(s.user).toBeUndefined();
  });

  it('takes a partial policy, a user and group, and a rotation', () => {
    const r = parseConfig(
      withService({
        restart: { policy: 'always', maxRestarts: 3 },
        user: 'demo-app',
        group: '1001',
        log: { maxBytes: 1048576 },
      }),
      '/etc/rollgate',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const s = r.config.services[0]!;
    expect(s.restart).toMatchObject({ policy: 'always', maxRestarts: 3, backoffMs: 1000 });
    expect([s.user, s.group]).toEqual(['demo-app', '1001']);
    expect(s.log).toEqual({ maxBytes: 1048576, keep: 5 });
  });

  it('refuses a bad policy, a typo, a group without a user and an absurd rotation, naming the field', () => {
    expect(errorsOf(withService({ restart: { policy: 'sometimes' } }))[0]).toMatch(
      /^services\[0\]\.restart\.policy: expected one of "on-failure", "always", "never"/,
    );
    expect(errorsOf(withService({ restart: { backof: 10 } }))[0]).toMatch(
      /^services\[0\]\.restart: unknown key "backof"/,
    );
    expect(errorsOf(withService({ restart: { backoffMs: 5000, maxBackoffMs: 1000 } }))[0]).toMatch(
      /^services\[0\]\.restart\.maxBackoffMs: is 1000, below backoffMs 5000/,
    );
    expect(errorsOf(withService({ group: 'demo' }))[0]).toMatch(
      /^services\[0\]\.group: is set without "user"/,
    );
    expect(errorsOf(withService({ user: 'bad user;rm' }))[0]).toMatch(
      /^services\[0\]\.user: expected a user name or numeric id/,
    );
    expect(errorsOf(withService({ log: { maxBytes: 10, keep: 0 } }))).toEqual([
      expect.stringMatching(
        /^services\[0\]\.log\.maxBytes: expected bytes at which the log file is rotated: a whole number from 4096/,
      ),
      expect.stringMatching(
        /^services\[0\]\.log\.keep: expected rotated log files kept: a whole number from 1 to 1000/,
      ),
    ]);
  });
});

describe('run as another user', () => {
  it('refuses when the agent is not root, saying what to do', async () => {
    await expect(resolveRunAs('demo-app', 'root', undefined, 1000)).rejects.toThrow(
      /demo-app is configured to run as user "root", but the agent runs as uid 1000, not root: .*run the agent as root, or remove "user"\/"group"/,
    );
  });

  it('resolves a user to its ids and primary group, and refuses an unknown user or group', async () => {
    await expect(resolveRunAs('svc', 'root', undefined, 0)).resolves.toMatchObject({
      uid: 0,
      gid: 0,
      user: 'root',
    });
    await expect(resolveRunAs('svc', '0', 'root', 0)).resolves.toMatchObject({ uid: 0, gid: 0 });
    await expect(resolveRunAs('svc', 'no-such-user-rg', undefined, 0)).rejects.toThrow(
      /svc: user "no-such-user-rg" does not exist on this server .*useradd --system no-such-user-rg/,
    );
    await expect(resolveRunAs('svc', 'root', 'no-such-group-rg', 0)).rejects.toThrow(
      /svc: group "no-such-group-rg" does not exist on this server/,
    );
    // A bare uid with no passwd entry runs as it is, once its group is given.
    await expect(resolveRunAs('svc', '64999', undefined, 0)).rejects.toThrow(/give services\[\]\.group too/);
    await expect(resolveRunAs('svc', '64999', '64999', 0)).resolves.toMatchObject({ uid: 64999, gid: 64999 });
  });
});
