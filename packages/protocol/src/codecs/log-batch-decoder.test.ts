import { loadAgentProtocol, type AgentMessage } from '../index';
import { describe, expect, it } from 'vitest';
import { decodeLogBatchMessage } from './log-batch-decoder';

const connect = loadAgentProtocol().rollgate.agent.v1.AgentService.service.Connect;
const bytes = (m: AgentMessage) => connect.requestSerialize(m);

describe('decodeLogBatchMessage', () => {
  it('reads a LogBatch exactly as the library does', () => {
    const messages: AgentMessage[] = [
      {
        logs: {
          streamId: 'st-1',
          lines: [
            {
              actionId: 'r1.s2.admin-1.a1',
              atMs: 1_790_000_000_123,
              level: 'LOG_LEVEL_INFO',
              code: 'RG0190I',
              message: 'hello',
              seq: 1,
            },
            {
              actionId: '',
              atMs: 0,
              level: 'LOG_LEVEL_ERROR',
              code: '',
              message: 'ünï ✓ 日本 '.repeat(50),
              seq: 2 ** 48,
            },
            { level: 'LOG_LEVEL_DEBUG', message: 'defaults elsewhere' },
            { level: 'LOG_LEVEL_WARN', code: 'RG0900W', message: '', seq: 127, atMs: 128 },
            { level: 'LOG_LEVEL_UNSPECIFIED' },
          ],
        },
      },
      { logs: { streamId: '', lines: [] } },
      {
        logs: {
          lines: Array.from({ length: 50 }, (_, i) => ({
            message: `line ${i}`,
            seq: i + 1,
            atMs: Date.now(),
          })),
        },
      },
    ];
    for (const m of messages) {
      const b = bytes(m);
      expect(decodeLogBatchMessage(b)).toEqual(connect.requestDeserialize(b));
    }
  });

  it('leaves every other message, and anything unexpected, to the library', () => {
    expect(decodeLogBatchMessage(bytes({ heartbeat: { seq: 5, sentAtMs: 5 } }))).toBeNull();
    expect(decodeLogBatchMessage(Buffer.alloc(0))).toBeNull();
    const ok = bytes({ logs: { streamId: 's', lines: [{ message: 'm', seq: 3 }] } });
    expect(decodeLogBatchMessage(ok)).not.toBeNull();
    // Cut short anywhere: not a LogBatch this decoder vouches for.
    for (let n = 1; n < ok.length; n++) expect(decodeLogBatchMessage(ok.subarray(0, n))).toBeNull();
    // A time before 1970 is a 10-byte varint; a level this version does not know; an unknown field.
    const negative = bytes({ logs: { lines: [{ atMs: -5, message: 'm' }] } });
    expect(decodeLogBatchMessage(negative)).toBeNull();
    expect(connect.requestDeserialize(negative).logs?.lines[0]?.atMs).toBe(-5);
    const line = (body: number[]) => Buffer.from([0x2a, body.length + 2, 0x0a, body.length, ...body]);
    expect(decodeLogBatchMessage(line([0x18, 9]))).toBeNull();
    expect(decodeLogBatchMessage(line([0x38, 1]))).toBeNull();
    expect(decodeLogBatchMessage(line([0x18, 2]))).toEqual(connect.requestDeserialize(line([0x18, 2])));
  });
  it('issue 17 item 2: a seq or at_ms of 2^63 and past is left to the library, whose number the gateway refuses', () => {
    const b = bytes({
      logs: { streamId: 'st', lines: [{ seq: 2 ** 63, atMs: 2 ** 63, message: 'poison' }] },
    });
    expect(decodeLogBatchMessage(b)).toBeNull();
    const lib = connect.requestDeserialize(b) as { logs: { lines: { seq: number; atMs: number }[] } };
    const [line] = lib.logs.lines;
    // Past 2^53 (seq, a uint64) or negative (at_ms, an int64 wrapped): never a safe stored value.
    expect(Number.isSafeInteger(line!.seq)).toBe(false);
    expect(Number.isSafeInteger(line!.atMs) && line!.atMs >= 0).toBe(false);
  });
});
