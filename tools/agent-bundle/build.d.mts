/** Types of build.mjs (plain JavaScript so it runs with `node`, no TypeScript loader needed). */
export declare const ROOT: string;
export declare const BUNDLE_NAME: string;
export interface BuildOptions {
  /** Where the bundle and its companions go. Default: <repo>/dist/agent. */
  outDir?: string;
  /** Default true. */
  minify?: boolean;
}
export interface BuildResult {
  /** Absolute path of rollgate-agent.cjs. */
  bundle: string;
  bytes: number;
  warnings: string[];
}
export declare function buildAgentBundle(opts?: BuildOptions): Promise<BuildResult>;
