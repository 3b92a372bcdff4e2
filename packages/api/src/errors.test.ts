import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { PlanValidationError } from '@rollgate/domain';
import { EngineError, StoreConflictError } from '@rollgate/engine';
import {
  ApiError,
  TRPC_CODE_OF,
  domainErrorCode,
  errorIssues,
  toTRPCError,
  type ApiErrorCode,
  type DomainErrorCode,
} from './errors';

/** One error of each domain code, raised the way the services and the engine raise it. */
const SAMPLES: Record<DomainErrorCode, Error> = {
  BAD_REQUEST: new ApiError('BAD_REQUEST', 'bad'),
  NOT_FOUND: new EngineError('NOT_FOUND', 'No run "r-1".'),
  CONFLICT: new EngineError('CONFLICT', 'taken'),
  PRECONDITION_FAILED: new EngineError('PRECONDITION_FAILED', 'not now'),
  FORBIDDEN: new ApiError('FORBIDDEN', 'no'),
  UNAUTHORIZED: new ApiError('UNAUTHORIZED', 'who?'),
  TOO_MANY_REQUESTS: new ApiError('TOO_MANY_REQUESTS', 'slow down'),
  PAYLOAD_TOO_LARGE: new ApiError('PAYLOAD_TOO_LARGE', 'too big'),
  STORE_CONFLICT: new StoreConflictError('edition demo-app/1.0 exists'),
  PLAN_INVALID: new PlanValidationError([{ code: 'GROUP_SIZE_TOO_LARGE', message: 'm', hint: 'h' }]),
};

const HTTP: Record<ApiErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
};

describe('the one error table (issue 15 item 2)', () => {
  it.each(Object.keys(TRPC_CODE_OF) as DomainErrorCode[])(
    'maps %s to its tRPC code and HTTP status, keeping the message and the cause',
    (code) => {
      const err = SAMPLES[code];
      expect(domainErrorCode(err)).toBe(code);
      const mapped = toTRPCError(err);
      expect(mapped).toBeInstanceOf(TRPCError);
      expect(mapped?.code).toBe(TRPC_CODE_OF[code]);
      expect(mapped?.message).toBe(err.message);
      expect(mapped?.cause).toBe(err);
      expect(getHTTPStatusCodeFromError(mapped!)).toBe(HTTP[TRPC_CODE_OF[code]]);
    },
  );

  it('maps an engine refusal straight to the code the engine chose (no ApiError in between)', () => {
    expect(toTRPCError(new EngineError('PRECONDITION_FAILED', 'the run has ended'))?.code).toBe(
      'PRECONDITION_FAILED',
    );
    expect(TRPC_CODE_OF.STORE_CONFLICT).toBe('CONFLICT');
    expect(TRPC_CODE_OF.PLAN_INVALID).toBe('BAD_REQUEST');
  });

  it('leaves an unknown error unmapped (an internal error) and a TRPCError as it is', () => {
    expect(domainErrorCode(new Error('boom'))).toBeNull();
    expect(toTRPCError(new Error('boom'))).toBeNull();
    expect(toTRPCError('a string')).toBeNull();
    const own = new TRPCError({ code: 'NOT_IMPLEMENTED', message: 'no' });
    expect(toTRPCError(own)).toBe(own);
  });

  it("carries a refusal's issues to the client, and none for other errors", () => {
    expect(errorIssues(SAMPLES.PLAN_INVALID).map((i) => i.code)).toEqual(['GROUP_SIZE_TOO_LARGE']);
    const gates = [{ code: 'backup', message: 'No backup.', hint: 'Take one.' }];
    expect(errorIssues(new ApiError('PRECONDITION_FAILED', 'blocked', gates))).toEqual(gates);
    expect(errorIssues(SAMPLES.NOT_FOUND)).toEqual([]);
  });
});
