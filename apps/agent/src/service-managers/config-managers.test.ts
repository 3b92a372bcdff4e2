// services[].manager in the agent config: each kind needs its own object, the default is today's
// behaviour, and every mistake is named with what to write instead (issue 14 item 3).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config';
import { parseSupervisorStatus } from './supervisorctl';

const base = (services: unknown[]) => ({
  agentId: 'app-1',
  cluster: 'demo',
  role: 'app',
  coordinator: { address: '127.0.0.1:7443' },
  dataDir: '/var/lib/rollgate-agent',
  gate: { host: '127.0.0.1', port: 7070 },
  services,
});
const proc = { name: 'web', port: 8081, start: { command: 'node', args: ['server.mjs'] } };

function errorsOf(input: unknown): string[] {
  const r = parseConfig(input, '/etc/rollgate');
  if (r.ok) throw new Error('expected the config to be refused');
  return r.errors;
}

describe('services[].manager (issue 14 item 3)', () => {
  it('defaults to "process" with start, as before', () => {
    const r = parseConfig(base([proc]), '/etc/rollgate');
    expect(r.ok && r.config.services[0]!.manager).toBe('process');
  });

  it('accepts each kind with its own object and fills the defaults', () => {
    const r = parseConfig(
      base([
        proc,
        { name: 'tomcat', port: 8080, manager: 'systemd', systemd: { unit: 'rollgate-tomcat.service' } },
        {
          name: 'stream',
          port: 8082,
          manager: 'supervisor',
          supervisor: { program: 'stream', configFile: 'supervisord.conf', serverUrl: 'unix:///run/sv.sock' },
        },
        {
          name: 'legacy',
          port: 8083,
          manager: 'commands',
          control: {
            start: ['/opt/legacy/ctl', 'start'],
            stop: ['/opt/legacy/ctl', 'stop'],
            status: ['/opt/legacy/ctl', 'status'],
          },
        },
      ]),
      '/etc/rollgate',
    );
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const [, tomcat, stream, legacy] = r.config.services;
    expect(tomcat!.systemd).toEqual({ unit: 'rollgate-tomcat.service', envFile: '/etc/rollgate/tomcat.env' });
    expect(stream!.supervisor).toEqual({
      program: 'stream',
      configFile: '/etc/rollgate/supervisord.conf',
      serverUrl: 'unix:///run/sv.sock',
      envFile: undefined,
    });
    expect(legacy!.control?.timeoutMs).toBe(60_000);
  });

  it('names the missing object of the kind chosen, with an example', () => {
    const errors = errorsOf(base([proc, { name: 'tomcat', port: 8080, manager: 'systemd' }]));
    expect(errors).toEqual([
      'services[1].manager: is systemd: give systemd.unit, e.g. "systemd": { "unit": "rollgate-demo-app.service" }',
    ]);
    expect(errorsOf(base([{ name: 's', port: 1, manager: 'supervisor' }]))[0]).toBe(
      'services[0].manager: is supervisor: give supervisor.program, e.g. "supervisor": { "program": "demo-app" }',
    );
    expect(errorsOf(base([{ name: 's', port: 1, manager: 'commands' }]))[0]).toMatch(
      /^services\[0\]\.manager: is commands: give control.start, control.stop and control.status/,
    );
  });

  it('refuses an unknown kind, a misplaced object, start without process and beside with another manager', () => {
    expect(errorsOf(base([{ ...proc, manager: 'upstart' }]))[0]).toBe(
      'services[0].manager: expected one of process, systemd, supervisor, commands (default "process"), got "upstart"',
    );
    expect(errorsOf(base([{ ...proc, systemd: { unit: 'x.service' } }]))).toEqual([
      'services[0].systemd: is for manager "systemd" but manager is "process": set "manager": "systemd" or remove systemd',
    ]);
    const errs = errorsOf(
      base([{ ...proc, manager: 'systemd', systemd: { unit: 'x.service' }, beside: { port: 9081 } }]),
    );
    expect(errs).toContain(
      'services[0].start: is only for manager "process"; with manager "systemd" the unit starts the service: remove start',
    );
    expect(errs.some((e) => e.startsWith('services[0].beside: needs manager "process"'))).toBe(true);
    expect(errorsOf(base([{ name: 'web', port: 8081 }]))[0]).toMatch(
      /^services\[0\]\.start: missing; manager is "process" \(the default\): give start/,
    );
  });

  it('refuses unit and program names that could be read as options, and a control argv that is a string', () => {
    expect(
      errorsOf(base([{ name: 'x', port: 1, manager: 'systemd', systemd: { unit: '--now' } }]))[0],
    ).toMatch(/^services\[0\]\.systemd\.unit: expected a systemd unit name/);
    expect(
      errorsOf(base([{ name: 'x', port: 1, manager: 'supervisor', supervisor: { program: '-c' } }]))[0],
    ).toMatch(/^services\[0\]\.supervisor\.program: expected a supervisord program name/);
    const e = errorsOf(
      base([
        {
          name: 'x',
          port: 1,
          manager: 'commands',
          control: { start: '/opt/x start', stop: ['/opt/x', 'stop'], status: [] },
        },
      ]),
    );
    expect(e[0]).toMatch(
      /^services\[0\]\.control\.start: expected the program and its arguments as a list, run without a shell/,
    );
    expect(e[1]).toMatch(/^services\[0\]\.control\.status: expected the program and its arguments as a list/);
    expect(
      errorsOf(
        base([{ name: 'x', port: 1, manager: 'systemd', systemd: { unit: 'x.service', envfile: '/x' } }]),
      )[0],
    ).toMatch(/^services\[0\]\.systemd: unknown key "envfile"/);
  });
});

describe('supervisorctl status lines', () => {
  it('reads the state and pid, and reports anything else as unknown with what was said', () => {
    expect(
      parseSupervisorStatus(
        'web',
        0,
        'web                              RUNNING   pid 9431, uptime 0:00:04\n',
        '',
      ),
    ).toEqual({
      state: 'running',
      pid: 9431,
      detail: 'RUNNING pid 9431, uptime 0:00:04',
    });
    expect(parseSupervisorStatus('web', 3, 'web   STOPPED   Not started\n', '').state).toBe('stopped');
    expect(parseSupervisorStatus('web', 3, 'web   BACKOFF   Exited too quickly\n', '').state).toBe(
      'starting',
    );
    expect(parseSupervisorStatus('web', 3, 'web   FATAL     Exited too quickly\n', '').state).toBe('failed');
    expect(parseSupervisorStatus('web', 4, 'web: ERROR (no such process)\n', '')).toEqual({
      state: 'unknown',
      pid: null,
      detail: 'supervisorctl status exited with code 4: web: ERROR (no such process)',
    });
  });
});
