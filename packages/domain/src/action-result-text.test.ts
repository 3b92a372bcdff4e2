import { describe, expect, it } from 'vitest';
import { describeActionResult } from './action-result-text';

const SHA = 'a'.repeat(64);

describe('describeActionResult (issue 15 item 4: every result of an action, in the same words everywhere)', () => {
  it('says what each kind of result proves', () => {
    expect(
      describeActionResult({
        kind: 'functionalTest',
        baseUrl: 'http://lb:80',
        probes: [
          { name: 'home', kind: 'http', ok: true, ms: 12, detail: '' },
          { name: 'login', kind: 'login', ok: false, ms: 30, detail: '401' },
        ],
        passed: 1,
        failed: 1,
      }),
    ).toBe('1/2 probes passed via http://lb:80: home ok 12 ms, login FAILED 30 ms');
    expect(
      describeActionResult({
        kind: 'backupFiles',
        archive: '/b/app.tar.gz',
        bytes: 2048,
        sha256: SHA,
        entries: 7,
        directories: ['/srv/app'],
      }),
    ).toBe(`files archived to /b/app.tar.gz (2048 bytes, 7 entries, sha256 ${SHA})`);
    const dump = {
      kind: 'dbBackup' as const,
      file: '/b/db.dump',
      bytes: 10,
      sha256: SHA,
      tables: { t: 1 },
      verified: true,
      verifyMs: 40,
    };
    expect(describeActionResult(dump)).toBe(
      `database dumped to /b/db.dump (10 bytes, sha256 ${SHA}), verified restorable in 40 ms`,
    );
    expect(describeActionResult({ ...dump, verified: false })).toMatch(/, NOT verified$/);
    expect(describeActionResult({ kind: 'dbRestore', file: '/b/db.dump', tables: {} })).toBe(
      'database restored from /b/db.dump',
    );
    expect(
      describeActionResult({ kind: 'command', command: 'db-upgrade', exitCode: 2, outputTail: 'x', ms: 5 }),
    ).toBe('db-upgrade exited 2 in 5 ms');
  });
});
