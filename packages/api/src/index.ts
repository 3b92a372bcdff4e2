export { appRouter, type AppRouter, type RunView, type StepView } from './router';
export type { EditionState, ServersPage } from './console-views';
export { ApiError, type ApiErrorCode } from './errors';
export type {
  ApiContext,
  ApiServices,
  EvidenceView,
  GatePreview,
  LbView,
  PlanPreview,
  RollbackOptionView,
} from './services';
export * from './inputs';
