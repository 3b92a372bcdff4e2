// gRPC channel credentials that follow a renewed certificate (docs/adr/0013). agent.ts passes
// credentials through to the connection as an opaque grpc.ChannelCredentials; the renewal source
// travels attached to that object, so the connection can rebuild its channels when it changes.
import type * as grpc from '@grpc/grpc-js';

const SOURCE = Symbol.for('rollgate.agent.renewable-credentials');

export interface RenewableSource {
  /** The credentials of the certificate in force now. */
  current(): grpc.ChannelCredentials;
  /** Called after each renewal; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** The credentials in force now, carrying `source` for createConnection to follow. */
export function renewableCredentials(source: RenewableSource): grpc.ChannelCredentials {
  const creds = source.current();
  Object.defineProperty(creds, SOURCE, { value: source, enumerable: false });
  return creds;
}

export function renewableSource(creds: grpc.ChannelCredentials): RenewableSource | undefined {
  return (creds as unknown as Record<symbol, RenewableSource | undefined>)[SOURCE];
}
