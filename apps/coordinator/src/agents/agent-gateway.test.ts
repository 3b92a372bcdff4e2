// The gateway's record of an agent's connection status across a reconnect, with fake streams and
// an in-memory store: whatever order an old stream's "lost" / "disconnected" and a new stream's
// Hello are handled and written in, the store ends up saying what the registered stream says.
// (The capacity floor reads that status, and nothing else rewrites it while the agent is quiet.)
import { EventEmitter } from 'node:events';
import { createMemoryStore, type EngineStore, type ServerTouch } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
import type { AgentMessage__Output, CoordinatorMessage } from '@rollgate/protocol';
import { describe, expect, it, vi } from 'vitest';
import { createAgentGateway } from './agent-gateway';
import type { ArtifactStore } from '../editions/artifact-store';

const HEARTBEAT_MS = 500;

/** A server-side Connect stream: the test pushes the agent's messages, and reads what was written. */
class FakeCall extends EventEmitter {
  written: CoordinatorMessage[] = [];
  ended = false;
  private paused = false;
  write(m: CoordinatorMessage) {
    this.written.push(m);
    return true;
  }
  end() {
    this.ended = true;
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  isPaused() {
    return this.paused;
  }
  getAuthContext() {
    return {};
  }
  send(m: Partial<AgentMessage__Output>) {
    this.emit('data', m);
  }
  hello(gateOpen = true) {
    this.send({
      body: 'hello',
      hello: {
        agentId: 'admin-1',
        agentVersion: '0.1.0',
        capabilities: [],
        hostname: 'admin-1',
        cluster: 'demo',
        role: 'admin',
        services: [],
        gateUrl: 'http://127.0.0.1:1/gate',
        gate: gateOpen ? 'GATE_STATE_OPEN' : 'GATE_STATE_CLOSED',
        journaled: [],
        agentCheckPort: 0,
      },
    });
  }
  get welcomed() {
    return this.written.some((m) => 'welcome' in m && m.welcome);
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function setup(
  store: EngineStore = createMemoryStore(),
  onAgentConnected: (id: string) => Promise<void> = async () => {},
) {
  let now = 1_000_000;
  const lostCalls: string[] = [];
  let holdLost: Promise<void> | null = null;
  const gateway = createAgentGateway(
    {
      store,
      artifacts: {} as ArtifactStore,
      logs: { write: () => true, flush: async () => {} },
      log: createLogger({ name: 'test', level: 'silent' }),
      clock: { now: () => now },
      version: 'test',
      heartbeatIntervalMs: HEARTBEAT_MS,
    },
    {
      onActionUpdate: async () => {},
      onAgentConnected,
      onAgentLost: async (id) => {
        lostCalls.push(id);
        if (holdLost) await holdLost;
      },
    },
  );
  const connect = () => {
    const call = new FakeCall();
    gateway.testing.connect(call as never);
    return call;
  };
  return {
    gateway,
    store,
    connect,
    lostCalls,
    advance: (ms: number) => (now += ms),
    holdLostWith: (p: Promise<void> | null) => (holdLost = p),
    status: async () => (await store.getServer('admin-1'))?.status,
  };
}

describe('agent gateway: connection status across a reconnect', () => {
  it('a sweep that marked the old stream lost does not overwrite the Hello of the new one', async () => {
    const t = setup();
    const old = t.connect();
    old.hello();
    await vi.waitFor(() => expect(old.welcomed).toBe(true));
    // The old stream goes silent (a partition); the sweep marks it lost and, while the engine is
    // told (a database round trip), the agent's new stream says Hello.
    t.advance(2 * HEARTBEAT_MS);
    const release = deferred();
    t.holdLostWith(release.promise);
    const sweeping = t.gateway.testing.sweep();
    await vi.waitFor(() => expect(t.lostCalls).toEqual(['admin-1']));
    const fresh = t.connect();
    fresh.hello();
    await vi.waitFor(() => expect(fresh.welcomed).toBe(true));
    expect(await t.status()).toBe('connected');
    release.resolve();
    await sweeping;
    expect(await t.status()).toBe('connected');
  });

  it("an old stream's close whose write is still on its way does not overwrite the new stream's Hello", async () => {
    const memory = createMemoryStore();
    let gate: Promise<void> | null = null;
    const touchCalls: ServerTouch[][] = [];
    // The database applies this touch late (its connection was busy): the Hello's write is issued
    // after it and must not be applied before it.
    const store: EngineStore = {
      ...memory,
      async touchServers(batch) {
        touchCalls.push(batch);
        const wait = gate;
        if (wait) await wait;
        await memory.touchServers(batch);
      },
    };
    const t = setup(store);
    const old = t.connect();
    old.hello();
    await vi.waitFor(() => expect(old.welcomed).toBe(true));
    const slow = deferred();
    gate = slow.promise;
    old.emit('cancelled'); // the healed proxy forwards the old connection's end
    await vi.waitFor(() =>
      expect(touchCalls.some((b) => b.some((x) => x.status === 'disconnected'))).toBe(true),
    );
    const fresh = t.connect();
    fresh.hello();
    await new Promise((r) => setTimeout(r, 20));
    gate = null;
    slow.resolve();
    await vi.waitFor(() => expect(fresh.welcomed).toBe(true));
    await t.gateway.testing.sweep();
    expect(await t.status()).toBe('connected');
  });

  it('heartbeats of the registered stream correct a stale status in the store', async () => {
    const t = setup();
    const call = t.connect();
    call.hello();
    await vi.waitFor(() => expect(call.welcomed).toBe(true));
    // Whatever wrote it (a peer, an old write applied late), the store says lost...
    await t.store.touchServers([{ id: 'admin-1', lastHeartbeatAt: 0, status: 'lost' }]);
    // ...while the agent keeps talking on its stream.
    t.advance(HEARTBEAT_MS);
    call.send({
      body: 'heartbeat',
      heartbeat: { seq: 1, sentAtMs: 0, gate: 'GATE_STATE_OPEN', runningActionIds: [] },
    });
    await vi.waitFor(async () => {
      await t.gateway.testing.sweep();
      expect(await t.status()).toBe('connected');
    });
  });

  it("what a replaced stream still delivers does not overwrite the new stream's gate", async () => {
    const t = setup();
    const old = t.connect();
    old.hello(false);
    await vi.waitFor(() => expect(old.welcomed).toBe(true));
    const fresh = t.connect();
    fresh.hello(true);
    await vi.waitFor(() => expect(fresh.welcomed).toBe(true));
    expect(old.ended).toBe(true);
    // A health report the agent wrote on the old stream before it gave up on it, delivered late.
    old.send({ body: 'health', health: { services: [], gate: 'GATE_STATE_CLOSED', gateOpen: false } });
    await new Promise((r) => setTimeout(r, 20));
    await t.gateway.testing.sweep();
    const s = await t.store.getServer('admin-1');
    expect(s?.gateOpen).toBe(true);
    expect(s?.status).toBe('connected');
  });
});

describe('agent gateway: editions agents fetch by URL (issue 16 item 6, docs/adr/0039)', () => {
  it("adds the edition's URL to install ops on the wire only, and not to other editions' installs", async () => {
    const store = createMemoryStore();
    const url = 'https://repo.example/shop-2.0.tgz?sig=s3cret';
    const edition = { app: 'shop', sha256: 'b'.repeat(64), size: 10, createdAt: 1, createdBy: 'op' };
    await store.insertEdition(
      { ...edition, name: '2.0', fetchBy: 'agents', source: 'https://repo.example/shop-2.0.tgz' },
      url,
    );
    await store.insertEdition({ ...edition, name: '1.0', sha256: 'c'.repeat(64) });
    const t = setup(store);
    const call = t.connect();
    call.hello();
    await vi.waitFor(() => expect(call.welcomed).toBe(true));
    const install = (name: string, sha256: string) =>
      ({ op: 'install', service: 'shop', edition: name, sha256, size: 10 }) as const;
    const ops = [
      install('2.0', 'b'.repeat(64)),
      install('1.0', 'c'.repeat(64)),
      { op: 'start', service: 'shop' } as const,
    ];
    const action = { actionId: 'a1', runId: 'r1', stepIndex: 0, attempt: 1, ops: [...ops] };
    expect(await t.gateway.bus.dispatch('admin-1', action)).toBe(true);
    const sent = call.written.find((m) => m.runAction)?.runAction;
    expect(sent?.ops?.[0]?.install).toMatchObject({ edition: '2.0', url });
    expect(sent?.ops?.[1]?.install).toMatchObject({ edition: '1.0' });
    expect(sent?.ops?.[1]?.install).not.toHaveProperty('url');
    // The action the engine holds (and stores in the plan) never gets the URL.
    expect(JSON.stringify(action)).not.toContain('s3cret');
  });
});

describe('agent gateway: a message it cannot handle', () => {
  it('ends the stream with UNAVAILABLE (the agent reconnects and replays its journal) and handles nothing after it', async () => {
    const connected: string[] = [];
    // The engine's work for a Hello needs the database, which is away.
    const t = setup(createMemoryStore(), (id) => {
      connected.push(id);
      return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    });
    const call = t.connect();
    const errors: { code: number; details: string }[] = [];
    call.on('error', (e: { code: number; details: string }) => errors.push(e));
    call.hello();
    // Already on its way when the first failed: not handled either.
    call.hello();
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 10_000 });
    expect(errors[0]).toMatchObject({ code: 14, details: expect.stringMatching(/reconnect/) });
    call.hello();
    await new Promise((r) => setTimeout(r, 50));
    expect(connected).toEqual(['admin-1']);
    expect(errors).toHaveLength(1);
  });
});
