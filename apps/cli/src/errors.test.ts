import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT, explainError, isConnectionError, parseZodMessage } from './errors';

const URL = 'http://127.0.0.1:7400';

const trpcError = (code: string, message: string, issues: unknown[] = [], path = 'upgrade.plan') =>
  TRPCClientError.from({ error: { code: -32600, message, data: { code, httpStatus: 400, path, issues } } });

const networkError = (code: string, message: string) =>
  TRPCClientError.from(new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) }));

describe('parseZodMessage', () => {
  it('turns zod issues into flag: message pairs', () => {
    const message = JSON.stringify([
      { code: 'invalid_format', path: ['code'], message: 'a message code looks like RG0010I' },
      { code: 'too_small', path: ['drainageIntervalSec'], message: 'Too small: expected number to be >=0' },
      { code: 'custom', path: ['nested', 0, 'x'], message: 'bad' },
      { code: 'custom', path: [], message: 'whole input' },
    ]);
    expect(parseZodMessage(message)).toEqual([
      { path: '--code', message: 'a message code looks like RG0010I' },
      { path: '--drainage-interval', message: 'Too small: expected number to be >=0' },
      { path: 'nested.0.x', message: 'bad' },
      { path: '(input)', message: 'whole input' },
    ]);
  });
  it('returns null for anything else', () => {
    expect(parseZodMessage('No run "x".')).toBeNull();
    expect(parseZodMessage('[not json')).toBeNull();
    expect(parseZodMessage('[]')).toBeNull();
    expect(parseZodMessage('[1, 2]')).toBeNull();
  });
});

describe('explainError', () => {
  it('explains a refused connection with what to do, exit 2', () => {
    const e = explainError(networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:7400'), URL);
    expect(e).toEqual({
      message:
        'cannot reach the coordinator at http://127.0.0.1:7400: connect ECONNREFUSED 127.0.0.1:7400. Start it with `npm start` or pass --url.',
      exitCode: EXIT.connection,
    });
  });

  it('explains an unknown host and a timeout as connection failures', () => {
    expect(explainError(networkError('ENOTFOUND', 'getaddrinfo ENOTFOUND coord'), URL).exitCode).toBe(
      EXIT.connection,
    );
    const timeout = TRPCClientError.from(
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
    );
    expect(explainError(timeout, URL)).toMatchObject({
      exitCode: EXIT.connection,
      message: expect.stringContaining('did not answer in time'),
    });
  });

  it('says so when the URL points at something that is not a coordinator', () => {
    const e = explainError(TRPCClientError.from(new SyntaxError('Unexpected token <')), URL);
    expect(e.exitCode).toBe(EXIT.connection);
    expect(e.message).toContain('did not answer like a Rollgate coordinator');
  });

  it('prints zod field errors by flag', () => {
    const message = JSON.stringify([{ path: ['code'], message: 'a message code looks like RG0010I' }]);
    const e = explainError(trpcError('BAD_REQUEST', message, [], 'upgrade.logs'), URL);
    expect(e).toEqual({
      message: 'the coordinator rejected the request:\n  --code: a message code looks like RG0010I',
      exitCode: EXIT.usage,
    });
  });

  it('prints plan issues once, each with its hint', () => {
    const issues = [
      { code: 'NO_SERVERS', message: 'No servers in "x".', hint: 'Register them.' },
      { code: 'ROLE_SINGLE_SERVER', message: 'Role admin has one server.', hint: 'Add one.' },
    ];
    const joined = issues.map((i) => `${i.message} ${i.hint}`).join('\n');
    expect(explainError(trpcError('BAD_REQUEST', joined, issues), URL).message).toBe(
      [
        'the coordinator rejected the request:',
        '  - No servers in "x".',
        '    Register them.',
        '  - Role admin has one server.',
        '    Add one.',
      ].join('\n'),
    );
  });

  it('keeps a headline that is not just the issues', () => {
    const issues = [{ code: 'X', message: 'Field y is odd.', hint: 'Make it even.' }];
    expect(explainError(trpcError('BAD_REQUEST', 'Cannot upload.', issues), URL).message).toBe(
      'Cannot upload.\n  - Field y is odd.\n    Make it even.',
    );
  });

  it('passes NOT_FOUND and CONFLICT messages through, exit 1', () => {
    expect(explainError(trpcError('NOT_FOUND', 'No run "x".'), URL)).toEqual({
      message: 'No run "x".',
      exitCode: EXIT.usage,
    });
    expect(explainError(trpcError('CONFLICT', 'Edition exists.'), URL)).toEqual({
      message: 'Edition exists.',
      exitCode: EXIT.usage,
    });
  });

  it('recognises an older coordinator that lacks a procedure', () => {
    const e = explainError(
      trpcError('NOT_FOUND', 'No procedure found on path "audit.list"', [], 'audit.list'),
      URL,
    );
    expect(e.message).toContain('does not know "audit.list"');
  });

  it('passes CliError through with its exit code', () => {
    expect(explainError(new CliError('nope', 7), URL)).toEqual({ message: 'nope', exitCode: 7 });
  });

  it('explains an unreadable file', () => {
    const err = Object.assign(new Error("ENOENT: no such file or directory, stat 'x.tgz'"), {
      code: 'ENOENT',
      path: 'x.tgz',
    });
    expect(explainError(err, URL)).toEqual({
      message: "cannot read x.tgz: ENOENT: no such file or directory, stat 'x.tgz'",
      exitCode: EXIT.usage,
    });
  });
});

describe('isConnectionError', () => {
  it('is true only when no tRPC server answered', () => {
    expect(isConnectionError(networkError('ECONNREFUSED', 'connect ECONNREFUSED'))).toBe(true);
    expect(isConnectionError(trpcError('NOT_FOUND', 'No run'))).toBe(false);
    expect(isConnectionError(new Error('x'))).toBe(false);
  });
});
