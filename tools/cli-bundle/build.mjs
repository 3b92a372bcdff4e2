#!/usr/bin/env node
// Builds the `rollgate` CLI as two files that plain `node` runs (no TypeScript compilation at run
// time; docs/adr/0024):
//
//   node tools/cli-bundle/build.mjs [--out dist/cli] [--no-minify]
//
// writes <out>/rollgate.cjs (the entry: --version, with the release version and git commit
// injected), <out>/rollgate-program.cjs beside it (commander, the tRPC client, zod and the domain
// package bundled, required by the entry for every other command) and <out>/rollgate.inputs.json, the list of files it was
// built from, which run.mjs compares with the bundle's age to rebuild only when a source changed.
//
// CommonJS like the agent's bundle (tools/agent-bundle/build.mjs, whose zod plugin is reused), and
// for a second reason: esbuild wraps every module reached only through `import()` in a lazy
// initialiser, so `rollgate --version` evaluates none of commander, tRPC or zod (apps/cli/src/main.ts).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, zodEnglishOnly } from '../agent-bundle/build.mjs';

export const CLI_BUNDLE_NAME = 'rollgate.cjs';
/** The program (commander, the tRPC client, zod, every command) the entry loads on demand. */
export const CLI_PROGRAM_NAME = 'rollgate-program.cjs';
export const CLI_INPUTS_NAME = 'rollgate.inputs.json';
export const DEFAULT_CLI_OUT = join(ROOT, 'dist/cli');

/** The entry's `import('./program')` becomes a require of the program file beside the bundle. */
const programBeside = {
  name: 'program-beside',
  setup(build) {
    build.onResolve({ filter: /^\.\/program$/ }, () => ({ path: `./${CLI_PROGRAM_NAME}`, external: true }));
  },
};

/**
 * esbuild keeps the entry's `import()` of the external program, and node then loads a CommonJS
 * file through its ES module loader: the loader's start and a lexer pass over 350 KB for the
 * named exports, about 60 ms of CPU on every command. A plain require skips both; the promise keeps
 * the call asynchronous as the source wrote it.
 */
function requireProgram(entryText) {
  const dynamic = `import("./${CLI_PROGRAM_NAME}")`;
  const parts = entryText.split(dynamic);
  if (parts.length !== 2) {
    throw new Error(`cli-bundle: expected one ${dynamic} in the entry, found ${parts.length - 1}`);
  }
  return parts.join(`Promise.resolve().then(()=>require("./${CLI_PROGRAM_NAME}"))`);
}

