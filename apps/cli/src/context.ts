import type { RollgateClient } from './api-types';
import type { EditionRow } from './api-types';
import type { LiveWatch } from './live';
import type { Output } from './output';

/** What every command gets from main.ts: nothing reads the environment or the clock on its own. */
export interface CommandContext {
  client: RollgateClient;
  /** The coordinator base URL, for messages. */
  url: string;
  out: Output;
  /** The live run stream (upgrade.watch over SSE): what --wait, --watch and --follow read. */
  live: LiveWatch;
  now(): number;
  /** Waits; only between reconnection attempts (nothing polls a run). */
  sleep(ms: number): Promise<void>;
  /**
   * Streams an edition archive to the coordinator with progress on stderr (docs/adr/0036); null
   * when the coordinator has no streamed upload. Default none: `editions.upload` (base64) then.
   */
  streamEdition?: (
    file: string,
    fields: {
      app: string;
      name: string;
      description: string;
      dbUpgradeCommand?: string;
      sha256: string;
      size: number;
    },
    /** No progress lines (--json): a bar is drawn on a terminal only. Default false. */
    quiet?: boolean,
  ) => Promise<EditionRow | null>;
}

/** Flags shared by every read command. */
export interface JsonFlag {
  /** Print JSON only (no tables, no colour). Default false. */
  json?: boolean;
}
