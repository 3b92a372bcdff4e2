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

/**
 * An error whose message is meant for the operator: it says what is wrong and what to do.
 * `issues` carries per-field or per-rule details (e.g. a plan's validation issues).
 */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues: { code: string; message: string; hint: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