function git(args) {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/**
 * Files whose change means the bundle is stale besides its sources: this script, the CLI's
 * package.json (the version) and git's HEAD and current branch ref (the commit it prints).
 */
function buildInputs() {
  const files = [fileURLToPath(import.meta.url), join(ROOT, 'apps/cli/package.json')];
  for (const ref of ['HEAD', git(['symbolic-ref', '-q', 'HEAD'])]) {
    if (!ref) continue;
    const p = git(['rev-parse', '--git-path', ref]);
    if (p && existsSync(resolve(ROOT, p))) files.push(resolve(ROOT, p));
  }
  return files;
}

/**
 * Bundles apps/cli/src/main.ts into `${outDir}/rollgate.cjs`. Written to a temporary file and
 * renamed, so a CLI started meanwhile (tests run several) never reads half a bundle.
 * @returns the bundle's path, its size in bytes, the commit and esbuild's warnings.
 */
export async function buildCliBundle({ outDir = DEFAULT_CLI_OUT, minify = true } = {}) {
  const esbuild = await import('esbuild');
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const bundle = join(out, CLI_BUNDLE_NAME);
  const version = JSON.parse(readFileSync(join(ROOT, 'apps/cli/package.json'), 'utf8')).version;
  const commit = git(['rev-parse', '--short=12', 'HEAD']) ?? 'unknown';
  const common = {
    write: false,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify,
    sourcemap: false,
    legalComments: 'none',
    define: {
      'import.meta.url': '__rollgate_bundle_url',
      ROLLGATE_CLI_VERSION: JSON.stringify(version),
      ROLLGATE_CLI_COMMIT: JSON.stringify(commit),
    },
    metafile: true,
    banner: {
      js: `#!/usr/bin/env node\n// rollgate ${version} (commit ${commit}), bundle of apps/cli\nvar __rollgate_bundle_url = require("url").pathToFileURL(__filename).href;`,
    },
    logLevel: 'silent',
  };
  // Two files: the entry (a few KiB) answers --version without node parsing the program's 330 KiB
  // (37 ms of a 150 ms budget); it requires the program beside it for every other command.
  const entry = await esbuild.build({
    ...common,
    entryPoints: [join(ROOT, 'apps/cli/src/main.ts')],
    outfile: bundle,
    plugins: [programBeside],
  });
  const result = await esbuild.build({
    ...common,
    entryPoints: [join(ROOT, 'apps/cli/src/program.ts')],
    outfile: join(out, CLI_PROGRAM_NAME),
    plugins: [zodEnglishOnly],
    // tRPC's httpLink asks `input instanceof FormData` on every call, and the first read of the
    // global FormData loads undici (about 30 ms of CPU) although the CLI calls over node:http
    // (apps/cli/src/http-fetch.ts) and never sends a form. A class of its own answers no as well.
    define: { ...common.define, FormData: '__rollgateNoFormData' },
    banner: { js: `${common.banner.js}\nvar __rollgateNoFormData = class FormData {};` },
  });
  // The program first: an entry renamed into place always finds the program it was built with.
  const programTmp = `${join(out, CLI_PROGRAM_NAME)}.${process.pid}.tmp`;
  writeFileSync(programTmp, result.outputFiles[0].contents, { mode: 0o644 });
  renameSync(programTmp, join(out, CLI_PROGRAM_NAME));
  result.metafile.inputs = { ...result.metafile.inputs, ...entry.metafile.inputs };
  const tmp = `${bundle}.${process.pid}.tmp`;
  writeFileSync(tmp, requireProgram(entry.outputFiles[0].text), { mode: 0o755 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, bundle);
  const inputs = [...Object.keys(result.metafile.inputs).map((p) => resolve(ROOT, p)), ...buildInputs()].map(
    (p) => relative(ROOT, p),
  );
  const inputsFile = join(out, CLI_INPUTS_NAME);
  writeFileSync(`${inputsFile}.${process.pid}.tmp`, JSON.stringify({ version, commit, inputs }, null, 1));
  renameSync(`${inputsFile}.${process.pid}.tmp`, inputsFile);
  return {
    bundle,
    bytes: statSync(bundle).size,
    version,
    commit,
    metafile: result.metafile,
    warnings: result.warnings.map((w) => `${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`),
  };
}

/**
 * Why the bundle in `outDir` must be (re)built, or null when it is up to date: missing, or older
 * than one of the files it was built from (a few hundred stat calls, ~2 ms).
 */
export function cliBundleStaleness(outDir = DEFAULT_CLI_OUT) {
  const bundle = join(outDir, CLI_BUNDLE_NAME);
  let built;
  let inputs;
  try {
    built = statSync(bundle).mtimeMs;
    inputs = JSON.parse(readFileSync(join(outDir, CLI_INPUTS_NAME), 'utf8')).inputs;
  } catch {
    return `${relative(ROOT, bundle)} is missing`;
  }
  for (const input of inputs) {
    let changed;
    try {
      changed = statSync(join(ROOT, input)).mtimeMs;
    } catch {
      return `${input} is gone`;
    }
    if (changed > built) return `${input} changed`;
  }
  return null;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'no-minify': { type: 'boolean' } } });
  const t0 = Date.now();
  const r = await buildCliBundle({
    ...(values.out ? { outDir: values.out } : {}),
    minify: !values['no-minify'],
  });
  for (const w of r.warnings) console.warn(`warning: ${w}`);
  console.log(
    `${r.bundle}: ${(r.bytes / 1024).toFixed(0)} KB in ${Date.now() - t0} ms (rollgate ${r.version}, commit ${r.commit})`,
  );
}
