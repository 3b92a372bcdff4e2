// The check that the wire contract only grows (issue 15 item 4): pure fixtures, one per kind of
// change, against the comparison `npm test` runs on packages/protocol/proto (packages/protocol/scripts/proto-grows.mjs).
import { describe, expect, it } from 'vitest';
import { compareContracts, describeText } from '../scripts/proto-grows-lib.mjs';

const BASE = `
syntax = "proto3";
package t.v1;
service Agents {
  rpc Connect(stream Up) returns (stream Down);
  rpc Fetch(FetchRequest) returns (stream Chunk);
}
enum Gate {
  GATE_UNSPECIFIED = 0;
  GATE_OPEN = 1;
  GATE_CLOSED = 2;
}
message Up {
  oneof body {
    Hello hello = 1;
    Beat beat = 2;
  }
}
message Down { string note = 1; }
message Hello {
  string agent_id = 1;
  repeated string capabilities = 2;
  map<string, string> labels = 3;
  Gate gate = 4;
  reserved 9;
  reserved "legacy";
}
message Beat { uint64 at_ms = 1; }
message FetchRequest { string sha256 = 1; }
message Chunk { bytes data = 1; }
`;

/** BASE with one edit: `from` (which must occur once) replaced by `to`. */
function edit(from: string, to: string): string {
  expect(BASE.split(from)).toHaveLength(2);
  return BASE.replace(from, to);
}
const problems = (next: string) => compareContracts(describeText(BASE), describeText(next));

describe('the .proto only grows (issue 15 item 4)', () => {
  it('passes an unchanged contract and one that only adds (fields, values, messages, rpcs)', () => {
    expect(problems(BASE)).toEqual([]);
    const grown = edit(
      '  Gate gate = 4;\n',
      '  Gate gate = 4;\n  string zone = 5;\n  optional int32 weight = 6;\n',
    )
      .replace('  GATE_CLOSED = 2;\n', '  GATE_CLOSED = 2;\n  GATE_DRAIN = 3;\n')
      .replace('    Beat beat = 2;\n', '    Beat beat = 2;\n    Bye bye = 3;\n')
      .replace('message Beat', 'message Bye { string why = 1; }\nmessage Beat')
      .replace('  rpc Fetch(', '  rpc Ping(Beat) returns (Beat);\n  rpc Fetch(');
    expect(problems(grown)).toEqual([]);
  });

  it('passes a removed field whose number is reserved', () => {
    expect(
      problems(edit('  map<string, string> labels = 3;\n', '  reserved 3;\n  reserved "labels";\n')),
    ).toEqual([]);
  });

  it('fails a field removed without reserved', () => {
    expect(problems(edit('  map<string, string> labels = 3;\n', ''))).toEqual([
      'field 3 (labels) of t.v1.Hello was removed without `reserved 3; reserved "labels";`: add both so neither is reused',
    ]);
  });

  it('fails a field number reused by another field', () => {
    expect(problems(edit('  Gate gate = 4;\n', '  string region = 4;\n'))).toEqual([
      'field number 4 of t.v1.Hello is reused: it was t.v1.Gate gate, it is now string region; give the new field a new number',
    ]);
  });

  it('fails a field retyped or relabelled', () => {
    expect(problems(edit('  Gate gate = 4;\n', '  int32 gate = 4;\n'))).toEqual([
      'field 4 (gate) of t.v1.Hello is retyped: t.v1.Gate gate became int32 gate; add a new field with a new number instead',
    ]);
    expect(problems(edit('  repeated string capabilities = 2;\n', '  string capabilities = 2;\n'))).toEqual([
      'field 2 (capabilities) of t.v1.Hello is retyped: repeated string capabilities became string capabilities; add a new field with a new number instead',
    ]);
  });

  it('fails a field moved out of its oneof', () => {
    expect(problems(edit('    Beat beat = 2;\n  }\n', '  }\n  Beat beat = 2;\n'))).toEqual([
      'field 2 (beat) of t.v1.Up moved out of oneof body: older peers read it differently',
    ]);
  });

  it('fails a reserved number reused, or un-reserved', () => {
    expect(problems(edit('  reserved 9;\n', '  reserved 10;\n  string nine = 9;\n'))).toEqual([
      'field 9 (nine) of t.v1.Hello reuses a reserved number: pick a new one',
      't.v1.Hello no longer reserves 9: keep it reserved',
    ]);
    expect(problems(edit('  reserved "legacy";\n', ''))).toEqual([
      't.v1.Hello no longer reserves the name "legacy": keep it reserved',
    ]);
  });

  it('fails an enum value removed, renumbered or its number reused', () => {
    expect(problems(edit('  GATE_CLOSED = 2;\n', ''))).toEqual([
      'enum value t.v1.Gate.GATE_CLOSED (2) was removed without `reserved 2; reserved "GATE_CLOSED";`: keep it, or reserve both',
    ]);
    expect(problems(edit('  GATE_CLOSED = 2;\n', '  GATE_CLOSED = 3;\n'))).toEqual([
      'enum value t.v1.Gate.GATE_CLOSED is renumbered from 2 to 3: a number keeps its meaning',
    ]);
    expect(problems(edit('  GATE_CLOSED = 2;\n', '  GATE_SHUT = 2;\n'))).toEqual([
      'enum value t.v1.Gate.GATE_CLOSED (2) was removed without `reserved 2; reserved "GATE_CLOSED";`: keep it, or reserve both',
      'enum value t.v1.Gate.GATE_SHUT reuses 2, which was GATE_CLOSED: give it a new number',
    ]);
  });

  it('fails a message, an enum, an rpc or a service removed', () => {
    expect(
      problems(
        edit('message Down { string note = 1; }\n', 'message Down2 { string note = 1; }\n').replace(
          'stream Down)',
          'stream Down2)',
        ),
      ),
    ).toEqual([
      'message t.v1.Down was removed: keep it (mark it deprecated) so older peers still parse it',
      'rpc t.v1.Agents.Connect changed its types: (stream t.v1.Up) returns (stream t.v1.Down) became (stream t.v1.Up) returns (stream t.v1.Down2); add a new rpc instead',
    ]);
    expect(problems(edit('  rpc Fetch(FetchRequest) returns (stream Chunk);\n', ''))).toEqual([
      'rpc t.v1.Agents.Fetch was removed: keep it so older peers can still call it',
    ]);
    const noService = BASE.replace(/service Agents \{[^}]*\}\n/, '');
    expect(problems(noService)).toEqual([
      'service t.v1.Agents was removed: keep it so older peers can still call it',
    ]);
    const noEnum = edit('  Gate gate = 4;\n', '  reserved 4;\n').replace(/enum Gate \{[^}]*\}\n/, '');
    expect(problems(noEnum)).toEqual([
      'enum t.v1.Gate was removed: keep it so older peers still read its values',
    ]);
  });

  it('fails an rpc whose streaming changed', () => {
    expect(problems(edit('returns (stream Chunk)', 'returns (Chunk)'))).toEqual([
      'rpc t.v1.Agents.Fetch changed its types: (t.v1.FetchRequest) returns (stream t.v1.Chunk) became (t.v1.FetchRequest) returns (t.v1.Chunk); add a new rpc instead',
    ]);
  });
});
