import { describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from '../env';
import { trpcEndpoint } from '../client';
import { isSettled, outcomeExitCode } from './status';
import { upgradeInputFromFlags } from './upgrade';

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
    });
    expect(loadEnv({ LOGNAME: 'bob' })).toEqual({ coordinatorUrl: undefined, noColor: false, user: 'bob' });
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
      /ROLLGATE_URL must be an http\(s\) URL/,
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
