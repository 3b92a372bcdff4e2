// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Lines up to and including up_to_seq of stream_id are stored; the agent may forget them. Lines it
 * sent but that were never acknowledged are sent again after a reconnect.
 */
export interface LogAck {
  streamId?: string;
  upToSeq?: number | string | Long;
}

/**
 * Lines up to and including up_to_seq of stream_id are stored; the agent may forget them. Lines it
 * sent but that were never acknowledged are sent again after a reconnect.
 */
export interface LogAck__Output {
  streamId: string;
  upToSeq: number;
}
