import { describe, expect, it } from 'vitest';
import { createCoordinator } from './create-coordinator';

describe('issue 15 item 2: createCoordinator refuses bad options before starting anything', () => {
  it('names every option out of bounds, with env.ts bounds', () => {
    expect(() => createCoordinator({ dataDir: '/tmp/x', httpPort: 70_000, heartbeatMs: 5 })).toThrow(
      /invalid coordinator options:\n {2}httpPort: .*\n {2}heartbeatMs: /,
    );
  });

  it('refuses a lease renewal longer than half the lease', () => {
    expect(() => createCoordinator({ dataDir: '/tmp/x', leaseTtlMs: 3000, leaseRenewMs: 2000 })).toThrow(
      /leaseRenewMs: leaseRenewMs must be at most half of leaseTtlMs/,
    );
  });

  it('refuses an empty data directory and a database URL that is not a URL', () => {
    expect(() => createCoordinator({ dataDir: '', databaseUrl: 'the usual database' })).toThrow(
      /dataDir: dataDir is required[\s\S]*databaseUrl: databaseUrl must be a postgres:\/\/ URL/,
    );
  });

  it('accepts the defaults: nothing is started until start()', () => {
    const c = createCoordinator({ dataDir: '/nonexistent/never-created' });
    expect(() => c.agents).toThrow(/once start\(\) has resolved/);
  });
});
