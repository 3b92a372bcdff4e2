import { loadAgentProtocol } from '../index';
import { describe, expect, it } from 'vitest';
import { createLogBatchEncoder } from './log-batch-encoder';

const connect = loadAgentProtocol().rollgate.agent.v1.AgentService.service.Connect;

describe('hand-encoded LogBatch', () => {
  it('decodes with the real protocol to the message grpc-js would have sent', () => {
    const lines = [
      { level: 'LOG_LEVEL_INFO' as const, code: 'RG0190I', message: 'service output ✓ 日本' },
      { level: 'LOG_LEVEL_ERROR' as const, code: 'RG0191E', message: 'x'.repeat(300) },
    ];
    const enc = createLogBatchEncoder(lines);
    const picks = [
      { line: 1, atMs: 1_790_000_000_123, seq: 1 },
      { line: 0, atMs: 0, seq: 127 },
      { line: 1, atMs: 2 ** 53 - 1, seq: 2 ** 40 + 5 },
    ];
    const decoded = connect.requestDeserialize(enc.encode('stream-ü', picks));
    const expected = {
      logs: {
        streamId: 'stream-ü',
        lines: picks.map((p) => ({
          actionId: '',
          atMs: String(p.atMs),
          level: lines[p.line]!.level,
          code: lines[p.line]!.code,
          message: lines[p.line]!.message,
          seq: String(p.seq),
        })),
      },
    };
    // Whatever the loader's defaults for longs and oneofs, the same object as the library's bytes.
    const viaLibrary = connect.requestDeserialize(connect.requestSerialize(expected as never));
    expect(decoded).toEqual(viaLibrary);
    expect(decoded.body).toBe('logs');
    expect(decoded.logs?.lines).toHaveLength(3);
    expect(String(decoded.logs?.lines[2]?.seq)).toBe(String(2 ** 40 + 5));
  });

  it('refuses a line it was not given', () => {
    expect(() => createLogBatchEncoder([]).encode('s', [{ line: 0, atMs: 1, seq: 1 }])).toThrow(/no line 0/);
  });
});
