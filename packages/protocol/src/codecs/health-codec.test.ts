// The hand-written grpc.health.v1 codec (issue 16 item 3), byte for byte against protoc's encoding.
import { describe, expect, it } from 'vitest';
import {
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  SERVING_STATUS,
} from './health-codec';

describe('grpc.health.v1 messages (issue 16 item 3)', () => {
  it('round-trips HealthCheckRequest and HealthCheckResponse as protobuf encodes them', () => {
    // protoc's encoding of HealthCheckRequest{service:"a.B"}: field 1, length-delimited.
    expect(encodeHealthCheckRequest({ service: 'a.B' })).toEqual(Buffer.from([0x0a, 3, 0x61, 0x2e, 0x42]));
    expect(decodeHealthCheckRequest(Buffer.from([0x0a, 3, 0x61, 0x2e, 0x42]))).toEqual({ service: 'a.B' });
    expect(decodeHealthCheckRequest(Buffer.alloc(0))).toEqual({ service: '' });
    // An unknown varint field (2) is skipped.
    expect(decodeHealthCheckRequest(Buffer.from([0x10, 0x05, 0x0a, 1, 0x78]))).toEqual({ service: 'x' });
    expect(encodeHealthCheckResponse({ status: SERVING_STATUS.NOT_SERVING })).toEqual(Buffer.from([0x08, 2]));
    expect(decodeHealthCheckResponse(Buffer.from([0x08, 1]))).toEqual({ status: 1 });
  });

  it('refuses a truncated request', () => {
    expect(() => decodeHealthCheckRequest(Buffer.from([0x0a, 9, 0x61]))).toThrow(/malformed/);
    expect(() => decodeHealthCheckRequest(Buffer.from([0x0a]))).toThrow(/malformed/);
  });
});
