// @rollgate/lb: load-balancer drivers. Today HAProxy: its runtime API (drain/ready/maint a server
// at once, read sessions and states), a ready-to-paste configuration for a cluster, and how long a
// gate change takes to act when only health checks carry it.
export {
  createHaproxyRuntime,
  HaproxyRuntimeError,
  type HaproxyRuntime,
  type HaproxyRuntimeOptions,
  type HaproxyServerStateName,
  type ServerStat,
  type ServerState,
  type ServerStateChange,
} from './haproxy-runtime';
export {
  ADMIN_FLAGS,
  adminStateFromFlags,
  parseServersState,
  parseShowStat,
  splitResponses,
  type HaproxyAdminState,
  type HaproxyOpState,
  type HaproxyStatus,
  type ServerStateRow,
  type ServerStatRow,
} from './haproxy-parse';
export {
  renderHaproxyBackend,
  validationBackendName,
  type HaproxyBackendServer,
  type HaproxyHealthMode,
  type RenderHaproxyBackendOptions,
} from './haproxy-config';
export {
  gateOnlyDetectMs,
  gateOnlyReadmitMs,
  type GateDetectOptions,
  type GateReadmitOptions,
} from './gate-timing';
export {
  renderRoutingFrontend,
  routingMapFiles,
  type RenderRoutingFrontendOptions,
  type RoutingMapFiles,
} from './haproxy-routing';
