import { describe, expect, it } from 'vitest';
import { readEnv } from './env';

describe('agent environment', () => {
  it('reads the join token but never hands it to managed services', () => {
    const env = readEnv({
      ROLLGATE_JOIN_TOKEN: 'rgjoin.secret',
      PATH: '/usr/bin',
      ROLLGATE_AGENT_INSECURE: '',
    });
    expect(env.joinToken).toBe('rgjoin.secret');
    expect(env.inherited).toEqual({ PATH: '/usr/bin', ROLLGATE_AGENT_INSECURE: '' });
    expect(env.insecure).toBe(false);
  });
  it('issue 16 item 6: bounds downloads by URL, by default and from the environment, refusing nonsense', () => {
    expect(readEnv({}).urlFetch).toEqual({ maxBytes: 4 * 1024 ** 3, timeoutMs: 30 * 60_000 });
    expect(
      readEnv({ ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES: '10485760', ROLLGATE_AGENT_FETCH_TIMEOUT_MS: '5000' })
        .urlFetch,
    ).toEqual({ maxBytes: 10485760, timeoutMs: 5000 });
    expect(() => readEnv({ ROLLGATE_AGENT_MAX_DOWNLOAD_BYTES: '10' })).toThrow(/at least 1 MiB/);
    expect(() => readEnv({ ROLLGATE_AGENT_FETCH_TIMEOUT_MS: 'soon' })).toThrow(
      /ROLLGATE_AGENT_FETCH_TIMEOUT_MS must be a number of milliseconds/,
    );
  });
  it('takes the insecure opt-in, and says what a bad value should be', () => {
    expect(readEnv({ ROLLGATE_AGENT_INSECURE: '1' }).insecure).toBe(true);
    expect(readEnv({ ROLLGATE_AGENT_INSECURE: 'yes' }).insecure).toBe(true);
    expect(() => readEnv({ ROLLGATE_AGENT_INSECURE: 'sure' })).toThrow(
      /ROLLGATE_AGENT_INSECURE must be 1\/true\/yes/,
    );
  });
});
