import { describe, expect, it } from 'vitest';
import { lbConfigSchema } from './lb-config';
import {
  floorPools,
  isLbUnreachableFailure,
  LbUnreachableError,
  resolveLbTargets,
  targetsOf,
} from './lb-targets';

const seed = lbConfigSchema.parse({
  mode: 'haproxy-runtime',
  balancers: [
    { name: 'lb1', runtime: { socketPath: '/run/h1.sock' } },
    { name: 'lb2', runtime: { socketPath: '/run/h2.sock' } },
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
    { name: 'runtime', backend: 'be_runtime', roles: ['stream'], service: 'runtime' },
  ],
});

const agents = [
  { id: 'admin-1', role: 'admin', services: ['tomcat'] },
  { id: 'admin-2', role: 'admin', services: ['tomcat'] },
  { id: 'stream-1', role: 'stream', services: ['tomcat', 'runtime'] },
  { id: 'stream-2', role: 'stream', services: ['tomcat', 'runtime'] },
];

describe('resolveLbTargets (issue 14 items 1 and 2)', () => {
  it('issue 14.2: places each service of an agent in its pool; a server in two pools has two targets', () => {
    const r = resolveLbTargets(seed, agents);
    expect(r.problems).toEqual([]);
    expect(r.targets.get('admin-1')).toEqual([{ pool: 'admin', backend: 'be_admin', server: 'admin-1' }]);
    expect(r.targets.get('stream-1')).toEqual([
      { pool: 'stream', backend: 'be_stream', server: 's1' },
      { pool: 'runtime', backend: 'be_runtime', server: 'stream-1' },
    ]);
    expect(Object.fromEntries(r.pools)).toEqual({
      admin: ['admin-1', 'admin-2'],
      stream: ['stream-1', 'stream-2'],
      runtime: ['stream-1', 'stream-2'],
    });
    expect(floorPools(r)).toHaveLength(3);
  });

  it('issue 14.1: a pool without roles or service takes every agent once (the legacy form)', () => {
    const legacy = lbConfigSchema.parse({
      mode: 'haproxy-runtime',
      runtime: { socketPath: '/x' },
      backend: 'demo',
    });
    const r = resolveLbTargets(legacy, agents);
    expect(r.problems).toEqual([]);
    expect([...r.targets.values()].every((t) => t.length === 1 && t[0]!.backend === 'demo')).toBe(true);
  });

  it('issue 14.1: names the agent and service left out of every pool', () => {
    const r = resolveLbTargets(seed, [...agents, { id: 'api-1', role: 'api', services: ['portal'] }]);
    expect(r.problems).toEqual([
      'service "portal" of agent api-1 (role api) is in no pool; add a pool for role "api" (or for service "portal"), or add the role to a pool\'s roles',
    ]);
    expect(r.targets.has('api-1')).toBe(false);
  });

  it('issue 14.1: names the agent, service and pools of a service placed twice', () => {
    const twice = lbConfigSchema.parse({
      ...seed,
      pools: [...seed.pools, { name: 'all-stream', backend: 'be_all', roles: ['stream'] }],
    });
    const r = resolveLbTargets(twice, agents);
    expect(r.problems).toContain(
      'service "tomcat" of agent stream-1 (role stream) is in 2 pools (stream, all-stream); each service belongs to exactly one pool: narrow them with roles or service',
    );
    expect(r.problems).toContain(
      'service "runtime" of agent stream-2 (role stream) is in 2 pools (runtime, all-stream); each service belongs to exactly one pool: narrow them with roles or service',
    );
  });

  it('places an agent without services by the pools without service, and names a stray server mapping', () => {
    const r = resolveLbTargets(seed, [{ id: 'admin-3', role: 'admin', services: [] }, ...agents]);
    expect(r.targets.get('admin-3')).toEqual([{ pool: 'admin', backend: 'be_admin', server: 'admin-3' }]);
    const stray = lbConfigSchema.parse({
      ...seed,
      pools: seed.pools.map((p) => (p.name === 'admin' ? { ...p, servers: { 'stream-2': 'x' } } : p)),
    });
    expect(resolveLbTargets(stray, agents).problems).toEqual([
      'pool admin names a server for agent stream-2, which is not in that pool',
    ]);
  });

  it('gate-only without pools places nothing and finds nothing wrong', () => {
    const r = resolveLbTargets(lbConfigSchema.parse({ mode: 'gate-only' }), agents);
    expect(r).toEqual({ targets: new Map(), pools: new Map(), problems: [] });
  });

  it("gives a second instance its owner's pools with -beside names", () => {
    const r = resolveLbTargets(seed, agents);
    expect(targetsOf(seed, r, 'stream-1@beside')).toEqual([
      { pool: 'stream', backend: 'be_stream', server: 's1-beside' },
      { pool: 'runtime', backend: 'be_runtime', server: 'stream-1-beside' },
    ]);
    expect(targetsOf(seed, r, 'nobody')).toEqual([]);
  });

  it("issue 14.1: an unreachable balancer's message names it and what to do, and is recognised in a run failure", () => {
    const err = new LbUnreachableError('lb2', 'unix:/run/h2.sock', 'connection refused', 'seed');
    expect(err.message).toBe(
      'load balancer lb2 (unix:/run/h2.sock) of cluster seed does not answer: connection refused. Start it, or fix its runtime API address with `rollgate lb configure --cluster seed` (see `rollgate lb show --cluster seed`); the run resumes by itself once it answers.',
    );
    expect(isLbUnreachableFailure(err.message)).toBe(true);
    expect(isLbUnreachableFailure('paused by op')).toBe(false);
    expect(isLbUnreachableFailure(null)).toBe(false);
  });
});
