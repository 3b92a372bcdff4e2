#!/usr/bin/env node
// Builds the agent as ONE file for servers that have Node.js and nothing else:
//
//   node tools/agent-bundle/build.mjs [--out dist/agent]
//
// writes <out>/rollgate-agent.cjs (everything bundled: grpc-js, protobufjs, zod, pino, tar, and
// agent.proto already parsed), the systemd unit and the example config.
// Run it as `node <out>/rollgate-agent.cjs --config /etc/rollgate/agent.json`.
//
// CommonJS on purpose: grpc-js bundled as ESM crashes (`Dynamic require of "process"`) unless a
// createRequire banner is added; pino is used without transports (plain JSON to stdout), which
// survive bundling. See /work/shared/STACK-NOTES.md ("grpc-js, bundling the agent").
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
export const BUNDLE_NAME = 'rollgate-agent.cjs';
/**
 * The agent's heavy-work child (apps/agent/src/heavy/heavy-worker.ts: unpack, checksum, download,
 * backups; docs/adr/0016), a second file beside the bundle: `tar` and the zlib pipelines live only
 * there, so the resident agent never carries them.
 */
export const WORKER_NAME = 'rollgate-agent-worker.cjs';
export const AGENT_PROTO = join(ROOT, 'packages/protocol/proto/rollgate/agent/v1/agent.proto');

/**
 * agent.proto as protobufjs JSON, parsed as @grpc/proto-loader parses it for the agent (camelCase
 * field names: LOADER_OPTIONS.keepCase is false). The bundle embeds it (apps/agent/src/
 * coordinator/agent-service-client.ts), so the agent neither parses the .proto nor loads proto-loader at start.
 */
export function agentProtoJson(protoPath = AGENT_PROTO) {
  // protobufjs is what proto-loader parses with: resolve the same copy.
  const requireFromLoader = createRequire(createRequire(import.meta.url).resolve('@grpc/proto-loader'));
  const { Root } = requireFromLoader('protobufjs');
  const root = new Root();
  root.loadSync(protoPath, { keepCase: false });
  root.resolveAll();
  return root.toJSON();
}

/**
 * Nothing of @grpc/proto-loader runs in the bundle (the protocol comes embedded), but
 * @rollgate/protocol imports it: marked free of side effects, esbuild leaves it out rather than
 * load it (and the common .proto files it registers) at every start.
 */
const protoLoaderUnused = {
  name: 'proto-loader-unused',
  setup(build) {
    build.onResolve({ filter: /^@grpc\/proto-loader$/ }, async (args) => {
      if (args.pluginData?.again) return undefined;
      const r = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: { again: true },
      });
      return { ...r, sideEffects: false };
    });
  },
};

/**
 * Bundles apps/agent/src/main.ts into `${outDir}/rollgate-agent.cjs` and copies what it needs beside it.
 * @returns the bundle's path, its size in bytes and esbuild's warnings.
 */
/**
 * zod's `z` namespace carries every locale's error messages (~250 KB of the bundle's ~1.1 MB, ~100
 * modules evaluated at start). The agent only ever reports in English, zod's default: keep `en`.
 */
export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";\n',
      loader: 'js',
    }));
  },
};

/**
 * Builds the agent under another version than apps/agent's (what Hello.agent_version and the banner
 * say): the fleet tests upgrade an agent in place to a newer build without editing the sources.
 */
const agentVersion = (version) => ({
  name: 'agent-version',
  setup(build) {
    build.onLoad({ filter: /[\\/]apps[\\/]agent[\\/]src[\\/]version\.ts$/ }, () => ({
      contents: `export const AGENT_VERSION = ${JSON.stringify(version)};\n`,
      loader: 'ts',
    }));
  },
});

/** The checkout's commit (12 hex digits) that `--version` prints, or "unknown" outside a git checkout. */
export function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * `version`: build as this agent version (default apps/agent/package.json's, which version.ts repeats).
 * `commit`: the commit `--version` prints (default the checkout's, see gitCommit).
 */
export async function buildAgentBundle({
  outDir = join(ROOT, 'dist/agent'),
  minify = true,
  version: asVersion,
  commit = gitCommit(),
} = {}) {
  const esbuild = await import('esbuild');
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const bundle = join(out, BUNDLE_NAME);
  const version =
    asVersion ?? JSON.parse(readFileSync(join(ROOT, 'apps/agent/package.json'), 'utf8')).version;
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'apps/agent/src/main.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify,
    sourcemap: false,
    legalComments: 'none',
    // import.meta does not exist in CommonJS: make import.meta.url this file's URL, so code that
    // locates files from it (the protocol package's default proto path) points beside the bundle.
    define: {
      'import.meta.url': '__rollgate_bundle_url',
      ROLLGATE_AGENT_PROTO_EMBEDDED: 'true',
      ROLLGATE_AGENT_PROTO_JSON: JSON.stringify(agentProtoJson()),
      ROLLGATE_AGENT_WORKER_FILE: JSON.stringify(WORKER_NAME),
      ROLLGATE_AGENT_COMMIT: JSON.stringify(commit),
    },
    plugins: [protoLoaderUnused, zodEnglishOnly, ...(asVersion ? [agentVersion(asVersion)] : [])],
    metafile: true,
    banner: {
      js: `#!/usr/bin/env node\n// rollgate-agent ${version} (commit ${commit}, single-file bundle)\nvar __rollgate_bundle_url = require("url").pathToFileURL(__filename).href;`,
    },
    logLevel: 'silent',
  });
  chmodSync(bundle, 0o755);
  const worker = join(out, WORKER_NAME);
  const workerResult = await esbuild.build({
    entryPoints: [join(ROOT, 'apps/agent/src/heavy/heavy-worker.ts')],
    outfile: worker,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify,
    sourcemap: false,
    legalComments: 'none',
    define: { 'import.meta.url': '__rollgate_bundle_url' },
    metafile: true,
    banner: {
      js: `// rollgate-agent ${version} heavy-work child (started by ${BUNDLE_NAME}, not by hand)\nvar __rollgate_bundle_url = require("url").pathToFileURL(__filename).href;`,
    },
    logLevel: 'silent',
  });
  copyFileSync(join(here, 'rollgate-agent.service'), join(out, 'rollgate-agent.service'));
  copyFileSync(join(here, 'agent.example.json'), join(out, 'agent.example.json'));
  return {
    bundle,
    bytes: statSync(bundle).size,
    version,
    commit,
    worker,
    workerBytes: statSync(worker).size,
    metafile: result.metafile,
    workerMetafile: workerResult.metafile,
    warnings: [...result.warnings, ...workerResult.warnings].map(
      (w) => `${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`,
    ),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'no-minify': { type: 'boolean' } } });
  const t0 = Date.now();
  const r = await buildAgentBundle({
    ...(values.out ? { outDir: values.out } : {}),
    minify: !values['no-minify'],
  });
  for (const w of r.warnings) console.warn(`warning: ${w}`);
  console.log(
    `${r.bundle}: ${(r.bytes / 1024 / 1024).toFixed(2)} MB in ${Date.now() - t0} ms (+ ${WORKER_NAME} ${(r.workerBytes / 1024).toFixed(0)} KB, rollgate-agent.service, agent.example.json)`,
  );
}
