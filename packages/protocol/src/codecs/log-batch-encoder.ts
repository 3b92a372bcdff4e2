// The load generator's LogBatch messages, encoded by hand. In the logs bench the simulated agents
// share the 2 cores with the coordinator and PostgreSQL; building every line as an object for
// protobufjs to encode cost them ~5 µs a line, about as much as the coordinator and the database
// together spend storing it, so the generator, not the product, set the figure. These are the
// bytes grpc-js would send for the same AgentMessage (log-batch-encoder.test.ts decodes them with
// the real protocol); the coordinator cannot tell the difference.

/** LogLevel values of agent.proto. */
const LEVEL = { LOG_LEVEL_DEBUG: 1, LOG_LEVEL_INFO: 2, LOG_LEVEL_WARN: 3, LOG_LEVEL_ERROR: 4 } as const;

export interface EncodedLine {
  level: keyof typeof LEVEL;
  code: string;
  message: string;
}

/** A non-negative integer below 2^53 as a protobuf varint. */
function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function lengthDelimited(tag: number, body: Buffer): Buffer {
  const head: number[] = [tag];
  varint(head, body.length);
  return Buffer.concat([Buffer.from(head), body]);
}

/**
 * Encodes `AgentMessage { logs: LogBatch { lines, stream_id } }` for lines drawn from a fixed set
 * (`lines[i]`'s level, code and message are encoded once); each line adds its time and seq.
 */
export function createLogBatchEncoder(lines: readonly EncodedLine[]): {
  encode(streamId: string, picks: readonly { line: number; atMs: number; seq: number }[]): Buffer;
} {
  // LogLine fields 3 (level), 4 (code), 5 (message); action_id (1) is empty, so absent in proto3.
  const fixed = lines.map((l) =>
    Buffer.concat([
      Buffer.from([0x18, LEVEL[l.level]]),
      lengthDelimited(0x22, Buffer.from(l.code, 'utf8')),
      lengthDelimited(0x2a, Buffer.from(l.message, 'utf8')),
    ]),
  );
  return {
    encode(streamId, picks) {
      const parts: Buffer[] = [];
      for (const p of picks) {
        const body = fixed[p.line];
        if (!body) throw new RangeError(`no line ${p.line}`);
        const head: number[] = [0x10]; // at_ms (2)
        varint(head, p.atMs);
        const tail: number[] = [0x30]; // seq (6)
        varint(tail, p.seq);
        const n = head.length + body.length + tail.length;
        const prefix: number[] = [0x0a]; // LogBatch.lines (1)
        varint(prefix, n);
        parts.push(Buffer.from(prefix), Buffer.from(head), body, Buffer.from(tail));
      }
      parts.push(lengthDelimited(0x12, Buffer.from(streamId, 'utf8'))); // LogBatch.stream_id (2)
      return lengthDelimited(0x2a, Buffer.concat(parts)); // AgentMessage.logs (5)
    },
  };
}
