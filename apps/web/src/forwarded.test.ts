import { describe, expect, it } from 'vitest';
import { parseTrustedProxies, rewriteForwarded } from './forwarded';

const trust = (spec: string, hops = 1) => ({ proxies: parseTrustedProxies(spec), hops });

describe("issue 17 item 6: the console replaces a client's X-Forwarded-*", () => {
  it('an untrusted peer: X-Forwarded-For becomes the peer, its -Proto/-Host are dropped', () => {
    const h: Record<string, string | undefined> = {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
    };
    rewriteForwarded(h, '198.51.100.7', trust(''));
    expect(h).toEqual({ 'x-forwarded-for': '198.51.100.7' });
  });

  it("a trusted proxy: the address it saw (not the client's own claim), and its -Proto", () => {
    const h: Record<string, string | undefined> = {
      'x-forwarded-for': '6.6.6.6, 203.0.113.9',
      'x-forwarded-proto': 'https',
    };
    rewriteForwarded(h, '::ffff:10.0.0.2', trust('10.0.0.0/8'));
    expect(h).toEqual({ 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' });
  });
});
