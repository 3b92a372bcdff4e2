// The gRPC client class for AgentService, which is all of the protocol the agent needs at run time.
//
// The single-file bundle carries agent.proto already parsed (tools/agent-bundle/build.mjs turns it
// into protobufjs JSON and defines ROLLGATE_AGENT_PROTO_JSON): @grpc/proto-loader would parse the
// .proto at every start and build a reflection descriptor of every message, which costs ~0.1 s of
// CPU and ~1-2 MB of heap for as long as the agent runs, and grpc-js never reads those descriptors.
// Run from the sources (tsx, tests), the protocol package's loader is used as before.
import type * as grpc from '@grpc/grpc-js';
import { makeClientConstructor } from '@grpc/grpc-js';
import { LOADER_OPTIONS, loadAgentProtocol, type ProtoGrpcType } from '@rollgate/protocol';
// Default import: protobufjs is CommonJS, and Node's ESM loader finds no named exports in it.
import protobuf, { type INamespace, type Type } from 'protobufjs/light';

export type AgentServiceClientClass = ProtoGrpcType['rollgate']['agent']['v1']['AgentService'];

// Both defined by the bundle build only. The flag is a literal `true` there, so esbuild drops the
// proto-loader branch below from the bundle altogether.
declare const ROLLGATE_AGENT_PROTO_EMBEDDED: boolean | undefined;
declare const ROLLGATE_AGENT_PROTO_JSON: INamespace;

const SERVICE = 'rollgate.agent.v1.AgentService';

/**
 * The AgentService client class from protobufjs JSON of agent.proto (parsed with proto-loader's
 * field naming, `keepCase: false`). Messages are converted exactly as proto-loader's definitions
 * convert them: `fromObject` + `encode` out, `decode` + `toObject(LOADER_OPTIONS)` in.
 */
export function agentServiceClientFromJson(json: INamespace): AgentServiceClientClass {
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  const service = root.lookupService(SERVICE);
  const serialize = (type: Type) => (value: object) => {
    if (Array.isArray(value))
      throw new Error(
        `Failed to serialize message: expected object with ${type.name} structure, got array instead`,
      );
    return type.encode(type.fromObject(value)).finish() as Buffer;
  };
  const deserialize = (type: Type) => (bytes: Buffer) =>
    type.toObject(type.decode(bytes), LOADER_OPTIONS as Parameters<Type['toObject']>[1]);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${SERVICE}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: serialize(request),
      requestDeserialize: deserialize(request),
      responseSerialize: serialize(response),
      responseDeserialize: deserialize(response),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return makeClientConstructor(definition, 'AgentService') as unknown as AgentServiceClientClass;
}

/** The bundle's embedded protocol when there is one, else the protocol package's loader. */
export const loadAgentServiceClient = (): AgentServiceClientClass =>
  // One expression on purpose: esbuild folds it while parsing, so the dead branch's import of
  // proto-loader is not kept alive (an if/return pair is only trimmed later, when minifying).
  typeof ROLLGATE_AGENT_PROTO_EMBEDDED !== 'undefined' && ROLLGATE_AGENT_PROTO_EMBEDDED
    ? agentServiceClientFromJson(ROLLGATE_AGENT_PROTO_JSON)
    : loadAgentProtocol().rollgate.agent.v1.AgentService;
