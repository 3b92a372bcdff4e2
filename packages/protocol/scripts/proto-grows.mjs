#!/usr/bin/env node
// Checks that every packages/protocol/proto/**/*.proto only grows against the recorded baseline
// (packages/protocol/proto-baseline/**/*.json, one snapshot per .proto). `npm test` runs it in its
// checks tier. `--write` (npm run proto:baseline) records the current files as the new baseline:
// run it after adding to the contract (a new .proto, message, field, enum value or rpc) and commit
// the snapshot with the change; never to make a breaking change pass (docs/adr/0034).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { compareContracts, describeFiles, merge } from './proto-grows-lib.mjs';

const root = new URL('../../..', import.meta.url).pathname;
const protoRoot = join(root, 'packages/protocol/proto');
const baselineRoot = join(root, 'packages/protocol/proto-baseline');
const write = process.argv.includes('--write');

function list(dir, ext) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ext))
    .sort();
}

const protos = list(protoRoot, '.proto');
const current = describeFiles(protoRoot, protos, join);
const snapshotPath = (proto) => join(baselineRoot, proto.replace(/\.proto$/, '.json'));

if (write) {
  rmSync(baselineRoot, { recursive: true, force: true });
  for (const proto of protos) {
    const file = snapshotPath(proto);
    mkdirSync(dirname(file), { recursive: true });
    const snapshot = current[proto] ?? { messages: {}, enums: {}, services: {} };
    writeFileSync(file, `${JSON.stringify({ proto, ...snapshot }, null, 2)}\n`);
    console.log(`recorded ${relative(root, file)}`);
  }
  // In the repository's format, so the format check passes on what was recorded.
  execFileSync(join(root, 'node_modules/.bin/prettier'), ['--write', '--log-level=warn', baselineRoot], {
    stdio: 'inherit',
  });
  process.exit(0);
}

const baseline = {};
for (const snap of list(baselineRoot, '.json')) {
  const { proto, ...rest } = JSON.parse(readFileSync(join(baselineRoot, snap), 'utf8'));
  baseline[proto] = rest;
}
const problems = compareContracts(merge(baseline), merge(current));
for (const proto of Object.keys(baseline)) {
  if (!protos.includes(proto)) problems.unshift(`${proto} was removed: the contract only grows`);
}
const unrecorded = protos.filter((p) => !(p in baseline));
if (problems.length > 0) {
  console.error(
    `The wire contract must only grow; against packages/protocol/proto-baseline these changes break it:`,
  );
  for (const p of problems) console.error(`  - ${p}`);
  console.error(
    'Older agents and coordinators would misread the new messages. Grow instead (new fields with new numbers,\n' +
      '`reserved` for removed ones). The baseline is re-recorded by `npm run proto:baseline` for additions only.',
  );
  process.exit(1);
}
console.log(
  `the .proto only grows: ${protos.length} file(s) match or extend the baseline` +
    (unrecorded.length > 0
      ? ` (not yet recorded: ${unrecorded.join(', ')}; run npm run proto:baseline)`
      : ''),
);
