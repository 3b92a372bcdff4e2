import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AGENT_VERSION } from './version';

// Set by tools/agent-bundle/build.mjs (esbuild `define`); absent when the sources run through tsx.
// Kept out of version.ts, which the bundle build may replace to build as another version.
declare const ROLLGATE_AGENT_COMMIT: string | undefined;

/** The agent's version and the git commit it was built from, e.g. `0.1.0 (commit 1a2b3c4d5e6f)`. */
export function versionLine(): string {
  if (typeof ROLLGATE_AGENT_COMMIT === 'string') return `${AGENT_VERSION} (commit ${ROLLGATE_AGENT_COMMIT})`;
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
  return `${AGENT_VERSION} (commit ${commit}, from source)`;
}
