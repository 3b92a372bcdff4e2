export { appRouter, type AppRouter, type RunView, type StepView } from './router';
export { ApiError, type ApiErrorCode } from './errors';
export type { ApiContext, ApiServices } from './services';
export * from './inputs';
