export { appRouter, type AppRouter } from './router';
export {
  createQueries,
  type QueriesOptions,
  type QueryServices,
  type QueryStore,
  type RunView,
  type StepView,
} from './queries';
export type { EditionState, ServersPage } from './console-views';
export {
  ApiError,
  TRPC_CODE_OF,
  domainErrorCode,
  errorIssues,
  toTRPCError,
  type ApiErrorCode,
  type ApiIssue,
  type DomainErrorCode,
} from './errors';
export { createRunChanges, storeWithRunChanges, type RunChanges, type RunFollower } from './run-changes';
export type {
  ApiContext,
  ApiServices,
  AuthServices,
  Principal,
  EvidenceView,
  GatePreview,
  LbConfigured,
  LbView,
  LbTrafficView,
  PlanPreview,
  PortalLinkView,
  PortalServices,
  RollbackOptionView,
  RoutesView,
} from './api-services';
export * from './inputs';
export {
  DEFAULT_TOKEN_TTL_SECONDS,
  MAX_LIVE_TOKENS,
  MAX_TOKEN_TTL_SECONDS,
  MIN_TOKEN_TTL_SECONDS,
  SERVICE_TOKEN_PREFIX,
  tokenCreateInput,
  tokenRef,
  type ServiceTokenScope,
  type ServiceTokenServices,
  type ServiceTokenView,
  type TokenCreateInput,
} from './tokens-router';
export type { PortalView } from './portal-view';
export {
  DEFAULT_EMAIL_EVENTS,
  MAX_SUBSCRIPTIONS_PER_CLUSTER,
  NOTIFY_EVENTS,
  notifyDeliveriesInput,
  notifyListInput,
  notifyPortalLinkInput,
  notifyRef,
  notifySubscribeInput,
  type NotifyDeliveriesInput,
  type NotifyDeliveryView,
  type NotifyEvent,
  type NotifyPortalLinkInput,
  type NotifyServices,
  type NotifySubscribeInput,
  type NotifySubscriptionView,
} from './notify-router';
