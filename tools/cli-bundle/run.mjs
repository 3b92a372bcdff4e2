#!/usr/bin/env node
// `npm run rollgate -- …` and `npx rollgate …` in a checkout: runs the bundled CLI (dist/cli/
// rollgate.cjs), building it first when it is missing or older than a file it was built from, so a
// checkout never runs a stale CLI and never compiles TypeScript at run time (docs/adr/0024).
//
//   node tools/cli-bundle/run.mjs servers --json
//
// The bundle runs in this process (no second node start-up): it reads process.argv as it is.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { buildCliBundle, cliBundleStaleness, CLI_BUNDLE_NAME, DEFAULT_CLI_OUT } from './build.mjs';

const stale = cliBundleStaleness();
if (stale !== null) {
  // Said on a terminal only: scripts and tests read stderr for the command's own messages.
  if (process.stderr.isTTY) process.stderr.write(`rollgate: building the CLI bundle (${stale})…\n`);
  const r = await buildCliBundle();
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
}
createRequire(import.meta.url)(join(DEFAULT_CLI_OUT, CLI_BUNDLE_NAME));
