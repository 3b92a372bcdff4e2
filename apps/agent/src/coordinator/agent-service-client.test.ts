import type * as grpc from '@grpc/grpc-js';
import { defaultProtoPath, loadAgentProtocol } from '@rollgate/protocol';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { agentServiceClientFromJson, loadAgentServiceClient } from './agent-service-client';

// What tools/agent-bundle/build.mjs embeds: agent.proto parsed as proto-loader parses it.
function protoJson() {
  const root = new protobuf.Root();
  root.loadSync(defaultProtoPath(), { keepCase: false });
  return root.toJSON();
}

const loader = loadAgentProtocol().rollgate.agent.v1.AgentService.service as grpc.ServiceDefinition;
const embedded = agentServiceClientFromJson(protoJson()).service as grpc.ServiceDefinition;

const hello = {
  hello: {
    agentId: 'a-1',
    cluster: 'c',
    role: 'web',
    agentVersion: '0.1.0',
    capabilities: ['ops.v1', 'logs.ack.v1'],
    services: [
      {
        name: 'shop',
        installedEditions: ['1.0.0'],
        activeEdition: '1.0.0',
        health: 'SERVICE_HEALTH_HEALTHY',
        activeConnections: 3,
        port: 8080,
      },
    ],
  },
};
const runAction = {
  runAction: {
    actionId: 'act-1',
    runId: 'run-1',
    stepIndex: 2,
    ops: [{ drain: { service: 'shop', maxWaitMs: 30_000 } }, { gate: { state: 'GATE_STATE_CLOSED' } }],
  },
};

describe('the AgentService client from embedded protobufjs JSON', () => {
  it('has the methods proto-loader gives, with the same paths and streaming', () => {
    expect(Object.keys(embedded).sort()).toEqual(Object.keys(loader).sort());
    for (const [name, m] of Object.entries(loader)) {
      const e = embedded[name]!;
      expect([e.path, e.requestStream, e.responseStream, e.originalName]).toEqual([
        m.path,
        m.requestStream,
        m.responseStream,
        m.originalName,
      ]);
    }
  });

  it('writes the same bytes and reads the same objects as proto-loader', () => {
    const c = { loader: loader.Connect!, embedded: embedded.Connect! };
    const out = c.loader.requestSerialize(hello);
    expect(c.embedded.requestSerialize(hello)).toEqual(out);
    // Read back with defaults, enums as strings, the oneof's virtual field: as the coordinator does.
    expect(c.embedded.requestDeserialize(out)).toEqual(c.loader.requestDeserialize(out));
    const down = c.loader.responseSerialize(runAction);
    expect(c.embedded.responseSerialize(runAction)).toEqual(down);
    const read = c.embedded.responseDeserialize(down) as Record<string, unknown>;
    expect(read).toEqual(c.loader.responseDeserialize(down));
    expect(read.body).toBe('runAction');
    expect((read.runAction as { ops: { op: string }[] }).ops.map((o) => o.op)).toEqual(['drain', 'gate']);
  });

  it('refuses an array as a message, as proto-loader does', () => {
    expect(() => embedded.Connect!.requestSerialize([])).toThrow(/expected object/);
  });

  it('falls back to proto-loader when run from the sources (no embedded protocol)', () => {
    expect(loadAgentServiceClient().service.Connect.path).toBe('/rollgate.agent.v1.AgentService/Connect');
  });
});
