#!/usr/bin/env node
// `npm test`: every tier, in order, then ONE plain summary line `N passed, N failed` summed over
// all of them (CI reads that line, not vitest's own summary). Static checks (protocol drift,
// formatting, lint with module boundaries, typecheck, the console's build) count one each.
//
//   npm test                 everything
//   npm test -- --only unit  one tier: checks | unit | int
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const outDir = join(root, 'test-results');
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx > 0 ? process.argv[onlyIdx + 1] : null;

const env = {
  ...process.env,
  CI: 'true',
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_TUI: 'false',
  NX_SKIP_NX_CACHE: process.env.NX_SKIP_NX_CACHE ?? 'false',
  NEXT_TELEMETRY_DISABLED: '1',
  FORCE_COLOR: '0',
};

const bin = (name) => join(root, 'node_modules/.bin', name);
let passed = 0;
let failed = 0;
const failures = [];
const failedTests = [];

// Vitest's failure messages carry ANSI colour and stack traces; one plain line is enough here.
const firstLine = (msg) =>
  String(msg ?? 'failed to load')
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')[0]
    .slice(0, 240);

/** Runs a command with the suite's environment; with `tee`, its output also goes to that file. */
function run(cmd, args, { tee, env: extraEnv } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...env, ...extraEnv },
      stdio: tee ? ['inherit', 'pipe', 'pipe'] : 'inherit',
    });
    if (tee) {
      const file = createWriteStream(tee);
      child.stdout.on('data', (c) => (process.stdout.write(c), file.write(c)));
      child.stderr.on('data', (c) => (process.stderr.write(c), file.write(c)));
      child.on('close', () => file.end());
    }
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 1 : 0), ms: Date.now() - started }),
    );
  });
}

async function check(name, cmd, args, extraEnv) {
  console.log(`\n━━ ${name}`);
  const { code, ms } = await run(cmd, args, { env: extraEnv });
  if (code === 0) {
    passed++;
    console.log(`✔ ${name} (${(ms / 1000).toFixed(1)} s)`);
  } else {
    failed++;
    failures.push(name);
    console.log(`✘ ${name} (exit ${code})`);
  }
  return code === 0;
}

async function vitest(tier, config, extraEnv = {}) {
  console.log(`\n━━ ${tier} tests`);
  const report = join(outDir, `vitest-${tier}.json`);
  rmSync(report, { force: true });
  const { code, ms } = await run(
    bin('vitest'),
    ['run', '-c', config, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
    { tee: join(outDir, `vitest-${tier}.log`), env: extraEnv },
  );
  if (!existsSync(report)) {
    failed++;
    failures.push(`${tier} tests (no report; vitest exit ${code})`);
    return;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const p = r.numPassedTests ?? 0;
  // A file that fails to load counts as a failure even though no test inside it ran.
  const suiteErrors = (r.testResults ?? []).filter(
    (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
  ).length;
  const f = (r.numFailedTests ?? 0) + suiteErrors;
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  passed += p;
  failed += f;
  if (skipped > 0) {
    // A skipped test proves nothing: count it as a failure so it cannot hide.
    failed += skipped;
    failures.push(`${tier}: ${skipped} skipped/todo tests`);
  }
  if (f > 0 || code !== 0) failures.push(`${tier} tests (${f} failed, vitest exit ${code})`);
  // Named again at the very end: CI keeps only the tail of a long log.
  for (const file of r.testResults ?? []) {
    const rel = relative(root, file.name ?? '');
    const bad = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
    if (file.status === 'failed' && bad.length === 0) {
      failedTests.push(`${rel}: ${firstLine(file.message)}`);
    }
    for (const a of bad) {
      failedTests.push(`${rel} > ${a.fullName ?? a.title}: ${firstLine(a.failureMessages?.[0])}`);
    }
  }
  if (code !== 0 && f === 0) failed++;
  console.log(`${tier}: ${p} passed, ${f} failed in ${(ms / 1000).toFixed(1)} s`);
}

mkdirSync(outDir, { recursive: true });
const started = Date.now();

// A prerequisite, not a test: without these programs the tiers below cannot run at all.
const prereq = await run('bash', [join(root, 'tools/scripts/ensure-system-deps.sh')]);
if (prereq.code !== 0) {
  console.log('system packages the tests need could not be installed (see above)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

/** Where the checks tier builds the console; handed to the integration tier if it built. */
const consoleBuild = join(outDir, 'console-build');
let consoleBuilt = false;
if (!only || only === 'checks') {
  await check('protocol: generated code matches the .proto', process.execPath, [
    join(root, 'tools/scripts/proto-gen.mjs'),
    '--check',
  ]);
  await check('protocol: the .proto only grows (against proto-baseline)', process.execPath, [
    join(root, 'packages/protocol/scripts/proto-grows.mjs'),
  ]);
  // Prettier's new CLI formats files on both cores (the classic one on one); it picks the same files
  // (.gitignore and .prettierignore) and the same formatter (docs/adr/0049).
  await check('format (prettier --check)', bin('prettier'), [
    '--experimental-cli',
    '--no-cache',
    '--check',
    '--log-level=warn',
    '.',
  ]);
  // One ESLint process over the whole tree, one tsc program per set of compiler options (each file
  // checked once): the same rules and errors as the per-project nx targets, a fraction of the work
  // (docs/adr/0049).
  await check('lint (eslint + nx module boundaries)', process.execPath, [
    join(root, 'tools/scripts/lint.mjs'),
  ]);
  await check('lint rules bite (forbidden imports in probe files are refused)', process.execPath, [
    join(root, 'tools/scripts/boundaries-check.mjs'),
  ]);
  // The console as `npm run build` ships it (next build, standalone server, launcher); the
  // integration tier's console-build test runs this very build instead of making its own. Built
  // BEFORE the typecheck and without Next's own tsc run: the typecheck below checks the console's
  // tsconfig, which includes the route types (.next/types) this build generates.
  rmSync(consoleBuild, { recursive: true, force: true });
  consoleBuilt = await check(
    'console builds (next build, as npm run build ships it)',
    process.execPath,
    [join(root, 'tools/build/build.mjs'), '--only', 'web', '--out', consoleBuild],
    { ROLLGATE_BUILD_SKIP_TYPECHECK: '1' },
  );
  await check('typecheck (tsc, strict)', process.execPath, [join(root, 'tools/scripts/typecheck.mjs')]);
}
if (!only || only === 'unit') await vitest('unit', 'vitest.unit.config.ts');
if (!only || only === 'int') {
  // Every demo fleet of the tier copies its logs and the secrets it made here when it stops.
  const archive = join(outDir, 'process-logs');
  rmSync(archive, { recursive: true, force: true });
  mkdirSync(archive, { recursive: true });
  await vitest('integration', 'vitest.int.config.ts', {
    ROLLGATE_TEST_LOG_ARCHIVE: archive,
    ...(consoleBuilt ? { ROLLGATE_TEST_CONSOLE_BUILD: join(consoleBuild, 'web') } : {}),
  });
  await check("secret scan: no password, token or key in this run's logs", process.execPath, [
    join(root, 'tools/scripts/secret-scan.mjs'),
    archive,
    join(outDir, 'vitest-integration.log'),
    join(outDir, 'vitest-unit.log'),
  ]);
}

console.log(`\nwhole suite: ${((Date.now() - started) / 1000).toFixed(0)} s`);
for (const t of failedTests) console.log(`✗ ${t}`);
if (failures.length) console.log(`failed: ${failures.join('; ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
