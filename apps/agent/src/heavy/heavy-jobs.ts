// The jobs the agent's heavy-work child runs (heavy-worker.ts) and how they travel: a job goes to
// the child as one IPC message, the answer comes back as one. Shared by both sides; loads nothing.
import type { ArchiveLimits } from './archive-errors';

export type HeavyJob =
  /** Unpacks a gzip tar into an existing empty directory, within the limits. */
  | { kind: 'unpack'; archive: string; dest: string; limits: ArchiveLimits }
  /** Writes the bytes piped to the child's stdin to `file` (mode 0600), hashing them. */
  | { kind: 'receive'; file: string }
  /**
   * An edition in one child (docs/adr/0044): `receive` into `file`, then, only if the bytes' sha256
   * is `sha256`, `unpack` it into `dest`. Unpacking starts only once the agent has ended the input,
   * so a check the agent makes on the stream (a chunk labelled with another digest) still stops it.
   */
  | { kind: 'install'; file: string; sha256: string; dest: string; limits: ArchiveLimits }
  /** sha256 and size of a file. */
  | { kind: 'sha256'; file: string }
  /** Entries of a gzip tar (a backup's), within the limits. */
  | { kind: 'countEntries'; archive: string; limits: ArchiveLimits }
  /** A gzip tar of `paths` (relative to `cwd`) written to `file` (mode 0600). */
  | { kind: 'tarCreate'; file: string; cwd: string; paths: string[] };

export interface HeavyResults {
  unpack: { files: number; expandedBytes: number };
  receive: { sha256: string; bytes: number };
  /** `unpacked` is absent when the digest did not match: nothing was unpacked and `file` is removed. */
  install: { sha256: string; bytes: number; unpacked?: { files: number; expandedBytes: number } };
  sha256: { sha256: string; bytes: number };
  countEntries: { entries: number };
  tarCreate: { entries: number; sha256: string; bytes: number };
}

/** What the child answers. An error keeps its class name (and a limit refusal the limit). */
export type HeavyAnswer =
  | { ok: true; result: unknown }
  | { ok: false; error: { name: string; message: string; limit?: string; code?: unknown } };
