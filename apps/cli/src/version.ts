import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Set by tools/cli-bundle/build.mjs (esbuild `define`); absent when the sources run through tsx.
declare const ROLLGATE_CLI_VERSION: string | undefined;
declare const ROLLGATE_CLI_COMMIT: string | undefined;

/** The release version and the git commit the CLI was built from, e.g. `0.1.0 (commit 1a2b3c4d5e6f)`. */
export function versionLine(): string {
  if (typeof ROLLGATE_CLI_VERSION === 'string' && typeof ROLLGATE_CLI_COMMIT === 'string') {
    return `${ROLLGATE_CLI_VERSION} (commit ${ROLLGATE_CLI_COMMIT})`;
  }
  // From the sources: the package's version, and the checkout's commit when git can tell.
  const version = (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  let commit = 'unknown';
  try {
    // Loaded here only: the bundle's --version (the branch above) must not pay for child_process.
    const { execFileSync } = process.getBuiltinModule('node:child_process');
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    // Not a checkout (or no git): the version alone still says which release.
  }
  return `${version} (commit ${commit}, from source)`;
}
