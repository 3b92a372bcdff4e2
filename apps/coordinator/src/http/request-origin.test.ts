import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '@rollgate/engine';
import {
  auditWithOrigin,
  clientAddress,
  parseTrustedProxies,
  requestOrigin,
  withRequestOrigin,
} from './request-origin';

describe('request origin in the audit log', () => {
  it('adds where a request came from to what it audits, across awaits; the coordinator’s own work has none', async () => {
    const store = auditWithOrigin(createMemoryStore());
    await withRequestOrigin('10.0.0.5', async () => {
      await new Promise((r) => setTimeout(r, 5));
      expect(requestOrigin()).toBe('10.0.0.5');
      await store.appendAudit({
        at: 1,
        actor: 'alice',
        action: 'run.start',
        target: 'r-1',
        details: { x: 1 },
      });
    });
    await store.appendAudit({
      at: 2,
      actor: 'coordinator',
      action: 'run.rollback.start',
      target: 'r-2',
      details: {},
    });
    // A caller that says where itself (e.g. an enrolment from an agent's address) is kept as said.
    await withRequestOrigin('10.0.0.5', () =>
      store.appendAudit({
        at: 3,
        actor: 'agent',
        action: 'agent.enrol',
        target: 'a-1',
        details: { from: '10.9.9.9' },
      }),
    );
    const rows = await store.listAudit();
    expect(Object.fromEntries(rows.map((r) => [r.action, r.details]))).toEqual({
      'run.start': { x: 1, from: '10.0.0.5' },
      'run.rollback.start': {},
      'agent.enrol': { from: '10.9.9.9' },
    });
    expect(requestOrigin()).toBeUndefined();
  });
});

describe('issue 17 item 6: whose X-Forwarded-For is believed', () => {
  const trust = (spec: string, hops = 1) => ({ proxies: parseTrustedProxies(spec), hops });

  it('ignores the header from an untrusted peer, believes a trusted proxy for its hops only', () => {
    expect(clientAddress('203.0.113.5', '198.51.100.1', trust('loopback'))).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', '198.51.100.1', trust('loopback'))).toBe('198.51.100.1');
    expect(clientAddress('::ffff:127.0.0.1', '198.51.100.1', trust('loopback'))).toBe('198.51.100.1');
    // A forged entry in front of the proxy's own: only the proxy's (rightmost) entry counts.
    expect(clientAddress('127.0.0.1', '6.6.6.6, 198.51.100.1', trust('loopback'))).toBe('198.51.100.1');
    // Two proxies in a row, two hops.
    expect(clientAddress('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.0.0.3', trust('10.0.0.0/8', 2))).toBe(
      '198.51.100.1',
    );
    expect(clientAddress('10.0.0.2', '198.51.100.1, 10.0.0.3', trust('10.0.0.0/8', 1))).toBe('10.0.0.3');
    expect(clientAddress('127.0.0.1', 'not-an-ip', trust('loopback'))).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '198.51.100.1', trust(''))).toBe('127.0.0.1');
  });

  it('refuses a malformed proxy list with the entry that is wrong', () => {
    expect(() => parseTrustedProxies('10.0.0.0/33')).toThrow(/"10.0.0.0\/33" is not an IP address, a CIDR/);
    expect(() => parseTrustedProxies('proxy.example')).toThrow(/"proxy.example"/);
    expect(() => parseTrustedProxies('10.0.0.1, fd00::/8, loopback')).not.toThrow();
  });
});
