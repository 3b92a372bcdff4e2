// The standard gRPC health service, grpc.health.v1.Health (issue 16 item 3, docs/adr/0030), on the
// agents' gRPC port, so load balancers, Kubernetes probes and grpc_health_probe can check it. Its two
// messages have one field each and are frozen upstream, so they are encoded here by hand rather
// than loaded from a second .proto at run time (see the ADR; the codec is packages/protocol's
// codecs/health-codec.ts). Check is served; Watch is not
// registered, so grpc-js answers UNIMPLEMENTED, which the standard allows.
import * as grpc from '@grpc/grpc-js';
import { HEALTH_SERVICE_DEFINITION, SERVING_STATUS, type ServingStatus } from '@rollgate/protocol';

/** A service name longer than this is refused (INVALID_ARGUMENT) before it is looked at. */
const MAX_SERVICE_NAME = 200;

export interface GrpcHealthOptions {
  /**
   * Service names answered besides "" (the whole server); any other name gets NOT_FOUND, as the
   * standard says. Default: none.
   */
  services?: string[];
  /** Whether the coordinator can serve now (readiness: database reachable and migrated). */
  ready: () => Promise<boolean>;
}

/** The implementation to add to a grpc.Server beside HEALTH_SERVICE_DEFINITION. */
export function createGrpcHealth(opts: GrpcHealthOptions) {
  const known = new Set(['', ...(opts.services ?? [])]);
  const implementation: grpc.UntypedServiceImplementation = {
    Check(
      call: grpc.ServerUnaryCall<{ service: string }, { status: ServingStatus }>,
      callback: grpc.sendUnaryData<{ status: ServingStatus }>,
    ) {
      const service = call.request.service;
      if (service.length > MAX_SERVICE_NAME) {
        callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `service name longer than ${MAX_SERVICE_NAME}`,
        });
        return;
      }
      if (!known.has(service)) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service: ${service.slice(0, 100)}` });
        return;
      }
      opts.ready().then(
        (ok) => callback(null, { status: ok ? SERVING_STATUS.SERVING : SERVING_STATUS.NOT_SERVING }),
        () => callback(null, { status: SERVING_STATUS.NOT_SERVING }),
      );
    },
  };
  return { definition: HEALTH_SERVICE_DEFINITION as grpc.ServiceDefinition, implementation };
}
