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
  it('takes the insecure opt-in, and says what a bad value should be', () => {
    expect(readEnv({ ROLLGATE_AGENT_INSECURE: '1' }).insecure).toBe(true);
    expect(readEnv({ ROLLGATE_AGENT_INSECURE: 'yes' }).insecure).toBe(true);
    expect(() => readEnv({ ROLLGATE_AGENT_INSECURE: 'sure' })).toThrow(
      /ROLLGATE_AGENT_INSECURE must be 1\/true\/yes/,
    );
  });
});
