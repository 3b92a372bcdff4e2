import { describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from '../env';
import { trpcEndpoint } from '../client';
import { isSettled, outcomeExitCode } from './status';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReadiness, upgradeInputFromFlags } from './upgrade';

describe('outcomeExitCode and isSettled', () => {
  it('maps run states to exit codes', () => {
    expect(outcomeExitCode({ status: 'succeeded', failure: null })).toBe(0);
    expect(outcomeExitCode({ status: 'running', failure: null })).toBe(0);
    expect(outcomeExitCode({ status: 'waiting-approval', failure: null })).toBe(0);
    expect(outcomeExitCode({ status: 'paused', failure: null })).toBe(0);
    expect(outcomeExitCode({ status: 'paused', failure: 'stop timed out' })).toBe(3);
    expect(outcomeExitCode({ status: 'failed', failure: 'rejected' })).toBe(4);
    expect(outcomeExitCode({ status: 'aborted', failure: null })).toBe(4);
  });

  it('stops following when someone has to act or the run ended', () => {
    expect(isSettled({ status: 'running', failure: null })).toBe(false);
    expect(isSettled({ status: 'pending', failure: null })).toBe(false);
    // An operator's pause: they are about to resume it.
    expect(isSettled({ status: 'paused', failure: null })).toBe(false);
    expect(isSettled({ status: 'paused', failure: 'x' })).toBe(true);
    expect(isSettled({ status: 'waiting-approval', failure: null })).toBe(true);
    expect(isSettled({ status: 'succeeded', failure: null })).toBe(true);
    expect(isSettled({ status: 'aborted', failure: null })).toBe(true);
  });
});

describe('upgrade flags for the procedures', () => {
  const base = { cluster: 'c', app: 'a', edition: '2.0' };

  it('maps --major, --from, --at, --window, --on-failure, --contacts and --waive', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollgate-cli-'));
    const contacts = {
      lead: { name: 'Ann', phone: '+44 1' },
      appAdmin: { name: 'Raj', email: 'raj@example.com' },
      lbAdmin: { name: 'Mia', phone: '+44 3' },
    };
    writeFileSync(join(dir, 'contacts.json'), JSON.stringify(contacts));
    expect(
      upgradeInputFromFlags({
        ...base,
        major: true,
        from: '1.0',
        at: '2026-11-23T22:00:00Z',
        window: 90,
        onFailure: 'rollback',
        contacts: join(dir, 'contacts.json'),
        waive: ['snapshots=physical servers, no hypervisor'],
      }),
    ).toEqual({
      ...base,
      procedure: 'major',
      fromEdition: '1.0',
      at: '2026-11-23T22:00:00Z',
      windowMinutes: 90,
      onFailure: 'rollback',
      contacts,
      waive: [{ gate: 'snapshots', reason: 'physical servers, no hypervisor' }],
    });
  });

  it('says what is wrong with a waiver or a contacts file, and how to write them', () => {
    expect(() => upgradeInputFromFlags({ ...base, waive: ['snapshot=x y z'] })).toThrow(
      /unknown gate "snapshot"; gates are contacts, remote-access/,
    );
    expect(() => upgradeInputFromFlags({ ...base, waive: ['snapshots'] })).toThrow(
      /give the reason, e.g. --waive snapshots="/,
    );
    expect(() => upgradeInputFromFlags({ ...base, contacts: '/nonexistent/contacts.json' })).toThrow(
      /--contacts: cannot read \/nonexistent\/contacts.json/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'rollgate-cli-'));
    writeFileSync(join(dir, 'bad.json'), 'lead: Ann');
    expect(() => upgradeInputFromFlags({ ...base, contacts: join(dir, 'bad.json') })).toThrow(
      /is not JSON. Write \{ "lead"/,
    );
  });

  it('renders the readiness gates with what blocks and how to meet it', () => {
    const text = renderReadiness({
      readiness: [
        {
          gate: 'contacts',
          required: true,
          status: 'unmet',
          detail: 'no contacts were given',
          howToMeet: 'pass --contacts',
        },
        { gate: 'remote-access', required: true, status: 'met', detail: '4 agents connected', howToMeet: '' },
        {
          gate: 'database-backup',
          required: true,
          status: 'automatic',
          detail: 'checked by step x',
          howToMeet: '',
        },
        { gate: 'snapshots', required: false, status: 'unmet', detail: 'not configured', howToMeet: '' },
      ],
      schedule: { startAt: Date.UTC(2026, 10, 23, 22), insideBusinessHours: false },
    } as unknown as Parameters<typeof renderReadiness>[0]);
    expect(text).toContain('* contacts            UNMET');
    expect(text).toContain('→ pass --contacts');
    expect(text).toContain('checked by the run');
    expect(text).not.toContain('snapshots');
    expect(text).toContain('Scheduled for 2026-11-23T22:00:00.000Z (outside business hours).');
  });
});

describe('upgradeInputFromFlags', () => {
  it('sends only what was set, leaving defaults to the coordinator', () => {
    expect(upgradeInputFromFlags({ cluster: 'c', app: 'a', edition: '2.0', signOff: true })).toEqual({
      cluster: 'c',
      app: 'a',
      edition: '2.0',
    });
    expect(
      upgradeInputFromFlags({
        cluster: 'c',
        app: 'a',
        edition: '2.0',
        drainageInterval: 0,
        healthTimeout: 30,
        signOff: false,
        probePath: '/ready',
      }),
    ).toEqual({
      cluster: 'c',
      app: 'a',
      edition: '2.0',
      drainageIntervalSec: 0,
      healthTimeoutSec: 30,
      signOff: false,
      probePath: '/ready',
    });
  });
});

describe('loadEnv', () => {
  it('reads ROLLGATE_URL, NO_COLOR and the user', () => {
    expect(loadEnv({ ROLLGATE_URL: 'http://coord:7400', NO_COLOR: '1', USER: 'alice' })).toEqual({
      coordinatorUrl: 'http://coord:7400',
      noColor: true,
      user: 'alice',
      dataDir: '.rollgate',
    });
    expect(loadEnv({ LOGNAME: 'bob' })).toEqual({
      coordinatorUrl: undefined,
      noColor: false,
      user: 'bob',
      dataDir: '.rollgate',
    });
  });
  it("reads the coordinator's data directory for admin init (ROLLGATE_DATA_DIR)", () => {
    expect(loadEnv({ ROLLGATE_DATA_DIR: '/var/lib/rollgate' }).dataDir).toBe('/var/lib/rollgate');
  });
  it('treats empty values as unset', () => {
    expect(loadEnv({ ROLLGATE_URL: '', NO_COLOR: '' })).toMatchObject({
      coordinatorUrl: undefined,
      noColor: false,
    });
  });
  it('rejects a URL that is not http(s), naming the variable', () => {
    expect(() => loadEnv({ ROLLGATE_URL: 'ftp://x' })).toThrow(EnvError);
    expect(() => loadEnv({ ROLLGATE_URL: 'localhost:7400' })).toThrow(
      /ROLLGATE_URL must be the coordinator's http\(s\) base URL/,
    );
  });
});

describe('trpcEndpoint', () => {
  it('appends /trpc once', () => {
    expect(trpcEndpoint('http://127.0.0.1:7400')).toBe('http://127.0.0.1:7400/trpc');
    expect(trpcEndpoint('http://127.0.0.1:7400/')).toBe('http://127.0.0.1:7400/trpc');
    expect(trpcEndpoint('http://h/trpc/')).toBe('http://h/trpc');
    expect(trpcEndpoint('https://h/rollgate')).toBe('https://h/rollgate/trpc');
  });
});
