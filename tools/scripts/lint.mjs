#!/usr/bin/env node
// The whole repository's lint in one ESLint process (docs/adr/0049).
//
//   node tools/scripts/lint.mjs
//
// `nx run-many -t lint` starts one `eslint .` per project: seventeen processes, each loading
// typescript-eslint and Nx's plugin again, for the same rules over the same config. One run from the
// root lints every project's files and also the files no project owns (tools/scripts, tools/build,
// the bundlers, the root configs).
//
// @nx/enforce-module-boundaries reads Nx's CACHED project graph and, in a fresh clone where none was
// written yet, skips itself with a mere warning. So the graph is computed (and cached) first; the
// check that follows in `npm test` (boundaries-check.mjs) proves the rule still bites.
import { createProjectGraphAsync } from '@nx/devkit';
import { ESLint } from 'eslint';

const root = new URL('../..', import.meta.url).pathname;
const started = Date.now();
await createProjectGraphAsync({ exitOnError: true });
const eslint = new ESLint({ cwd: root });
const results = await eslint.lintFiles(['.']);
const formatter = await eslint.loadFormatter('stylish');
const text = await formatter.format(results);
if (text) process.stdout.write(text);
const errors = results.reduce((n, r) => n + r.errorCount + r.fatalErrorCount, 0);
const warnings = results.reduce((n, r) => n + r.warningCount, 0);
console.log(
  `lint: ${results.length} files, ${errors} errors, ${warnings} warnings in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(errors > 0 ? 1 : 0);
