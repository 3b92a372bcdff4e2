import { describe, expect, it } from 'vitest';
import { readEnv } from './env';

describe('coordinator environment: agent identity settings', () => {
  it('defaults to mTLS, a CA in the data directory, localhost names, 24 h certificates, port 7402', () => {
    const env = readEnv({ ROLLGATE_DATA_DIR: '/var/lib/rollgate' });
    expect(env.ROLLGATE_INSECURE_AGENTS).toBe(false);
    expect(env.agentCaDir).toBe('/var/lib/rollgate/agent-ca');
    expect(env.tlsServerNames).toEqual(['localhost', '127.0.0.1']);
    expect(env.ROLLGATE_AGENT_CERT_LIFETIME_MS).toBe(86_400_000);
    expect(env.ROLLGATE_ENROL_PORT).toBe(7402);
  });

  it('takes the opt-out, names, a shared CA directory; a specific gRPC host is a name too', () => {
    expect(readEnv({ ROLLGATE_INSECURE_AGENTS: '1' }).ROLLGATE_INSECURE_AGENTS).toBe(true);
    expect(readEnv({ ROLLGATE_INSECURE_AGENTS: 'false' }).ROLLGATE_INSECURE_AGENTS).toBe(false);
    expect(readEnv({ ROLLGATE_TLS_SERVER_NAMES: 'rollgate.internal,10.0.0.11' }).tlsServerNames).toEqual([
      'rollgate.internal',
      '10.0.0.11',
    ]);
    expect(readEnv({ ROLLGATE_GRPC_HOST: '10.0.0.11' }).tlsServerNames).toEqual([
      'localhost',
      '127.0.0.1',
      '10.0.0.11',
    ]);
    expect(readEnv({ ROLLGATE_AGENT_CA_DIR: '/srv/shared/ca' }).agentCaDir).toBe('/srv/shared/ca');
  });

  it('says what is wrong: a CA given by half, a bad flag, a too-short lifetime', () => {
    expect(() => readEnv({ ROLLGATE_AGENT_CA_CERT: '/etc/ca.crt' })).toThrow(
      /ROLLGATE_AGENT_CA_CERT and ROLLGATE_AGENT_CA_KEY go together/,
    );
    expect(() => readEnv({ ROLLGATE_INSECURE_AGENTS: 'maybe' })).toThrow(
      /ROLLGATE_INSECURE_AGENTS must be 1\/true\/yes/,
    );
    expect(() => readEnv({ ROLLGATE_AGENT_CERT_LIFETIME_MS: '500' })).toThrow(
      /ROLLGATE_AGENT_CERT_LIFETIME_MS/,
    );
    expect(() => readEnv({ ROLLGATE_TLS_SERVER_NAMES: 'a b' })).toThrow(/comma-separated host names/);
  });
});

describe('coordinator environment: HTTP trust boundaries (issue 17 item 6)', () => {
  it('trusts the loopback console by default, one hop; answers to loopback, the HTTP host and the TLS names', () => {
    const env = readEnv({ ROLLGATE_HTTP_HOST: '10.0.0.11', ROLLGATE_TLS_SERVER_NAMES: 'Rollgate.Internal' });
    expect(env.proxyTrust.hops).toBe(1);
    expect(env.proxyTrust.proxies.check('127.0.0.1')).toBe(true);
    expect(env.proxyTrust.proxies.check('10.0.0.5')).toBe(false);
    expect(env.allowedHosts).toEqual(['localhost', '127.0.0.1', '::1', '10.0.0.11', 'rollgate.internal']);
    const custom = readEnv({
      ROLLGATE_TRUSTED_PROXIES: '10.0.0.0/8',
      ROLLGATE_ALLOWED_HOSTS: 'console.example',
    });
    expect(custom.proxyTrust.proxies.check('127.0.0.1')).toBe(false);
    expect(custom.proxyTrust.proxies.check('10.1.2.3')).toBe(true);
    expect(custom.allowedHosts).toEqual(['console.example']);
    expect(readEnv({ ROLLGATE_TRUSTED_PROXIES: '' }).proxyTrust.proxies.check('127.0.0.1')).toBe(false);
  });

  it('says which proxy entry is wrong', () => {
    expect(() => readEnv({ ROLLGATE_TRUSTED_PROXIES: 'loopback,proxy.example' })).toThrow(
      /ROLLGATE_TRUSTED_PROXIES: "proxy.example" is not an IP address, a CIDR/,
    );
    expect(() => readEnv({ ROLLGATE_TRUSTED_PROXY_HOPS: '11' })).toThrow(/ROLLGATE_TRUSTED_PROXY_HOPS/);
  });
});
