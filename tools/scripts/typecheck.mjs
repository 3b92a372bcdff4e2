#!/usr/bin/env node
// The whole repository's typecheck, each source file checked once (docs/adr/0049).
//
//   node tools/scripts/typecheck.mjs
//
// What is checked is what each project's own "typecheck" script names (`tsc --noEmit -p <tsconfig>`,
// one or more): a new project or a new tsconfig is picked up from there. Running those scripts one by
// one (nx run-many -t typecheck) re-checks every package a project imports by path, so the domain,
// the engine and the protocol were checked a dozen times over. Here the tsconfigs whose resolved
// compiler options are identical become ONE program over the union of their files; a tsconfig with
// options of its own (the console: jsx, the DOM) stays a program of its own. A file therefore meets
// exactly the options its project gives it, and the errors are those of the per-project runs.
// Programs run side by side in worker threads (two cores: the big one beside the console's two).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import ts from 'typescript';

const root = new URL('../..', import.meta.url).pathname;
const rel = (p) => relative(root, p) || '.';

/** One program: the tsconfigs merged into it, their options and the union of their files. */
function checkProgram({ configs, options, fileNames, pretty }) {
  const started = Date.now();
  const program = ts.createProgram({ rootNames: fileNames, options });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  return {
    configs,
    files: program.getSourceFiles().length,
    errors: diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error).length,
    text: diagnostics.length ? format(diagnostics, pretty) : '',
    ms: Date.now() - started,
  };
}

/** As tsc prints them: with colour and context on a terminal, one plain line each otherwise. */
function format(diagnostics, pretty) {
  const host = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  };
  return pretty
    ? ts.formatDiagnosticsWithColorAndContext(diagnostics, host)
    : ts.formatDiagnostics(diagnostics, host);
}

/** Every `tsc --noEmit -p <file>` of every workspace project's "typecheck" script. */
function typecheckConfigs() {
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dirs = rootPkg.workspaces.flatMap((glob) => {
    const parent = glob.replace(/\/\*$/, '');
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(root, parent, d.name, 'package.json')))
      .map((d) => join(root, parent, d.name));
  });
  const configs = [];
  for (const dir of dirs) {
    const script = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).scripts?.typecheck;
    if (!script) continue;
    const parts = script.split('&&').map((s) => s.trim());
    for (const part of parts) {
      const m = /^tsc --noEmit -p (\S+)$/.exec(part);
      if (!m) {
        throw new Error(
          `${rel(dir)}/package.json: its typecheck script has "${part}"; this checker understands only ` +
            '`tsc --noEmit -p <tsconfig>` joined by && — extend tools/scripts/typecheck.mjs for anything else',
        );
      }
      configs.push(join(dir, m[1]));
    }
  }
  return configs;
}

/** JSON with every object's keys sorted, at every depth: equal options, equal text. */
const stableJson = (v) =>
  Array.isArray(v)
    ? `[${v.map(stableJson).join(',')}]`
    : v && typeof v === 'object'
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
          .join(',')}}`
      : JSON.stringify(v);

/** Parses each tsconfig as tsc would and groups those whose compiler options are the same. */
function programs(configs) {
  const groups = new Map();
  const problems = [];
  for (const file of configs) {
    const parsed = ts.getParsedCommandLineOfConfigFile(
      file,
      { noEmit: true },
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => problems.push(d),
      },
    );
    if (!parsed) continue;
    problems.push(...parsed.errors);
    const { configFilePath: _path, ...options } = parsed.options;
    const key = stableJson(options);
    const group = groups.get(key) ?? { configs: [], options: parsed.options, fileNames: new Set() };
    group.configs.push(rel(file));
    for (const f of parsed.fileNames) group.fileNames.add(f);
    groups.set(key, group);
  }
  return {
    problems,
    groups: [...groups.values()]
      .map((g) => ({ ...g, fileNames: [...g.fileNames] }))
      // Biggest first: with two at a time the small ones share the second core.
      .sort((a, b) => b.fileNames.length - a.fileNames.length),
  };
}

async function main() {
  const started = Date.now();
  const pretty = Boolean(process.stdout.isTTY);
  const { problems, groups } = programs(typecheckConfigs());
  if (problems.length) {
    process.stdout.write(format(problems, pretty));
  }
  const width = Math.max(1, Math.min(groups.length, availableParallelism()));
  const queue = [...groups];
  const results = [];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let g = queue.shift(); g; g = queue.shift()) {
        // Parsed options are plain data, so they cross to the worker by structured clone.
        const result = await new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { ...g, pretty } });
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => code !== 0 && reject(new Error(`typecheck worker exited ${code}`)));
        });
        results.push(result);
        if (result.text) process.stdout.write(result.text);
        console.log(
          `${result.errors ? '✘' : '✔'} ${result.configs.join(', ')}: ${result.files} files, ` +
            `${result.errors} errors (${(result.ms / 1000).toFixed(1)} s)`,
        );
      }
    }),
  );
  const errors = results.reduce((n, r) => n + r.errors, 0) + problems.length;
  console.log(
    `typecheck: ${results.length} programs for ${results.reduce((n, r) => n + r.configs.length, 0)} tsconfigs, ` +
      `${errors} errors in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exit(errors > 0 ? 1 : 0);
}

// A worker checks the one program it is handed; the main thread plans and prints.
if (isMainThread) await main();
else parentPort.postMessage(checkProgram(workerData));
