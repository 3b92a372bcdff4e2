import type { ActionOp__Output } from '@rollgate/protocol';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { CommandResult } from '@rollgate/domain';
import { describe, expect, it } from 'vitest';
import { fromWireMessage, mapProtoOps, toWireInventory, toWireLogLines, toWireUpdate } from './wire';

const sha = 'a'.repeat(64);

describe('wire ops → domain ops', () => {
  it('maps every oneof arm (proto-loader output: camelCase, string enums)', () => {
    const ops: ActionOp__Output[] = [
      { op: 'gate', gate: { state: 'GATE_STATE_CLOSED' } },
      { op: 'drain', drain: { service: 'demo-app', maxWaitMs: 30000, minWaitMs: 0 } },
      { op: 'stop', stop: { service: 'demo-app', timeoutMs: 10000 } },
      { op: 'install', install: { service: 'demo-app', edition: '2.0', sha256: sha, size: 2133, url: '' } },
      { op: 'activate', activate: { service: 'demo-app', edition: '2.0' } },
      { op: 'configure', configure: { service: 'demo-app', edition: '2.0', env: { MODE: 'x' } } },
      { op: 'start', start: { service: 'demo-app' } },
      { op: 'waitHealthy', waitHealthy: { service: 'demo-app', timeoutMs: 5000 } },
      {
        op: 'probe',
        probe: {
          service: 'demo-app',
          path: '/',
          expectStatus: 200,
          expectBodyContains: '2.0',
          timeoutMs: 1000,
        },
      },
      { op: 'command', command: { service: 'demo-app', command: 'db-upgrade', timeoutMs: 60000 } },
      { op: 'gate', gate: { state: 'GATE_STATE_OPEN' } },
    ];
    const r = mapProtoOps(ops);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.ops).toEqual([
      { op: 'gate', state: 'closed' },
      { op: 'drain', service: 'demo-app', maxWaitMs: 30000, minWaitMs: 0 },
      { op: 'stop', service: 'demo-app', timeoutMs: 10000 },
      { op: 'install', service: 'demo-app', edition: '2.0', sha256: sha, size: 2133 },
      { op: 'activate', service: 'demo-app', edition: '2.0' },
      { op: 'configure', service: 'demo-app', edition: '2.0', env: { MODE: 'x' } },
      { op: 'start', service: 'demo-app' },
      { op: 'waitHealthy', service: 'demo-app', timeoutMs: 5000 },
      {
        op: 'probe',
        service: 'demo-app',
        path: '/',
        expectStatus: 200,
        expectBodyContains: '2.0',
        timeoutMs: 1000,
      },
      { op: 'command', service: 'demo-app', command: 'db-upgrade', timeoutMs: 60000 },
      { op: 'gate', state: 'open' },
    ]);
  });

  it('names the bad op, its index and the field', () => {
    const r = mapProtoOps([
      { op: 'gate', gate: { state: 'GATE_STATE_OPEN' } },
      {
        op: 'probe',
        probe: {
          service: 'demo-app',
          path: 'no-slash',
          expectStatus: 200,
          expectBodyContains: '',
          timeoutMs: 0,
        },
      },
    ]);
    expect(r).toMatchObject({ ok: false, index: 1 });
    if (r.ok) return;
    expect(r.reason).toMatch(/^op 2 of 2 \(probe\) is invalid: path: /);
  });

  it('refuses an unspecified gate state, an empty service and a missing oneof', () => {
    expect(mapProtoOps([{ op: 'gate', gate: { state: 'GATE_STATE_UNSPECIFIED' } }]).ok).toBe(false);
    const empty = mapProtoOps([{ op: 'stop', stop: { service: '', timeoutMs: 0 } }]);
    expect(!empty.ok && empty.reason).toMatch(/service/);
    const none = mapProtoOps([{}]);
    expect(!none.ok && none.reason).toMatch(/has no known kind/);
  });
});

