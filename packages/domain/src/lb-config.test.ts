import { describe, expect, it } from 'vitest';
import { lbConfigOf, lbConfigSchema, poolServerName } from './lb-config';

const pair = {
  mode: 'haproxy-runtime',
  balancers: [
    { name: 'lb1', runtime: { socketPath: '/run/haproxy-1/admin.sock' } },
    { name: 'lb2', runtime: { host: '10.0.0.2', port: 9999 } },
  ],
  pools: [
    { name: 'admin', backend: 'be_admin', roles: ['admin'] },
    {
      name: 'stream',
      backend: 'be_stream',
      roles: ['stream'],
      service: 'tomcat',
      servers: { 'stream-1': 's1' },
    },
  ],
};

function messages(input: unknown): string {
  const r = lbConfigSchema.safeParse(input);
  expect(r.success).toBe(false);
  return (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('lb config (issue 14 item 1)', () => {
  it('issue 14.1: parses pools and balancers with every default', () => {
    const c = lbConfigSchema.parse(pair);
    expect(c.balancers.map((b) => b.name)).toEqual(['lb1', 'lb2']);
    expect(c.pools[0]).toEqual({ name: 'admin', backend: 'be_admin', roles: ['admin'], servers: {} });
    expect(c).toMatchObject({
      checkIntervalMs: 1000,
      fall: 2,
      rise: 2,
      readmitTimeoutMs: 30_000,
      readmitWait: 'up',
    });
    expect(c.agentInterMs).toBeUndefined();
    expect(c.reactionMs).toBeUndefined();
  });

  it('issue 14.1: takes null for the optional timings (the documented form)', () => {
    const c = lbConfigSchema.parse({ ...pair, agentInterMs: null, reactionMs: null, readmitWait: 'served' });
    expect(c.agentInterMs).toBeUndefined();
    expect(c.readmitWait).toBe('served');
  });

  it('issue 14.1: refuses unknown keys, naming them, at every level', () => {
    expect(messages({ ...pair, drainSec: 3 })).toContain('drainSec');
    expect(messages({ ...pair, pools: [{ ...pair.pools[0], role: 'admin' }] })).toContain('"role"');
    expect(messages({ ...pair, balancers: [{ name: 'lb1', runtime: { socket: '/x' } }] })).toContain(
      '"socket"',
    );
  });

  it('issue 14.1: normalises the legacy one-backend form to one balancer and one pool of every agent', () => {
    const legacy = {
      mode: 'haproxy-runtime',
      runtime: { socketPath: '/run/haproxy/admin.sock' },
      backend: 'demo',
      servers: { 'admin-1': 's1' },
      checkIntervalMs: 500,
    };
    const c = lbConfigOf(legacy);
    expect(c.balancers).toEqual([{ name: 'lb', runtime: { socketPath: '/run/haproxy/admin.sock' } }]);
    expect(c.pools).toEqual([{ name: 'demo', backend: 'demo', servers: { 'admin-1': 's1' } }]);
    expect(c.checkIntervalMs).toBe(500);
    // Idempotent: a normalised configuration reads back as itself.
    expect(lbConfigOf(c)).toEqual(c);
    // Legacy gate-only with a backend keeps it as a pool; without one it needs none.
    expect(lbConfigOf({ mode: 'gate-only', backend: 'web' }).pools).toEqual([
      { name: 'web', backend: 'web', servers: {} },
    ]);
  });

  it('issue 14.1: refuses a mixture of the legacy and the pool form, naming the legacy key', () => {
    expect(messages({ ...pair, backend: 'be_admin' })).toContain('"backend"');
  });

  it('issue 14.1: gate-only mode needs no backend, no balancer and no pool', () => {
    const c = lbConfigSchema.parse({ mode: 'gate-only', reactionMs: 4000 });
    expect(c).toMatchObject({ mode: 'gate-only', balancers: [], pools: [], reactionMs: 4000 });
  });

  it('issue 14.1: runtime mode needs a balancer and a pool; names are unique', () => {
    expect(messages({ mode: 'haproxy-runtime' })).toMatch(/balancers: .*at least one balancer/);
    expect(messages({ mode: 'haproxy-runtime' })).toMatch(/pools: .*at least one pool/);
    expect(messages({ ...pair, balancers: [pair.balancers[0], pair.balancers[0]] })).toContain(
      'balancers names "lb1" twice',
    );
    expect(
      messages({
        ...pair,
        balancers: [pair.balancers[0], { name: 'lb3', runtime: pair.balancers[0]!.runtime }],
      }),
    ).toContain('the same runtime API (unix:/run/haproxy-1/admin.sock)');
    expect(messages({ ...pair, pools: [pair.pools[0], pair.pools[0]] })).toContain(
      'pools names "admin" twice',
    );
    expect(messages({ ...pair, balancers: [{ name: 'lb1', runtime: {} }] })).toContain(
      'give the runtime API as socketPath, or as host and port',
    );
    expect(messages({ ...pair, pools: [{ name: 'a', backend: 'be a' }] })).toContain('HAProxy name');
  });

  it('names a second instance after its server with -beside', () => {
    const pool = lbConfigSchema.parse(pair).pools[1]!;
    expect(poolServerName(pool, 'stream-1')).toBe('s1');
    expect(poolServerName(pool, 'stream-1@beside')).toBe('s1-beside');
    expect(poolServerName(pool, 'stream-2')).toBe('stream-2');
  });
});
