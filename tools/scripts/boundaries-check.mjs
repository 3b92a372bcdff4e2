#!/usr/bin/env node
// Proves the import rules of eslint.config.mjs bite (docs/adr/0041): lints small in-memory files
// placed in the domain, the engine and the console, and fails unless every forbidden import is
// reported and every allowed one is not. A rule that silently stopped matching (a renamed tag, an
// Nx upgrade that changes how external imports are resolved) would otherwise pass lint forever.
//
//   node tools/scripts/boundaries-check.mjs
import { ESLint } from 'eslint';

const root = new URL('../..', import.meta.url).pathname;

/** Each probe: a file path (never written), and per import whether lint must refuse it. */
const probes = [
  {
    file: 'packages/domain/src/zz-boundaries-probe.ts',
    imports: [
      ["import { z } from 'zod';", 'allowed'],
      ["import { readFileSync } from 'node:fs';", 'refused'],
      ["import { createHash } from 'crypto';", 'refused'],
      ["import { initTRPC } from '@trpc/server';", 'refused'],
      ["import { Command } from 'commander';", 'refused'],
    ],
  },
  {
    file: 'packages/engine/src/zz-boundaries-probe.ts',
    imports: [
      ["import { PHASES } from '@rollgate/domain';", 'allowed'],
      ["import { z } from 'zod';", 'allowed'],
      ["import * as grpc from '@grpc/grpc-js';", 'refused'],
      ["import { initTRPC } from '@trpc/server';", 'refused'],
      ["import { drizzle } from 'drizzle-orm/node-postgres';", 'refused'],
      ["import pg from 'pg';", 'refused'],
      ["import postgres from 'postgres';", 'refused'],
    ],
  },
  {
    file: 'apps/web/src/zz-boundaries-probe.ts',
    imports: [
      ["import { PHASE_LABEL } from '@rollgate/domain';", 'allowed'],
      ["import { createEngine } from '@rollgate/engine';", 'refused'],
    ],
  },
];

const eslint = new ESLint({ cwd: root });
const wrong = [];
for (const probe of probes) {
  const code = probe.imports.map(([line]) => line).join('\n') + '\n';
  const [result] = await eslint.lintText(code, { filePath: `${root}${probe.file}` });
  probe.imports.forEach(([line, expected], i) => {
    const hits = result.messages.filter(
      (m) =>
        m.line === i + 1 &&
        (m.ruleId === '@nx/enforce-module-boundaries' || m.ruleId === 'no-restricted-imports'),
    );
    const got = hits.length > 0 ? 'refused' : 'allowed';
    if (got !== expected) {
      wrong.push(
        `${probe.file}: ${line} was ${got}, should be ${expected}${hits.length ? ` (${hits[0].message})` : ''}`,
      );
    }
  });
  const fatal = result.messages.filter((m) => m.fatal);
  if (fatal.length) wrong.push(`${probe.file}: ${fatal[0].message}`);
}

if (wrong.length) {
  console.error(
    `module boundaries: ${wrong.length} import(s) not treated as the rules say:\n  ${wrong.join('\n  ')}`,
  );
  process.exit(1);
}
const n = probes.reduce((sum, p) => sum + p.imports.length, 0);
console.log(`module boundaries: ${n} probe imports treated as the rules say`);
