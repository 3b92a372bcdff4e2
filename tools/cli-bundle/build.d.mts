/** Types of build.mjs (plain JavaScript so it runs with `node`, no TypeScript loader needed). */
export declare const CLI_BUNDLE_NAME: string;
export declare const CLI_INPUTS_NAME: string;
/** <repo>/dist/cli. */
export declare const DEFAULT_CLI_OUT: string;
export interface CliBuildOptions {
  /** Where rollgate.cjs and rollgate.inputs.json go. Default: <repo>/dist/cli. */
  outDir?: string;
  /** Default true. */
  minify?: boolean;
}
export interface CliBuildResult {
  /** Absolute path of rollgate.cjs. */
  bundle: string;
  bytes: number;
  /** apps/cli/package.json's version and the 12-digit commit, as `--version` prints them. */
  version: string;
  commit: string;
  metafile: import('esbuild').Metafile;
  warnings: string[];
}
export declare function buildCliBundle(opts?: CliBuildOptions): Promise<CliBuildResult>;
/** Why the bundle in `outDir` must be rebuilt (missing, or a file it was built from changed), or null. */
export declare function cliBundleStaleness(outDir?: string): string | null;
