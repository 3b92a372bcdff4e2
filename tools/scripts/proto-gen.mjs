#!/usr/bin/env node
// Generates packages/protocol/src/generated from the .proto files with @grpc/proto-loader's
// generator. `--check` regenerates into a temporary directory and fails when the committed
// output differs, so the committed TypeScript can never drift from the contract.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const protoRoot = join(root, 'packages/protocol/proto');
const committed = join(root, 'packages/protocol/src/generated');
const check = process.argv.includes('--check');

function generate(outDir) {
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js'),
      '--longs=Number',
      '--enums=String',
      '--defaults',
      '--oneofs',
      '--includeComments',
      '--grpcLib=@grpc/grpc-js',
      '--outDir',
      outDir,
      'rollgate/agent/v1/agent.proto',
      '-I',
      protoRoot,
    ],
    { stdio: 'inherit' },
  );
  // The generator writes absolute paths into comments; make them relative so output is the same
  // in every checkout.
  for (const f of listFiles(outDir)) {
    const p = join(outDir, f);
    writeFileSync(p, readFileSync(p, 'utf8').split(root).join(''));
  }
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/prettier/bin/prettier.cjs'),
      '--config',
      join(root, '.prettierrc.json'),
      '--write',
      '--log-level=warn',
      outDir,
    ],
    {
      stdio: 'inherit',
    },
  );
}

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

if (check) {
  const tmp = mkdtempSync(join(tmpdir(), 'rollgate-proto-'));
  try {
    generate(tmp);
    const a = listFiles(committed);
    const b = listFiles(tmp);
    const drift = [];
    for (const f of new Set([...a, ...b])) {
      const x = existsSync(join(committed, f)) ? readFileSync(join(committed, f), 'utf8') : null;
      const y = existsSync(join(tmp, f)) ? readFileSync(join(tmp, f), 'utf8') : null;
      if (x !== y) drift.push(f);
    }
    if (drift.length) {
      console.error(`protocol drift: generated TypeScript differs from the .proto in ${drift.join(', ')}`);
      console.error('run `npm run proto:gen` and commit packages/protocol/src/generated');
      process.exit(1);
    }
    console.log(`protocol: generated code matches the .proto (${a.length} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  rmSync(committed, { recursive: true, force: true });
  generate(committed);
  console.log(`generated ${listFiles(committed).length} files into ${relative(root, committed)}`);
}
