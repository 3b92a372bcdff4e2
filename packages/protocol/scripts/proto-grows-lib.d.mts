/** Types of proto-grows-lib.mjs (plain JavaScript so `node` runs the check with no TypeScript loader). */
export interface FieldShape {
  name: string;
  /** A scalar's name or the full name of a message or enum. */
  type: string;
  /** 'singular' | 'optional' | 'repeated' | 'map<key type>' */
  label: string;
  oneof?: string;
}
export interface Reserved {
  numbers: [number, number][];
  names: string[];
}
export interface Contract {
  messages: Record<string, { fields: Record<string, FieldShape>; reserved: Reserved }>;
  enums: Record<string, { values: Record<string, number>; reserved: Reserved }>;
  services: Record<
    string,
    {
      rpcs: Record<
        string,
        { request: string; requestStream: boolean; response: string; responseStream: boolean }
      >;
    }
  >;
}
/** The snapshot of one self-contained .proto text (no imports). */
export declare function describeText(text: string): Contract;
/** Loads every .proto under `protoRoot` and describes each file, by its path relative to `protoRoot`. */
export declare function describeFiles(
  protoRoot: string,
  relFiles: string[],
  join: (...parts: string[]) => string,
): Record<string, Contract>;
/** All files' snapshots as one, by full name. */
export declare function merge(files: Record<string, Contract>): Contract;
/** What `now` breaks of `base`: one sentence per problem; empty when `now` only adds. */
export declare function compareContracts(base: Contract, now: Contract): string[];
