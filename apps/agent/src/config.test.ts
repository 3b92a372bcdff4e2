import { describe, expect, it } from 'vitest';
import { parseConfig } from './config';

const valid = () => ({
  agentId: 'admin-1',
  cluster: 'demo',
  role: 'admin',
  coordinator: { address: '127.0.0.1:7443' },
  dataDir: '/var/lib/rollgate-agent',
  gate: { host: '127.0.0.1', port: 7070 },
  services: [
    {
      name: 'demo-app',
      port: 8081,
      start: { command: 'node', args: ['server.mjs'] },
      healthUrl: 'http://127.0.0.1:8081/health',
      env: { PORT: '8081', SERVER_NAME: 'admin-1' },
      configDir: 'conf/demo-app',
      commands: { 'db-upgrade': { command: 'node', args: ['migrate.mjs'] } },
      initialEdition: { name: '1.0', archive: 'demo-app-1.0.tgz' },
    },
  ],
});

function errorsOf(input: unknown): string[] {
  const r = parseConfig(input, '/etc/rollgate');
  if (r.ok) throw new Error('expected the config to be refused');
  return r.errors;
}

describe('agent config', () => {
  it('accepts the documented example and resolves relative paths against the config dir', () => {
    const r = parseConfig(valid(), '/etc/rollgate');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const s = r.config.services[0]!;
    expect(s.configDir).toBe('/etc/rollgate/conf/demo-app');
    expect(s.initialEdition?.archive).toBe('/etc/rollgate/demo-app-1.0.tgz');
    expect(r.config.dataDir).toBe('/var/lib/rollgate-agent');
  });

  it('fills defaults: healthUrl from the port, empty env and commands, gate host', () => {
    const input = valid();
    const svc = { name: 'api', port: 9000, start: { command: 'node' } };
    const r = parseConfig({ ...input, gate: { port: 7070 }, services: [svc] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.gate.host).toBe('0.0.0.0');
    expect(r.config.services[0]).toMatchObject({
      healthUrl: 'http://127.0.0.1:9000/health',
      env: {},
      commands: {},
      start: { command: 'node', args: [] },
    });
  });

  it('names the field, what was expected with an example, and what was found', () => {
    const input = valid();
    (input.services[0] as Record<string, unknown>).port = '8081';
    const errors = errorsOf(input);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe('services[0].port: expected a TCP port number 1-65535 (e.g. 8081), got "8081"');
  });

  it('refuses unsafe names with the rule and an example', () => {
    const errors = errorsOf({ ...valid(), agentId: '../etc' });
    expect(errors[0]).toMatch(/^agentId: expected agent id: 1-64 letters, digits/);
    expect(errors[0]).toContain('e.g. "admin-1"');
    expect(errors[0]).toContain('got "../etc"');
    expect(errorsOf({ ...valid(), agentId: 'a'.repeat(65) })[0]).toMatch(/^agentId: /);
  });

  it('reports missing required fields as missing', () => {
    const { coordinator: _c, ...rest } = valid();
    expect(errorsOf(rest)).toEqual([
      'coordinator: missing; expected an object like { "address": "127.0.0.1:7443" }',
    ]);
  });

  it('reports unknown keys (typos) with the allowed keys', () => {
    const input = valid();
    (input.services[0] as Record<string, unknown>).helthUrl = 'x';
    const errors = errorsOf(input);
    expect(errors[0]).toContain('services[0]: unknown key "helthUrl"');
    expect(errors[0]).toContain('allowed: name, port, start, healthUrl');
  });

  it('explains env values must be strings', () => {
    const input = valid();
    (input.services[0]!.env as Record<string, unknown>).PORT = 8081;
    expect(errorsOf(input)).toEqual([
      'services[0].env.PORT: expected a string value; quote numbers (e.g. "8081"), got 8081',
    ]);
  });

  it('takes a list of coordinators to fail over between; the single address keeps working', () => {
    const one = parseConfig(valid(), '/etc/rollgate');
    expect(one.ok && one.config.coordinator).toEqual({
      address: '127.0.0.1:7443',
      addresses: ['127.0.0.1:7443'],
      enrolAddress: '127.0.0.1:7402',
      insecure: false,
    });
    const many = parseConfig(
      { ...valid(), coordinator: { addresses: ['10.0.0.1:7401', '10.0.0.2:7401'] } },
      '/etc/rollgate',
    );
    expect(many.ok && many.config.coordinator).toEqual({
      address: '10.0.0.1:7401',
      addresses: ['10.0.0.1:7401', '10.0.0.2:7401'],
      enrolAddress: '10.0.0.1:7402',
      insecure: false,
    });
    expect(errorsOf({ ...valid(), coordinator: {} })[0]).toMatch(/^coordinator: missing; expected "address"/);
    expect(errorsOf({ ...valid(), coordinator: { addresses: [] } })[0]).toMatch(
      /coordinator\.addresses: list at least one coordinator address/,
    );
    expect(errorsOf({ ...valid(), coordinator: { addresses: ['10.0.0.1'] } })[0]).toMatch(
      /^coordinator\.addresses\[0\]: expected host:port/,
    );
  });

  it('takes the enrolment address and the insecure opt-in (docs/adr/0013)', () => {
    const r = parseConfig(
      {
        ...valid(),
        coordinator: { address: '[::1]:7401', enrolAddress: 'coord.internal:8443', insecure: true },
      },
      '/etc/rollgate',
    );
    expect(r.ok && r.config.coordinator).toEqual({
      address: '[::1]:7401',
      addresses: ['[::1]:7401'],
      enrolAddress: 'coord.internal:8443',
      insecure: true,
    });
    const ipv6 = parseConfig({ ...valid(), coordinator: { address: '[::1]:7401' } }, '/etc/rollgate');
    expect(ipv6.ok && ipv6.config.coordinator.enrolAddress).toBe('[::1]:7402');
    expect(errorsOf({ ...valid(), coordinator: { address: '127.0.0.1:7401', insecure: 'yes' } })[0]).toMatch(
      /^coordinator\.insecure: expected true or false, got "yes"/,
    );
    expect(
      errorsOf({ ...valid(), coordinator: { address: '127.0.0.1:7401', enrolAddress: 'x' } })[0],
    ).toMatch(/^coordinator\.enrolAddress: expected host:port/);
  });

  it('checks the coordinator address, service list, duplicates and URLs', () => {
    expect(errorsOf({ ...valid(), coordinator: { address: 'localhost' } })[0]).toMatch(
      /^coordinator\.address: expected host:port .*got "localhost"/,
    );
    expect(errorsOf({ ...valid(), services: [] })).toEqual([
      'services: list at least one service the agent manages',
    ]);
    const dup = valid();
    dup.services.push({ ...dup.services[0]! });
    const errors = errorsOf(dup);
    expect(errors).toContain('services[1].name: service name "demo-app" is used twice; names must be unique');
    expect(errors).toContain(
      'services[1].port: port 8081 is used by two services; each service needs its own port',
    );
    const badUrl = valid();
    badUrl.services[0]!.healthUrl = 'ftp://x';
    expect(errorsOf(badUrl)[0]).toMatch(/^services\[0\]\.healthUrl: expected an http URL/);
  });

  it('takes an optional agent-check port that must not clash with the gate or a service', () => {
    const ok = parseConfig({ ...valid(), gate: { host: '127.0.0.1', port: 7070, agentCheckPort: 7071 } });
    expect(ok.ok && ok.config.gate.agentCheckPort).toBe(7071);
    const off = parseConfig(valid());
    expect(off.ok && off.config.gate.agentCheckPort).toBeUndefined();
    expect(errorsOf({ ...valid(), gate: { port: 7070, agentCheckPort: 7070 } })).toEqual([
      "gate.agentCheckPort: port 7070 is already the gate's HTTP port (gate.port); give the agent-check a port of its own (e.g. 7071)",
    ]);
    expect(errorsOf({ ...valid(), gate: { port: 7070, agentCheckPort: 8081 } })).toEqual([
      'gate.agentCheckPort: port 8081 is already the port of service "demo-app"; give the agent-check a port of its own (e.g. 7071)',
    ]);
    expect(errorsOf({ ...valid(), gate: { port: 7070, agentCheckPort: '7071' } })).toEqual([
      'gate.agentCheckPort: expected a TCP port number 1-65535 (e.g. 7071), got "7071"',
    ]);
  });

  it('lists every problem at once, not just the first', () => {
    const errors = errorsOf({ ...valid(), role: '', gate: { port: 0 }, dataDir: 5 });
    expect(errors.map((e) => e.split(':')[0])).toEqual(['role', 'dataDir', 'gate.port']);
  });
});

describe('agent config: backups, database, test machine', () => {
  const withService = (extra: Record<string, unknown>, top: Record<string, unknown> = {}) => {
    const v = valid();
    return { ...v, ...top, services: [{ ...v.services[0]!, ...extra }] };
  };

  it('accepts backup directories, a database and test accounts/commands; resolves paths; backupsDir defaults', () => {
    const r = parseConfig(
      withService(
        {
          backup: { directories: ['conf', '/var/lib/demo-app'] },
          database: { urlEnv: 'DEMO_APP_DATABASE_URL', pgBinDir: 'pg/bin', backupCommand: 'db-upgrade' },
        },
        {
          testAccounts: { student: { username: 'student1', password: 'pw-123' } },
          testCommands: { 'launch-app': { command: '/opt/test/launch.sh' } },
        },
      ),
      '/etc/rollgate',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.backupsDir).toBe('/var/lib/rollgate-agent/backups');
    const s = r.config.services[0]!;
    expect(s.backup?.directories).toEqual(['/etc/rollgate/conf', '/var/lib/demo-app']);
    expect(s.database).toMatchObject({ urlEnv: 'DEMO_APP_DATABASE_URL', pgBinDir: '/etc/rollgate/pg/bin' });
    expect(r.config.testCommands['launch-app']).toEqual({ command: '/opt/test/launch.sh', args: [] });
    const b = parseConfig({ ...valid(), backupsDir: 'backups' }, '/etc/rollgate');
    expect(b.ok && b.config.backupsDir).toBe('/etc/rollgate/backups');
    const none = parseConfig(valid());
    expect(none.ok && none.config.testAccounts).toEqual({});
  });

  it('names the field for database mistakes, and never echoes a URL or a password', () => {
    expect(errorsOf(withService({ database: {} }))).toEqual([
      expect.stringMatching(/^services\[0\]\.database: give exactly one of "url" .* or "urlEnv"/),
    ]);
    const both = errorsOf(withService({ database: { url: 'postgres://a@h/db', urlEnv: 'X' } }));
    expect(both[0]).toMatch(/exactly one/);
    const bad = errorsOf(withService({ database: { url: 'mysql://app:hunter22@h/db' } }));
    expect(bad[0]).toMatch(/^services\[0\]\.database\.url: expected a postgres:\/\/ URL .* not shown/);
    expect(bad.join()).not.toContain('hunter22');
    const noDb = errorsOf(withService({ database: { url: 'postgres://app:hunter22@h' } }));
    expect(noDb.join()).not.toContain('hunter22');
    expect(errorsOf(withService({ database: { urlEnv: 'lower-case!' } }))[0]).toMatch(
      /^services\[0\]\.database\.urlEnv: expected an environment variable name/,
    );
    expect(errorsOf(withService({ database: { urlEnv: 'X', restoreCommand: 'nope' } }))[0]).toMatch(
      /^services\[0\]\.database\.restoreCommand: names command "nope", which is not in this service's commands \(configured: db-upgrade\)/,
    );
    expect(errorsOf(withService({ database: { urlEnv: 'X', typo: 1 } }))[0]).toMatch(
      /^services\[0\]\.database: unknown key "typo"/,
    );
    const pw = errorsOf({ ...valid(), testAccounts: { student: { username: 'u', password: 123456789 } } });
    expect(pw[0]).toMatch(/^testAccounts\.student\.password: expected the test user's password as a string/);
    expect(pw.join()).not.toContain('123456789');
  });

  it('backup directories must be a non-empty list of paths', () => {
    expect(errorsOf(withService({ backup: { directories: [] } }))[0]).toMatch(
      /^services\[0\]\.backup\.directories: list at least one directory/,
    );
    expect(errorsOf(withService({ backup: { dirs: ['/etc'] } }))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^services\[0\]\.backup: unknown key "dirs"/)]),
    );
  });
});

