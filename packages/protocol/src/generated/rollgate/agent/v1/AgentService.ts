// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type {
  AgentMessage as _rollgate_agent_v1_AgentMessage,
  AgentMessage__Output as _rollgate_agent_v1_AgentMessage__Output,
} from '../../../rollgate/agent/v1/AgentMessage';
import type {
  ArtifactChunk as _rollgate_agent_v1_ArtifactChunk,
  ArtifactChunk__Output as _rollgate_agent_v1_ArtifactChunk__Output,
} from '../../../rollgate/agent/v1/ArtifactChunk';
import type {
  CoordinatorMessage as _rollgate_agent_v1_CoordinatorMessage,
  CoordinatorMessage__Output as _rollgate_agent_v1_CoordinatorMessage__Output,
} from '../../../rollgate/agent/v1/CoordinatorMessage';
import type {
  FetchArtifactRequest as _rollgate_agent_v1_FetchArtifactRequest,
  FetchArtifactRequest__Output as _rollgate_agent_v1_FetchArtifactRequest__Output,
} from '../../../rollgate/agent/v1/FetchArtifactRequest';

export interface AgentServiceClient extends grpc.Client {
  /**
   * One long-lived bidirectional stream per agent. The agent dials out; the first message it sends
   * is a Hello, the first it receives is a Welcome.
   */
  Connect(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_rollgate_agent_v1_AgentMessage, _rollgate_agent_v1_CoordinatorMessage__Output>;
  Connect(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_rollgate_agent_v1_AgentMessage, _rollgate_agent_v1_CoordinatorMessage__Output>;
  /**
   * One long-lived bidirectional stream per agent. The agent dials out; the first message it sends
   * is a Hello, the first it receives is a Welcome.
   */
  connect(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_rollgate_agent_v1_AgentMessage, _rollgate_agent_v1_CoordinatorMessage__Output>;
  connect(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<_rollgate_agent_v1_AgentMessage, _rollgate_agent_v1_CoordinatorMessage__Output>;

  /**
   * Streams an edition archive in chunks; every chunk names the sha256 the whole must have.
   */
  FetchArtifact(
    argument: _rollgate_agent_v1_FetchArtifactRequest,
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_rollgate_agent_v1_ArtifactChunk__Output>;
  FetchArtifact(
    argument: _rollgate_agent_v1_FetchArtifactRequest,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_rollgate_agent_v1_ArtifactChunk__Output>;
  /**
   * Streams an edition archive in chunks; every chunk names the sha256 the whole must have.
   */
  fetchArtifact(
    argument: _rollgate_agent_v1_FetchArtifactRequest,
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_rollgate_agent_v1_ArtifactChunk__Output>;
  fetchArtifact(
    argument: _rollgate_agent_v1_FetchArtifactRequest,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_rollgate_agent_v1_ArtifactChunk__Output>;
}

export interface AgentServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * One long-lived bidirectional stream per agent. The agent dials out; the first message it sends
   * is a Hello, the first it receives is a Welcome.
   */
  Connect: grpc.handleBidiStreamingCall<
    _rollgate_agent_v1_AgentMessage__Output,
    _rollgate_agent_v1_CoordinatorMessage
  >;

  /**
   * Streams an edition archive in chunks; every chunk names the sha256 the whole must have.
   */
  FetchArtifact: grpc.handleServerStreamingCall<
    _rollgate_agent_v1_FetchArtifactRequest__Output,
    _rollgate_agent_v1_ArtifactChunk
  >;
}

export interface AgentServiceDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<
    _rollgate_agent_v1_AgentMessage,
    _rollgate_agent_v1_CoordinatorMessage,
    _rollgate_agent_v1_AgentMessage__Output,
    _rollgate_agent_v1_CoordinatorMessage__Output
  >;
  FetchArtifact: MethodDefinition<
    _rollgate_agent_v1_FetchArtifactRequest,
    _rollgate_agent_v1_ArtifactChunk,
    _rollgate_agent_v1_FetchArtifactRequest__Output,
    _rollgate_agent_v1_ArtifactChunk__Output
  >;
}
