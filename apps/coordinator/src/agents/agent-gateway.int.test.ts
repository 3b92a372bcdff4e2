// The gateway's log back-pressure, on a real gRPC stream: a line is acknowledged (LogAck) only once
// the log writer has accepted it, and while the writer is full the gateway stops reading the stream.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createMemoryStore, type LogRecord } from '@rollgate/engine';
import { createLogger } from '@rollgate/logger';
import {
  CAPABILITIES,
  loadAgentProtocol,
  type AgentMessage,
  type CoordinatorMessage__Output,
} from '@rollgate/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentGateway } from './agent-gateway';
import { createArtifactStore } from '../editions/artifact-store';

/** A log writer that holds `capacity` lines until release() stores them (a stuck database). */
function fullWriter(capacity: number) {
  const held: LogRecord[] = [];
  const stored: LogRecord[] = [];
  let wake: (() => void)[] = [];
  return {
    held,
    stored,
    write(r: LogRecord) {
      if (held.length >= capacity) return false;
      held.push(r);
      return true;
    },
    async flush() {},
    whenWritable() {
      return held.length < capacity ? Promise.resolve() : new Promise<void>((res) => wake.push(res));
    },
    release() {
      stored.push(...held.splice(0));
      const w = wake;
      wake = [];
      for (const f of w) f();
    },
  };
}

describe('agent gateway: log back-pressure', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-gateway-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('acknowledges only lines the writer accepted, and stores all of them in order', async () => {
    const writer = fullWriter(120);
    const gateway = createAgentGateway(
      {
        port: 0,
        store: createMemoryStore(),
        artifacts: createArtifactStore({ dir }),
        logs: writer,
        log: createLogger({ name: 'test', level: 'silent' }),
        clock: { now: () => Date.now() },
        version: 'test',
        logAckMs: 20,
      },
      { onActionUpdate: async () => {}, onAgentConnected: async () => {}, onAgentLost: async () => {} },
    );
    const port = await gateway.start();
    const proto = loadAgentProtocol();
    const client = new proto.rollgate.agent.v1.AgentService(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
    const call = client.Connect();
    const acks: number[] = [];
    const welcomed = new Promise<void>((res) =>
      call.on('data', (m: CoordinatorMessage__Output) => {
        if (m.body === 'welcome') res();
        if (m.body === 'logAck' && m.logAck) acks.push(Number(m.logAck.upToSeq));
      }),
    );
    call.on('error', () => {});
    try {
      call.write({
        hello: {
          agentId: 'a-1',
          agentVersion: 'test',
          capabilities: [CAPABILITIES.logAck],
          hostname: 'a-1',
          cluster: 'c',
          role: 'r',
          gateUrl: '',
          gate: 'GATE_STATE_OPEN',
        },
      } satisfies AgentMessage);
      await welcomed;
      // 10 batches of 50 lines; the writer takes 120 lines, then is full.
      let seq = 0;
      for (let b = 0; b < 10; b++) {
        const lines = Array.from({ length: 50 }, () => ({
          actionId: '',
          atMs: 1,
          level: 'LOG_LEVEL_INFO' as const,
          code: 'RG0190I',
          message: `line ${++seq}`,
          seq,
        }));
        call.write({ logs: { streamId: 'st', lines } } satisfies AgentMessage);
      }
      await new Promise((r) => setTimeout(r, 300));
      // The writer is full: 119 agent lines and the coordinator's own "agent connected" line.
      const agentLines = (ls: LogRecord[]) => ls.filter((l) => l.source === 'agent');
      expect(writer.held).toHaveLength(120);
      expect(agentLines(writer.held).at(-1)?.seq).toBe(119);
      expect(Math.max(0, ...acks)).toBe(119); // not 500: the rest was never accepted
      // The database catches up, twice over: everything arrives, once, in order, and is acknowledged.
      for (let i = 0; i < 10 && agentLines([...writer.stored, ...writer.held]).length < 500; i++) {
        writer.release();
        await new Promise((r) => setTimeout(r, 100));
      }
      writer.release();
      await new Promise((r) => setTimeout(r, 100));
      expect(agentLines(writer.stored).map((l) => l.seq)).toEqual(
        Array.from({ length: 500 }, (_, i) => i + 1),
      );
      expect(Math.max(...acks)).toBe(500);
    } finally {
      call.cancel();
      client.close();
      await gateway.stop();
    }
  });

  it('an agent whose messages keep arriving is not called lost while an earlier one is still being handled', async () => {
    // Heartbeat 200 ms: lost after 300 ms of silence. The engine takes 1.2 s over the agent's first
    // update (a fan-out's updates queued on the run); the agent heartbeats every 100 ms meanwhile.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const lost: string[] = [];
    const gateway = createAgentGateway(
      {
        port: 0,
        store: createMemoryStore(),
        artifacts: createArtifactStore({ dir }),
        logs: { write: () => true, flush: async () => {} },
        log: createLogger({ name: 'test', level: 'silent' }),
        clock: { now: () => Date.now() },
        version: 'test',
        heartbeatIntervalMs: 200,
      },
      {
        onActionUpdate: () => held,
        onAgentConnected: async () => {},
        onAgentLost: async (id) => void lost.push(id),
      },
    );
    const port = await gateway.start();
    const proto = loadAgentProtocol();
    const client = new proto.rollgate.agent.v1.AgentService(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
    const call = client.Connect();
    const welcomed = new Promise<void>((res) =>
      call.on('data', (m: CoordinatorMessage__Output) => m.body === 'welcome' && res()),
    );
    call.on('error', () => {});
    let beat: NodeJS.Timeout | undefined;
    try {
      call.write({
        hello: {
          agentId: 'a-busy',
          agentVersion: 'test',
          capabilities: [],
          hostname: 'a-busy',
          cluster: 'c',
          role: 'r',
          gateUrl: '',
          gate: 'GATE_STATE_OPEN',
        },
      } satisfies AgentMessage);
      await welcomed;
      let seq = 0;
      beat = setInterval(() => call.write({ heartbeat: { seq: ++seq, sentAtMs: Date.now() } }), 100);
      call.write({
        actionUpdate: { actionId: 'r-1.s0.a-busy.a1', status: 'ACTION_STATUS_ACCEPTED', atMs: Date.now() },
      } satisfies AgentMessage);
      await new Promise((r) => setTimeout(r, 1200));
      expect(lost).toEqual([]);
      expect(gateway.bus.isConnected('a-busy')).toBe(true);
      // Silence is still noticed: once the agent stops talking, it is lost.
      clearInterval(beat);
      release();
      await new Promise((r) => setTimeout(r, 800));
      expect(lost).toEqual(['a-busy']);
    } finally {
      clearInterval(beat);
      release();
      call.cancel();
      client.close();
      await gateway.stop();
    }
  });
});