describe('agent config: limits (issue 13 item 2)', () => {
  it('defaults every limit (a 2 GiB edition passes, a 20 GiB bomb does not) and takes each one alone', () => {
    const r = parseConfig(valid(), '/etc/rollgate');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.config.limits).toEqual({
      maxExpandedBytes: 8 * 1024 ** 3,
      maxExpansionRatio: 200,
      maxEntries: 200_000,
      maxPathLength: 4096,
      freeSpaceMarginBytes: 512 * 1024 ** 2,
      workerMemoryMb: 512,
      workerTimeoutMs: 1_800_000,
    });
    const one = parseConfig({ ...valid(), limits: { maxExpandedBytes: 4 * 1024 ** 3 } }, '/etc/rollgate');
    if (!one.ok) throw new Error(one.errors.join('\n'));
    expect(one.config.limits.maxExpandedBytes).toBe(4 * 1024 ** 3);
    expect(one.config.limits.maxEntries).toBe(200_000);
  });

  it('refuses unknown keys and out-of-range figures, naming the field and the range', () => {
    expect(errorsOf({ ...valid(), limits: { maxExpandedByte: 1 } })).toEqual([
      expect.stringMatching(/^limits: unknown key "maxExpandedByte": remove it or check the spelling/),
    ]);
    expect(errorsOf({ ...valid(), limits: { maxEntries: 0, workerMemoryMb: 'lots' } })).toEqual([
      'limits.maxEntries: expected entries in one archive: a whole number from 1 to 10000000 (default 200000), got 0',
      'limits.workerMemoryMb: expected MiB of memory for the heavy-work process: a whole number from 64 to 65536 (default 512), got "lots"',
    ]);
  });
});
