// The standard gRPC health service's two messages, grpc.health.v1.HealthCheckRequest and
// HealthCheckResponse (docs/adr/0030). They have one field each and are frozen upstream, so they
// are encoded here by hand rather than loaded from a second .proto at run time.
import type * as grpc from '@grpc/grpc-js';

/** HealthCheckResponse.ServingStatus. */
export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatus = (typeof SERVING_STATUS)[keyof typeof SERVING_STATUS];

/** Reads a base-128 varint at `pos`; null when the buffer ends inside it or it exceeds 32 bits. */
function varint(buf: Buffer, pos: number): { value: number; next: number } | null {
  let value = 0;
  for (let shift = 0, i = pos; i < buf.length && shift < 35; shift += 7, i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

/** HealthCheckRequest { string service = 1; }; unknown fields are skipped as proto3 says. */
export function decodeHealthCheckRequest(buf: Buffer): { service: string } {
  let service = '';
  let pos = 0;
  while (pos < buf.length) {
    const key = varint(buf, pos);
    if (!key) throw new Error('malformed HealthCheckRequest');
    pos = key.next;
    const field = Math.floor(key.value / 8);
    const wire = key.value & 7;
    if (wire === 0) {
      const v = varint(buf, pos);
      if (!v) throw new Error('malformed HealthCheckRequest');
      pos = v.next;
    } else if (wire === 2) {
      const len = varint(buf, pos);
      if (!len || len.next + len.value > buf.length) throw new Error('malformed HealthCheckRequest');
      if (field === 1) service = buf.subarray(len.next, len.next + len.value).toString('utf8');
      pos = len.next + len.value;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error('malformed HealthCheckRequest');
  }
  return { service };
}

export function encodeHealthCheckRequest(req: { service: string }): Buffer {
  const name = Buffer.from(req.service, 'utf8');
  if (name.length === 0) return Buffer.alloc(0);
  if (name.length > 127) throw new Error('service name too long for this encoder');
  return Buffer.concat([Buffer.from([0x0a, name.length]), name]);
}

/** HealthCheckResponse { ServingStatus status = 1; }. */
export function encodeHealthCheckResponse(res: { status: ServingStatus }): Buffer {
  return Buffer.from([0x08, res.status]);
}

export function decodeHealthCheckResponse(buf: Buffer): { status: number } {
  let status = 0;
  let pos = 0;
  while (pos < buf.length) {
    const key = varint(buf, pos);
    if (!key) throw new Error('malformed HealthCheckResponse');
    const v = key.value & 7;
    if (v !== 0) throw new Error('unexpected field in HealthCheckResponse');
    const value = varint(buf, key.next);
    if (!value) throw new Error('malformed HealthCheckResponse');
    if (key.value >>> 3 === 1) status = value.value;
    pos = value.next;
  }
  return { status };
}

/** grpc.health.v1.Health with Check only. */
export const HEALTH_SERVICE_DEFINITION = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealthCheckRequest,
    requestDeserialize: decodeHealthCheckRequest,
    responseSerialize: encodeHealthCheckResponse,
    responseDeserialize: decodeHealthCheckResponse,
  },
} satisfies grpc.ServiceDefinition;
