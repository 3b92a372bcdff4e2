/** Types of build.mjs (plain JavaScript so `npm run build` runs with `node`, no TypeScript loader). */
export declare const TARGETS: readonly ['coordinator', 'cli', 'agent', 'web'];
export type Target = (typeof TARGETS)[number];
/** <repo>/dist. */
export declare const DEFAULT_OUT: string;
/** The coordinator bundle's file name in <out>/coordinator (main.cjs). */
export declare const COORDINATOR_BUNDLE: string;
/** The console's launcher in <out>/web (rollgate-console.cjs). */
export declare const CONSOLE_LAUNCHER: string;
/** The root package.json's version: the release every binary reports. */
export declare function releaseVersion(): string;
export interface BuildAllOptions {
  /** Default: <repo>/dist. */
  outDir?: string;
  /** Default: all of TARGETS. */
  targets?: Target[];
  /** Default true. */
  minify?: boolean;
  /** Progress lines (each target's duration, esbuild's warnings). Default: none. */
  log?: (line: string) => void;
}
export interface BuildAllResult {
  version: string;
  commit: string;
  coordinator?: { bundle: string; bytes: number; warnings: string[] };
  cli?: { bundle: string; bytes: number; warnings: string[] };
  agent?: { bundle: string; bytes: number; warnings: string[] };
  web?: { launcher: string; server: string };
}
export declare function buildAll(opts?: BuildAllOptions): Promise<BuildAllResult>;
