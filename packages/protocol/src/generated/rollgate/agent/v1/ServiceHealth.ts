// Original file: packages/protocol/proto/rollgate/agent/v1/agent.proto

export const ServiceHealth = {
  SERVICE_HEALTH_UNSPECIFIED: 'SERVICE_HEALTH_UNSPECIFIED',
  SERVICE_HEALTH_HEALTHY: 'SERVICE_HEALTH_HEALTHY',
  SERVICE_HEALTH_UNHEALTHY: 'SERVICE_HEALTH_UNHEALTHY',
  SERVICE_HEALTH_STOPPED: 'SERVICE_HEALTH_STOPPED',
} as const;

export type ServiceHealth =
  | 'SERVICE_HEALTH_UNSPECIFIED'
  | 0
  | 'SERVICE_HEALTH_HEALTHY'
  | 1
  | 'SERVICE_HEALTH_UNHEALTHY'
  | 2
  | 'SERVICE_HEALTH_STOPPED'
  | 3;

export type ServiceHealth__Output = (typeof ServiceHealth)[keyof typeof ServiceHealth];
