import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './generated/agent';

export type { ProtoGrpcType } from './generated/agent';
export type { AgentMessage, AgentMessage__Output } from './generated/rollgate/agent/v1/AgentMessage';
export type {
  CoordinatorMessage,
  CoordinatorMessage__Output,
} from './generated/rollgate/agent/v1/CoordinatorMessage';
export type { Hello, Hello__Output } from './generated/rollgate/agent/v1/Hello';
export type { Welcome, Welcome__Output } from './generated/rollgate/agent/v1/Welcome';
export type { Heartbeat, Heartbeat__Output } from './generated/rollgate/agent/v1/Heartbeat';
export type { HealthReport, HealthReport__Output } from './generated/rollgate/agent/v1/HealthReport';
export type { ActionUpdate, ActionUpdate__Output } from './generated/rollgate/agent/v1/ActionUpdate';
export type { LogBatch, LogBatch__Output } from './generated/rollgate/agent/v1/LogBatch';
export type { LogLine, LogLine__Output } from './generated/rollgate/agent/v1/LogLine';
export type { RunAction, RunAction__Output } from './generated/rollgate/agent/v1/RunAction';
export type { CancelAction, CancelAction__Output } from './generated/rollgate/agent/v1/CancelAction';
export type { SetGate, SetGate__Output } from './generated/rollgate/agent/v1/SetGate';
export type { LogAck, LogAck__Output } from './generated/rollgate/agent/v1/LogAck';
export type { ActionOp, ActionOp__Output } from './generated/rollgate/agent/v1/ActionOp';
export type {
  ServiceInventory,
  ServiceInventory__Output,
} from './generated/rollgate/agent/v1/ServiceInventory';
export type {
  FetchArtifactRequest,
  FetchArtifactRequest__Output,
} from './generated/rollgate/agent/v1/FetchArtifactRequest';
export type { ArtifactChunk, ArtifactChunk__Output } from './generated/rollgate/agent/v1/ArtifactChunk';
export type { AgentServiceClient, AgentServiceHandlers } from './generated/rollgate/agent/v1/AgentService';
export type { GateState, GateState__Output } from './generated/rollgate/agent/v1/GateState';
export type { ActionStatus, ActionStatus__Output } from './generated/rollgate/agent/v1/ActionStatus';
export type { ServiceHealth, ServiceHealth__Output } from './generated/rollgate/agent/v1/ServiceHealth';
export type { LogLevel, LogLevel__Output } from './generated/rollgate/agent/v1/LogLevel';

/** The wire package name; bump only by adding a new package (v2), never by editing v1. */
export const PROTOCOL_PACKAGE = 'rollgate.agent.v1';

/** Options shared by the runtime loader and the type generator (tools/scripts/proto-gen.mjs). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Absolute path of the bundled agent.proto. */
export function defaultProtoPath(): string {
  return fileURLToPath(new URL('../proto/rollgate/agent/v1/agent.proto', import.meta.url));
}

/**
 * Loads the agent protocol for grpc-js.
 * @param protoPath where agent.proto lives; default: the copy inside this package.
 */
export function loadAgentProtocol(protoPath: string = defaultProtoPath()): ProtoGrpcType {
  const def = protoLoader.loadSync(protoPath, LOADER_OPTIONS);
  return grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
}

/**
 * Capabilities an agent may advertise in Hello. A new capability is added here and in the agent;
 * the coordinator only sends ops an agent has advertised.
 */
export const CAPABILITIES = {
  opsV1: 'ops.v1',
  fetchArtifact: 'artifact.fetch.v1',
  gateHttp: 'gate.http.v1',
  /** The agent keeps log lines until a LogAck and resends unacknowledged ones after a reconnect. */
  logAck: 'logs.ack.v1',
} as const;

// Hand-written codecs (the hot LogBatch both ways, and the frozen grpc.health.v1 messages).
export { decodeLogBatchMessage } from './codecs/log-batch-decoder';
export { createLogBatchEncoder, type EncodedLine } from './codecs/log-batch-encoder';
export {
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  HEALTH_SERVICE_DEFINITION,
  SERVING_STATUS,
  type ServingStatus,
} from './codecs/health-codec';
