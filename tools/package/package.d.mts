/** Types of package.mjs (plain JavaScript so `npm run package` runs with `node`, no TypeScript loader). */
export declare const PACKAGES: readonly ['coordinator', 'agent', 'cli'];
export type PackageName = (typeof PACKAGES)[number];
/** Where the packages install their programs: /usr/lib/rollgate. */
export declare const LIB: string;
/** The root package.json's version. */
export declare function releaseVersion(): string;
export interface BuildPackagesOptions {
  /** What `npm run build` wrote; default <repo>/dist. */
  dist?: string;
  /** Where the .deb files go; default <dist>/deb. */
  out?: string;
  /** The packages' Debian version; default the root package.json's (e.g. 0.1.0, 0.1.0+test2). */
  version?: string;
  /** Default: all of PACKAGES. */
  only?: PackageName[];
  /** Package dist/web (the console) in rollgate-coordinator; default true. */
  withConsole?: boolean;
}
export interface BuildPackagesResult {
  version: string;
  /** The .deb path of each package built. */
  debs: Partial<Record<PackageName, string>>;
}
export declare function buildPackages(opts?: BuildPackagesOptions): BuildPackagesResult;
