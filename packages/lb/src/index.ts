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
  renderHaproxyPools,
  validationBackendName,
  type HaproxyBackendServer,
  type HaproxyHealthMode,
  type HaproxyPool,
  type HaproxyRuntimeAddress,
  type RenderHaproxyBackendOptions,
  type RenderHaproxyPoolsOptions,
} from './haproxy-config';
export {
  checkLatencyMs,
  gateOnlyDetectMs,
  gateOnlyReadmitMs,
  gateOnlyWaits,
  type GateDetectOptions,
  type GateReadmitOptions,
  type GateWaitOptions,
  type GateWaits,
} from './gate-timing';
export {
  renderRoutingFrontend,
  routingLookupLines,
  routingMapFileList,
  routingMapFiles,
  type RenderRoutingFrontendOptions,
  type RoutingMapFiles,
} from './haproxy-routing';
