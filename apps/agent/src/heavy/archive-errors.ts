// The archive refusals and the limits that bound an unpack, in a module of their own: the resident
// agent needs them (to word a refusal, to pass the limits to its heavy-work child) but must not load
// `tar` and zlib pipelines (archive.ts), which only the child does.

/** The archive was refused; the message names the entry (or the limit) and why, for the operator. */
export class ArchiveRefusedError extends Error {
  override name = 'ArchiveRefusedError';
}

/** Which setting of the agent config a limit refusal names. */
export type LimitName =
  'maxExpandedBytes' | 'maxExpansionRatio' | 'maxEntries' | 'maxPathLength' | 'freeSpaceMarginBytes';

/** A refusal because the archive (or the disk) is past a limit: the message names it and its figure. */
export class ArchiveLimitError extends ArchiveRefusedError {
  override name = 'ArchiveLimitError';
  constructor(
    message: string,
    readonly limit: LimitName,
  ) {
    super(message);
  }
}

/** Bounds on what one archive may cost the server; the agent config's `limits` (config.ts). */
export interface ArchiveLimits {
  /** Total bytes the archive may expand to (entries' declared sizes, and the inflated stream). */
  maxExpandedBytes: number;
  /** Expanded bytes per compressed byte; ignored below RATIO_FLOOR_BYTES of expanded data. */
  maxExpansionRatio: number;
  /** Entries (files, directories, links) in one archive. */
  maxEntries: number;
  /** Characters in one entry's path (and a link's target). */
  maxPathLength: number;
  /** Free space left on the data directory's file system after the unpack. */
  freeSpaceMarginBytes: number;
}

/**
 * The defaults (docs/adr/0016): a 2 GiB WAR/JDK bundle of ~50k files passes with room to spare;
 * a 20 MB archive expanding to 20 GiB does not.
 */
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxExpandedBytes: 8 * 1024 ** 3,
  maxExpansionRatio: 200,
  maxEntries: 200_000,
  maxPathLength: 4096,
  freeSpaceMarginBytes: 512 * 1024 ** 2,
};

/**
 * Below this many expanded bytes the ratio is not checked: a tiny archive of a few small, very
 * compressible files (a tar is at least 10 KiB of mostly zeros) has a high ratio and hurts no one.
 */
export const RATIO_FLOOR_BYTES = 64 * 1024 ** 2;

// The domain's one size format; by its own entry so the heavy-work child loads no zod schemas.
export { formatBytes } from '@rollgate/domain/bytes';
