/** Types of build.mjs (plain JavaScript so it runs with `node`, no TypeScript loader needed). */
export declare const ROOT: string;
export declare const BUNDLE_NAME: string;
/** The heavy-work child's file name, beside the bundle (rollgate-agent-worker.cjs). */
export declare const WORKER_NAME: string;
/** Absolute path of the protocol package's agent.proto. */
export declare const AGENT_PROTO: string;
/** agent.proto as protobufjs JSON (INamespace), parsed as proto-loader parses it (camelCase fields). */
export declare function agentProtoJson(protoPath?: string): Record<string, unknown>;
/** esbuild plugin: zod's error messages in English only (its other locales left out of a bundle). */
export declare const zodEnglishOnly: import('esbuild').Plugin;
export interface BuildOptions {
  /** Where the bundle and its companions go. Default: <repo>/dist/agent. */
  outDir?: string;
  /** Default true. */
  minify?: boolean;
  /** Build as this agent version (Hello.agent_version, the banner); default apps/agent/package.json's. */
  version?: string;
  /** The commit `--version` prints; default the checkout's (gitCommit). */
  commit?: string;
}
export interface BuildResult {
  /** Absolute path of rollgate-agent.cjs. */
  bundle: string;
  bytes: number;
  /** The version and commit `--version` prints. */
  version: string;
  commit: string;
  /** Absolute path of rollgate-agent-worker.cjs (the heavy-work child), and its size. */
  worker: string;
  workerBytes: number;
  warnings: string[];
  /** esbuild's metafile: what each input contributes to the bundle. */
  metafile: import('esbuild').Metafile;
  workerMetafile: import('esbuild').Metafile;
}
/** The checkout's commit (12 hex digits), or "unknown" outside a git checkout. */
export declare function gitCommit(): string;
export declare function buildAgentBundle(opts?: BuildOptions): Promise<BuildResult>;
