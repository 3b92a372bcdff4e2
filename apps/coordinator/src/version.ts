import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Set by tools/build/build.mjs (esbuild `define`); absent when the sources run through tsx.
declare const ROLLGATE_RELEASE_VERSION: string | undefined;
declare const ROLLGATE_COMMIT: string | undefined;

/**
 * The release version (the root package.json's) and the git commit the coordinator was built
 * from, as `--version` prints it, e.g. `0.1.0 (commit 1a2b3c4d5e6f)`.
 */
export function versionLine(): string {
  if (typeof ROLLGATE_RELEASE_VERSION === 'string' && typeof ROLLGATE_COMMIT === 'string') {
    return `${ROLLGATE_RELEASE_VERSION} (commit ${ROLLGATE_COMMIT})`;
  }
  // From the sources: the checkout's release version, and its commit when git can tell.
  const version = (
    JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;
  let commit = 'unknown';
  try {
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
