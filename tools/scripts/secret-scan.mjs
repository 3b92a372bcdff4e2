#!/usr/bin/env node
// The secret scan `npm test` runs after the integration tier: no password, session token, join
// token or private key may appear in any log the run produced. The demo fleets of the tests copy
// every log they wrote (coordinators, agents, the services) into the archive when they stop, with
// the secrets they created beside it (`<fleet>.secrets`, one per line); vitest's own output is in
// test-results/vitest-*.log. A hit prints the file, the line number and what kind of secret it is
// (never the secret itself) and fails the scan; so does an archive with too few logs to prove
// anything.
//
//   node tools/scripts/secret-scan.mjs <archive dir> [more log files...]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const [archive, ...extra] = process.argv.slice(2);
if (!archive || !existsSync(archive)) {
  console.log(
    `secret scan: no log archive at ${archive ?? '(none given)'}: the integration tier archived nothing`,
  );
  process.exit(1);
}

/** Secrets by shape, whoever created them. */
const PATTERNS = [
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['a join token', /rgjoin\.[a-f0-9]{16}\.[A-Za-z0-9_-]{43}/],
  ['a database URL with a password', /postgres(?:ql)?:\/\/[^:@/\s"']+:[^@\s"'*]+@/],
  ['a bearer token', /Bearer [A-Za-z0-9_-]{20,}/],
  ['a service token', /rgt_[A-Za-z0-9_-]{43}/],
];

const files = [];
const secrets = new Set();
for (const entry of readdirSync(archive)) {
  const path = join(archive, entry);
  if (entry.endsWith('.secrets')) {
    for (const s of readFileSync(path, 'utf8').split('\n')) if (s.length >= 8) secrets.add(s);
  } else if (statSync(path).isDirectory()) {
    for (const f of readdirSync(path)) files.push(join(path, f));
  }
}
for (const f of extra) if (existsSync(f)) files.push(f);

const MIN_FILES = 20;
if (files.length < MIN_FILES) {
  console.log(
    `secret scan: only ${files.length} log files archived (at least ${MIN_FILES} expected); nothing proven`,
  );
  process.exit(1);
}

let hits = 0;
let lines = 0;
let bytes = 0;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  bytes += text.length;
  const rows = text.split('\n');
  lines += rows.length;
  rows.forEach((row, i) => {
    const kinds = PATTERNS.filter(([, re]) => re.test(row)).map(([kind]) => kind);
    for (const s of secrets) if (row.includes(s)) kinds.push('a secret the test fleet created');
    for (const kind of new Set(kinds)) {
      hits++;
      if (hits <= 20) console.log(`secret scan: ${relative(process.cwd(), file)}:${i + 1} holds ${kind}`);
    }
  });
}
console.log(
  `secret scan: ${files.length} log files, ${lines} lines (${(bytes / 1e6).toFixed(1)} MB), ${secrets.size} known secrets, ${PATTERNS.length} patterns: ${hits} hits`,
);
process.exit(hits === 0 ? 0 : 1);
