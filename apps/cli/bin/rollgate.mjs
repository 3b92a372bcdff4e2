#!/usr/bin/env node
// `npx rollgate …` in a checkout: the bundled CLI, rebuilt first when a source changed
// (tools/cli-bundle/run.mjs; docs/adr/0024). An installed CLI is dist/cli/rollgate.cjs itself.
// The launcher is a build tool, not a library the CLI's code depends on: only this script reaches it.
// eslint-disable-next-line @nx/enforce-module-boundaries
await import('../../../tools/cli-bundle/run.mjs');
