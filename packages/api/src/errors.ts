import { TRPCError } from '@trpc/server';
import { PlanValidationError } from '@rollgate/domain';
import { EngineError, StoreConflictError } from '@rollgate/engine';

/** Error codes the services raise; the router maps them onto tRPC codes. */
export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'FORBIDDEN'
  | 'UNAUTHORIZED'
  | 'TOO_MANY_REQUESTS'
  | 'PAYLOAD_TOO_LARGE';

/** A per-field or per-rule detail of a refusal (e.g. a plan's validation issue). */
export interface ApiIssue {
  code: string;
  message: string;
  hint: string;
}

/**
 * An error whose message is meant for the operator: it says what is wrong and what to do.
 * `issues` carries per-field or per-rule details (e.g. a plan's validation issues).
 */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues: ApiIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Every refusal the domain, the engine and the services raise, by its code, and the tRPC code a
 * client sees for it: the one place an error is translated (docs/adr/0042). The services throw
 * their own errors as they are; the router's middleware and the upload route map them here.
 */
export const TRPC_CODE_OF = {
  // ApiError (services) and EngineError (engine commands) carry one of these already.
  BAD_REQUEST: 'BAD_REQUEST',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  FORBIDDEN: 'FORBIDDEN',
  UNAUTHORIZED: 'UNAUTHORIZED',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** StoreConflictError: a unique row that already exists (a name taken by a concurrent write). */
  STORE_CONFLICT: 'CONFLICT',
  /** PlanValidationError: a plan the domain refuses to compile; its issues say which rule. */
  PLAN_INVALID: 'BAD_REQUEST',
} as const satisfies Record<string, ApiErrorCode>;

export type DomainErrorCode = keyof typeof TRPC_CODE_OF;

/** The domain code of an error the API knows, or null for any other (a bug: an internal error). */
export function domainErrorCode(err: unknown): DomainErrorCode | null {
  if (err instanceof ApiError || err instanceof EngineError) return err.code;
  if (err instanceof StoreConflictError) return 'STORE_CONFLICT';
  if (err instanceof PlanValidationError) return 'PLAN_INVALID';
  return null;
}

/** The issues a refusal carries for the client (ApiError, PlanValidationError), else none. */
export function errorIssues(err: unknown): ApiIssue[] {
  return err instanceof ApiError || err instanceof PlanValidationError ? err.issues : [];
}

/** A known refusal as the TRPCError the client sees (same message, mapped code); null otherwise. */
export function toTRPCError(err: unknown): TRPCError | null {
  if (err instanceof TRPCError) return err;
  const code = domainErrorCode(err);
  if (!code) return null;
  return new TRPCError({ code: TRPC_CODE_OF[code], message: (err as Error).message, cause: err });
}
