// The agent stream's hot message, decoded by hand. Log ingest runs on the coordinator's one thread,
// and protobufjs builds each LogLine twice (the decoded message, then its plain-object copy) with
// its longs read through a Long. Here each line is read once into the object the gateway reads.
// Anything this decoder does not expect (another message, an unknown field or enum value, a
// number past 2^53) is left to the library: decodeLogBatchMessage returns null, and the result is
// the same object either way (log-batch-decoder.test.ts compares them).
import type { AgentMessage__Output } from '../generated/rollgate/agent/v1/AgentMessage';
import type { LogLine__Output } from '../generated/rollgate/agent/v1/LogLine';

/** LogLevel of agent.proto, by number. */
const LEVELS = [
  'LOG_LEVEL_UNSPECIFIED',
  'LOG_LEVEL_DEBUG',
  'LOG_LEVEL_INFO',
  'LOG_LEVEL_WARN',
  'LOG_LEVEL_ERROR',
] as const;

/** Not a message this decoder takes: the library decodes it. */
class Unexpected extends Error {}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}
  /** A varint of at most 7 bytes (< 2^49, and so exact as a number); longer ones go to the library. */
  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw new Unexpected();
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
    throw new Unexpected();
  }
  string(): string {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw new Unexpected();
    this.pos += n;
    return n === 0 ? '' : this.buf.toString('utf8', start, start + n);
  }
}

function decodeLine(r: Reader, end: number): LogLine__Output {
  const line: LogLine__Output = {
    actionId: '',
    atMs: 0,
    level: 'LOG_LEVEL_UNSPECIFIED',
    code: '',
    message: '',
    seq: 0,
  };
  if (end > r.end) throw new Unexpected();
  const inner = new Reader(r.buf, r.pos, end);
  while (inner.pos < end) {
    switch (inner.varint()) {
      case 0x0a: // action_id
        line.actionId = inner.string();
        break;
      case 0x10: // at_ms
        line.atMs = inner.varint();
        break;
      case 0x18: {
        const level = LEVELS[inner.varint()];
        if (!level) throw new Unexpected();
        line.level = level;
        break;
      }
      case 0x22: // code
        line.code = inner.string();
        break;
      case 0x2a: // message
        line.message = inner.string();
        break;
      case 0x30: // seq
        line.seq = inner.varint();
        break;
      default:
        throw new Unexpected();
    }
  }
  r.pos = end;
  return line;
}

/**
 * An AgentMessage that holds a LogBatch and nothing else, as the library would decode it with the
 * protocol's loader options; null for anything else.
 */
export function decodeLogBatchMessage(buf: Buffer): AgentMessage__Output | null {
  // AgentMessage.logs is field 5, length-delimited: tag 0x2a.
  if (buf.length === 0 || buf[0] !== 0x2a) return null;
  try {
    const top = new Reader(buf, 1, buf.length);
    const n = top.varint();
    if (top.pos + n !== buf.length) return null;
    const r = new Reader(buf, top.pos, buf.length);
    const lines: LogLine__Output[] = [];
    let streamId = '';
    while (r.pos < r.end) {
      const tag = r.varint();
      if (tag === 0x0a) {
        const len = r.varint();
        lines.push(decodeLine(r, r.pos + len));
      } else if (tag === 0x12) streamId = r.string();
      else return null;
    }
    return { logs: { lines, streamId }, body: 'logs' } as AgentMessage__Output;
  } catch (err) {
    if (err instanceof Unexpected) return null;
    throw err;
  }
}