describe('wire ops → domain ops: backups, functionality tests, rebuild', () => {
  it('maps backup_files, db_backup, db_restore, functional_test (probes_json) and uninstall', () => {
    const probes = [
      { kind: 'login', name: 'login', path: '/login', account: 'student' },
      { kind: 'version', name: 'version', path: '/admin/version', expect: ['2.0'], field: 'version' },
    ];
    const r = mapProtoOps([
      { op: 'backupFiles', backupFiles: { service: 'demo-app', label: 'run-1' } },
      { op: 'dbBackup', dbBackup: { service: 'demo-app', label: 'run-1', verify: true, timeoutMs: 60000 } },
      { op: 'dbRestore', dbRestore: { service: 'demo-app', label: 'run-1', timeoutMs: 0 } },
      {
        op: 'functionalTest',
        functionalTest: {
          baseUrl: 'http://lb.example:80',
          probesJson: JSON.stringify(probes),
          timeoutMs: 30000,
        },
      },
      { op: 'uninstall', uninstall: { service: 'demo-app' } },
    ]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.ops).toEqual([
      { op: 'backupFiles', service: 'demo-app', label: 'run-1' },
      { op: 'dbBackup', service: 'demo-app', label: 'run-1', verify: true, timeoutMs: 60000 },
      { op: 'dbRestore', service: 'demo-app', label: 'run-1', timeoutMs: 0 },
      {
        op: 'functionalTest',
        baseUrl: 'http://lb.example:80',
        timeoutMs: 30000,
        probes: [
          {
            kind: 'login',
            name: 'login',
            path: '/login',
            account: 'student',
            format: 'form',
            usernameField: 'username',
            passwordField: 'password',
            expectStatus: 200,
          },
          { kind: 'version', name: 'version', path: '/admin/version', expect: ['2.0'], field: 'version' },
        ],
      },
      { op: 'uninstall', service: 'demo-app' },
    ]);
  });

  it('bad probes_json is a clear reason, never a crash', () => {
    const bad = mapProtoOps([
      { op: 'gate', gate: { state: 'GATE_STATE_CLOSED' } },
      {
        op: 'functionalTest',
        functionalTest: { baseUrl: 'http://lb', probesJson: '[{"kind":', timeoutMs: 0 },
      },
    ]);
    expect(bad).toMatchObject({ ok: false, index: 1 });
    expect(!bad.ok && bad.reason).toMatch(
      /^op 2 of 2 \(functionalTest\) is invalid: functionalTest probes_json is not valid JSON/,
    );
    const empty = mapProtoOps([
      { op: 'functionalTest', functionalTest: { baseUrl: 'http://lb', probesJson: '', timeoutMs: 0 } },
    ]);
    expect(!empty.ok && empty.reason).toMatch(/no probes/);
    const wrongKind = mapProtoOps([
      {
        op: 'functionalTest',
        functionalTest: { baseUrl: 'http://lb', probesJson: '[{"kind":"telnet","name":"x"}]', timeoutMs: 0 },
      },
    ]);
    expect(!wrongKind.ok && wrongKind.reason).toMatch(/\(functionalTest\) is invalid: probes\.0\.kind/);
    const escape = mapProtoOps([
      { op: 'backupFiles', backupFiles: { service: 'demo-app', label: '../etc' } },
    ]);
    expect(!escape.ok && escape.reason).toMatch(/label/);
  });

  it('the unknown-kind message lists every supported kind', () => {
    const none = mapProtoOps([{}]);
    expect(!none.ok && none.reason).toMatch(
      /supports gate, drain, stop, install, activate, configure, start, waitHealthy, probe, command, backupFiles, dbBackup, dbRestore, functionalTest, uninstall/,
    );
  });
});

describe('the agent wire edge (issue 15 item 4)', () => {
  const result = (exitCode: number): CommandResult => ({
    kind: 'command',
    command: 'db-upgrade',
    exitCode,
    outputTail: '',
    ms: 1,
  });

  it('sends every result of a multi-op action, one as itself and several as a list in op order', () => {
    const base = { actionId: 'r.s1.a.a1', status: 'FAILED' as const, reason: 'x', atMs: 5, opIndex: 1 };
    expect(toWireUpdate({ ...base, results: [result(0), result(2)] })).toEqual({
      actionId: 'r.s1.a.a1',
      status: 'ACTION_STATUS_FAILED',
      reason: 'x',
      atMs: 5,
      opIndex: 1,
      resultJson: JSON.stringify([result(0), result(2)]),
    });
    expect(toWireUpdate({ ...base, results: [result(0)] }).resultJson).toBe(JSON.stringify(result(0)));
    expect(toWireUpdate({ ...base, results: [] }).resultJson).toBe('');
    expect(toWireUpdate({ ...base, status: 'RUNNING' })).not.toHaveProperty('resultJson');
  });

  it('maps coordinator messages to commands and ignores a SetGate without a state', () => {
    expect(
      fromWireMessage({ body: 'setGate', setGate: { state: 'GATE_STATE_CLOSED', reason: 'drain' } }),
    ).toEqual({ kind: 'setGate', wish: 'closed', reason: 'drain' });
    expect(
      fromWireMessage({ body: 'setGate', setGate: { state: 'GATE_STATE_UNSPECIFIED', reason: '' } }).kind,
    ).toBe('ignored');
    expect(fromWireMessage({ body: 'logAck', logAck: { streamId: 's', upToSeq: 7 } })).toEqual({
      kind: 'logAck',
      streamId: 's',
      upToSeq: 7,
    });
    const run = fromWireMessage({
      body: 'runAction',
      runAction: { actionId: 'a1', runId: 'r', stepIndex: 0, attempt: 1, ops: [] },
    });
    expect(run.kind === 'runAction' && run.request.ops).toMatchObject({ ok: false, index: 0 });
  });

  it('maps health, editions and log levels onto the wire', () => {
    expect(
      toWireInventory({
        name: 'demo-app',
        installedEditions: ['1.0'],
        activeEdition: null,
        health: 'unknown',
        activeConnections: 0,
        port: 8080,
        besidePort: 0,
        besideEdition: '',
        healthPath: '',
        healthPort: 0,
      }),
    ).toMatchObject({ activeEdition: '', health: 'SERVICE_HEALTH_UNSPECIFIED' });
    expect(
      toWireLogLines([{ actionId: '', atMs: 1, level: 'warn', code: 'RG0190I', message: 'm', seq: 1 }]),
    ).toEqual([{ actionId: '', atMs: 1, level: 'LOG_LEVEL_WARN', code: 'RG0190I', message: 'm', seq: 1 }]);
  });

  it('is the only source of the agent that reads generated protocol types, besides the transport and the composition', async () => {
    const dir = fileURLToPath(new URL('..', import.meta.url));
    const importers: string[] = [];
    for (const entry of await readdir(dir, { recursive: true })) {
      const file = String(entry);
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
      if ((await readFile(`${dir}/${file}`, 'utf8')).includes("from '@rollgate/protocol'"))
        importers.push(file);
    }
    // connection.ts and agent-service-client.ts carry the stream; agent.ts hands its messages here.
    expect(importers.sort()).toEqual([
      'agent.ts',
      'coordinator/agent-service-client.ts',
      'coordinator/connection.ts',
      'coordinator/wire.ts',
    ]);
  });
});
