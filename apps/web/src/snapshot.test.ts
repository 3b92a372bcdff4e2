import { describe, expect, it } from 'vitest';
import { errorInfo, INITIAL_SNAPSHOT, poll } from './snapshot';
import { NOW, pausedRun, SERVERS } from './testing/fixtures';

// Errors shaped like the tRPC client's: message plus data.code when a tRPC server answered.
const trpcErr = (code: string, message: string) => Object.assign(new Error(message), { data: { code } });

function client(
  over: {
    health?: () => Promise<unknown>;
    servers?: () => Promise<unknown>;
    status?: () => Promise<unknown>;
  } = {},
) {
  return {
    health: { query: (over.health ?? (async () => ({ ok: true, version: '1.2.3' }))) as never },
    servers: { list: { query: (over.servers ?? (async () => SERVERS)) as never } },
    upgrade: { status: { query: (over.status ?? (async () => pausedRun())) as never } },
  };
}

describe('poll', () => {
  it('connected: version, servers and the latest run', async () => {
    const s = await poll(client(), INITIAL_SNAPSHOT, NOW);
    expect(s).toMatchObject({
      connection: 'connected',
      version: '1.2.3',
      noRunYet: false,
      error: null,
      updatedAt: NOW,
      now: NOW,
    });
    expect(s.servers).toHaveLength(4);
    expect(s.run?.run.id).toBe('r-7f3a');
  });

  it('no run yet: NOT_FOUND from upgrade.status is a state, not an error', async () => {
    const s = await poll(
      client({ status: async () => Promise.reject(trpcErr('NOT_FOUND', 'There is no run yet.')) }),
      INITIAL_SNAPSHOT,
      NOW,
    );
    expect(s).toMatchObject({ connection: 'connected', run: null, noRunYet: true, error: null });
  });

  it('unreachable: keeps the last data, marks the connection and says why', async () => {
    const connected = await poll(client(), INITIAL_SNAPSHOT, NOW);
    const down = trpcErr(
      'BAD_GATEWAY',
      'Cannot reach the coordinator at http://127.0.0.1:7400: connect ECONNREFUSED.',
    );
    const s = await poll(
      client({
        health: async () => Promise.reject(down),
        servers: async () => Promise.reject(down),
        status: async () => Promise.reject(down),
      }),
      connected,
      NOW + 2000,
    );
    expect(s.connection).toBe('unreachable');
    expect(s.error).toContain('Cannot reach the coordinator');
    expect(s.servers).toHaveLength(4);
    expect(s.updatedAt).toBe(NOW);
    expect(s.now).toBe(NOW + 2000);
  });

  it("the console's own server gone: a fetch error without a tRPC code is unreachable too", async () => {
    const s = await poll(
      client({ health: async () => Promise.reject(new TypeError('Failed to fetch')) }),
      INITIAL_SNAPSHOT,
      NOW,
    );
    expect(s.connection).toBe('unreachable');
    expect(s.error).toBe("The console's server does not answer (Failed to fetch).");
  });

  it('a failed read other than health is shown without dropping the connection', async () => {
    const s = await poll(
      client({ servers: async () => Promise.reject(trpcErr('INTERNAL_SERVER_ERROR', 'db down')) }),
      INITIAL_SNAPSHOT,
      NOW,
    );
    expect(s).toMatchObject({ connection: 'connected', error: 'db down', servers: null, updatedAt: null });
  });
});

describe('errorInfo', () => {
  it('classifies gateway errors as unreachable', () => {
    expect(errorInfo(trpcErr('GATEWAY_TIMEOUT', 'slow')).unreachable).toBe(true);
    expect(errorInfo(trpcErr('NOT_FOUND', 'x')).unreachable).toBe(false);
  });
});
