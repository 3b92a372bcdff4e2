export { appRouter, type AppRouter, type RunView, type StepView } from './router';
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
