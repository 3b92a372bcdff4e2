import { describe, expect, it } from 'vitest';
import { MAX_RESULT_JSON_CHARS, parseActionResultJson } from './op-results';

const sha = 'ab'.repeat(32);
const good = {
  functionalTest: {
    kind: 'functionalTest',
    baseUrl: 'http://lb:8080',
    probes: [{ name: 'login', kind: 'login', ok: true, ms: 12.5, detail: 'logged in' }],
    passed: 1,
    failed: 0,
  },
  backupFiles: {
    kind: 'backupFiles',
    archive: '/var/backups/a.tar.gz',
    bytes: 10,
    sha256: sha,
    entries: 3,
    directories: ['/etc/app'],
  },
  dbBackup: {
    kind: 'dbBackup',
    file: '/var/backups/db.dump',
    bytes: 10,
    sha256: sha,
    tables: { 'public.users': 3 },
    verified: true,
    verifyMs: 40,
  },
  dbRestore: { kind: 'dbRestore', file: '/var/backups/db.dump', tables: { 'public.users': 3 } },
  command: { kind: 'command', command: 'snapshot', exitCode: 0, outputTail: 'done\n', ms: 5 },
};

describe('action results: one bounded schema per op kind', () => {
  it('issue 17 item 1, issue 15 item 4: takes every kind as agents report it, alone or as a list (every one kept, in op order)', () => {
    for (const r of Object.values(good)) {
      expect(parseActionResultJson(JSON.stringify(r))).toEqual({ ok: true, results: [r] });
    }
    expect(parseActionResultJson(JSON.stringify([good.backupFiles, good.command]))).toEqual({
      ok: true,
      results: [good.backupFiles, good.command],
    });
  });

  it('issue 17 item 1: refuses a malformed result of a known kind, unknown fields, and oversized ones', () => {
    const refuse = (v: unknown) => {
      const r = parseActionResultJson(typeof v === 'string' ? v : JSON.stringify(v));
      expect(r.ok, JSON.stringify(v).slice(0, 100)).toBe(false);
      return r.ok ? '' : r.why;
    };
    expect(refuse({ kind: 'dbBackup', file: '/x', verified: true })).toMatch(/sha256/);
    expect(refuse({ ...good.dbBackup, sha256: 'nope' })).toMatch(/sha256/);
    expect(refuse({ ...good.command, extra: 1 })).toMatch(/extra|Unrecognized/i);
    expect(refuse({ ...good.command, outputTail: 'x'.repeat(9000) })).toMatch(/outputTail/);
    expect(
      refuse({ ...good.functionalTest, probes: Array(201).fill(good.functionalTest.probes[0]) }),
    ).toMatch(/probes/);
    expect(refuse({ kind: 'rootShell' })).toMatch(/kind/);
    expect(refuse([good.command, { ...good.dbBackup, bytes: -1 }])).toMatch(/^result 2: bytes/);
    expect(refuse([])).toMatch(/1 to 32/);
    expect(refuse('{not json')).toBe('the result is not JSON');
    expect(refuse(' '.repeat(MAX_RESULT_JSON_CHARS + 1))).toMatch(/over/);
    const tables = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`t${i}`, 1]));
    expect(refuse({ ...good.dbRestore, tables })).toMatch(/4096 tables/);
  });
});
