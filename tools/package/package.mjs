#!/usr/bin/env node
// `npm run package`: Debian packages of what `npm run build` wrote to dist/, made by Debian's own
// dpkg-deb (docs/adr/0035):
//
//   node tools/package/package.mjs [--dist dist] [--out dist/deb] [--version 0.1.0]
//                                  [--only coordinator,agent,cli] [--no-console]
//
//   rollgate-coordinator_<v>_<arch>.deb  /usr/lib/rollgate/coordinator (+ console), two units,
//                                        /etc/rollgate/coordinator.env (+ console.env), /var/lib/rollgate/coordinator
//   rollgate-agent_<v>_all.deb           /usr/lib/rollgate/agent, its unit, /etc/rollgate/agent.json
//   rollgate-cli_<v>_all.deb             /usr/bin/rollgate
//
// Nothing here compiles: a missing part of dist/ is an error that says which `npm run build` to run.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const DEBIAN = join(HERE, 'debian');
export const PACKAGES = ['coordinator', 'agent', 'cli'];
/** Where the packages install their programs. */
export const LIB = '/usr/lib/rollgate';
const MAINTAINER = 'Rollgate maintainers <rollgate@localhost>';
const NODE_DEPENDS = 'nodejs (>= 20.11)';

/** The root package.json's version: what `npm run build` stamped into every binary. */
export function releaseVersion() {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
}

/** Debian's version syntax (policy 5.6.12), without an epoch: digits first, then [A-Za-z0-9.+~-]. */
const DEB_VERSION = /^[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?$/;

function need(path, what) {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing (${what}): run \`npm run build\` first (or --dist DIR)`);
  }
}

/** Copies a maintainer script with the shared shell functions in place of its `#COMMON#` line. */
function maintainerScript(pkg, name, controlDir) {
  const common = readFileSync(join(DEBIAN, 'common/rollgate-user.sh'), 'utf8');
  const text = readFileSync(join(DEBIAN, pkg, name), 'utf8').replace('#COMMON#\n', `${common}\n`);
  writeFileSync(join(controlDir, name), text, { mode: 0o755 });
}

function put(root, path, text, mode = 0o644) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
}

function copyInto(root, path, from) {
  const to = join(root, path);
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}

/**
 * Writes DEBIAN/control (+ conffiles, scripts) in `root` and runs `dpkg-deb --build` into `out`.
 * Files are owned by root in the archive (--root-owner-group) whoever builds it.
 */
function dpkgDeb({ root, out, name, version, arch, depends, description, conffiles = [], scripts }) {
  const control = join(root, 'DEBIAN');
  mkdirSync(control, { recursive: true });
  const installedKb = Number(
    execFileSync('du', ['-sk', '--exclude=DEBIAN', root], { encoding: 'utf8' }).split('\t')[0],
  );
  const [summary, ...body] = description;
  put(
    root,
    'DEBIAN/control',
    [
      `Package: ${name}`,
      `Version: ${version}`,
      `Architecture: ${arch}`,
      `Maintainer: ${MAINTAINER}`,
      `Installed-Size: ${installedKb}`,
      `Depends: ${depends.join(', ')}`,
      'Section: admin',
      'Priority: optional',
      'Homepage: https://github.com/rollgate/rollgate',
      `Description: ${summary}`,
      ...body.map((l) => (l === '' ? ' .' : ` ${l}`)),
      '',
    ].join('\n'),
  );
  if (conffiles.length > 0) put(root, 'DEBIAN/conffiles', `${conffiles.join('\n')}\n`);
  for (const s of scripts ?? []) maintainerScript(name, s, control);
  mkdirSync(out, { recursive: true });
  const deb = join(out, `${name}_${version}_${arch}.deb`);
  // gzip: xz takes minutes for the console on two busy cores, for a few MB saved.
  // Written aside and renamed: an interrupted build leaves no truncated .deb under the final name.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, `${deb}.tmp`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  renameSync(`${deb}.tmp`, deb);
  return deb;
}

function hostArch() {
  return execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
}

function coordinatorPackage({ dist, work, out, version, withConsole }) {
  need(join(dist, 'coordinator/main.cjs'), 'the coordinator bundle');
  if (withConsole)
    need(
      join(dist, 'web/rollgate-console.cjs'),
      'the console: `npm run build` without --only, or --no-console',
    );
  const root = join(work, 'rollgate-coordinator');
  const d = join(DEBIAN, 'rollgate-coordinator');
  // The embedded PostgreSQL's binaries (dist/coordinator/node_modules) are left out: the package runs
  // on an external PostgreSQL (DATABASE_URL), as ADR 0033 allows.
  for (const part of ['main.cjs', 'migrations', 'proto']) {
    copyInto(root, `${LIB.slice(1)}/coordinator/${part}`, join(dist, 'coordinator', part));
  }
  put(
    root,
    'lib/systemd/system/rollgate-coordinator.service',
    readFileSync(join(d, 'rollgate-coordinator.service')),
  );
  put(root, 'etc/rollgate/coordinator.env', readFileSync(join(d, 'coordinator.env')), 0o640);
  const conffiles = ['/etc/rollgate/coordinator.env'];
  if (withConsole) {
    copyInto(root, `${LIB.slice(1)}/console`, join(dist, 'web'));
    put(
      root,
      'lib/systemd/system/rollgate-console.service',
      readFileSync(join(d, 'rollgate-console.service')),
    );
    put(root, 'etc/rollgate/console.env', readFileSync(join(d, 'console.env')), 0o640);
    conffiles.push('/etc/rollgate/console.env');
  }
  put(root, 'usr/share/doc/rollgate-coordinator/README', readme(withConsole));
  return dpkgDeb({
    root,
    out,
    name: 'rollgate-coordinator',
    version,
    // The console's standalone output carries native modules (sharp); the coordinator alone is JavaScript.
    arch: withConsole ? hostArch() : 'all',
    depends: [NODE_DEPENDS, 'passwd'],
    description: [
      withConsole ? 'Rollgate coordinator and console' : 'Rollgate coordinator',
      'Runs upgrades and rollbacks of applications on server fleets behind load',
      'balancers: the API, the agents\u2019 gRPC endpoint and enrolment, and the web',
      `${withConsole ? 'console' : 'API'}. Needs a PostgreSQL (DATABASE_URL in /etc/rollgate/coordinator.env).`,
    ],
    conffiles,
    scripts: ['postinst', 'prerm', 'postrm'],
  });
}

function readme(withConsole) {
  return `Rollgate coordinator${withConsole ? ' and console' : ''} (docs/adr/0035 in the sources)

1. Create a PostgreSQL database and put its URL in /etc/rollgate/coordinator.env (DATABASE_URL).
2. systemctl start rollgate-coordinator${withConsole ? ' rollgate-console' : ''}
3. On this machine: sudo ROLLGATE_DATA_DIR=/var/lib/rollgate/coordinator rollgate admin init --username admin
   (rollgate-cli), then \`rollgate agents token create --cluster <name>\` for each agent.

Data: /var/lib/rollgate/coordinator (removed by dpkg --purge). Logs: journalctl -u rollgate-coordinator.
`;
}

function agentPackage({ dist, work, out, version }) {
  need(join(dist, 'agent/rollgate-agent.cjs'), 'the agent bundle');
  const root = join(work, 'rollgate-agent');
  for (const f of ['rollgate-agent.cjs', 'rollgate-agent-worker.cjs']) {
    copyInto(root, `${LIB.slice(1)}/agent/${f}`, join(dist, 'agent', f));
  }
  // The agent bundle's own unit (tools/agent-bundle), pointed at where the package installs it.
  const unit = readFileSync(join(dist, 'agent/rollgate-agent.service'), 'utf8');
  if (!unit.includes('/opt/rollgate-agent/')) {
    throw new Error(
      `${join(dist, 'agent/rollgate-agent.service')} no longer names /opt/rollgate-agent/: update tools/package`,
    );
  }
  put(
    root,
    'lib/systemd/system/rollgate-agent.service',
    unit
      .replaceAll('/opt/rollgate-agent/', `${LIB}/agent/`)
      // The manual install steps in its header are what this package does.
      .replace(/^#   (install|cp|useradd) [^\n]*\n/gm, '')
      .replace(
        /^# systemd unit for the Rollgate agent[^\n]*\n#\n#\n/,
        '# The Rollgate agent (rollgate-agent package, docs/adr/0035; tools/agent-bundle).\n#\n',
      ),
  );
  put(root, 'etc/rollgate/agent.json', readFileSync(join(dist, 'agent/agent.example.json')), 0o640);
  return dpkgDeb({
    root,
    out,
    name: 'rollgate-agent',
    version,
    arch: 'all',
    depends: [NODE_DEPENDS, 'passwd'],
    description: [
      'Rollgate agent',
      'Upgrades this server\u2019s services on the Rollgate coordinator\u2019s command and',
      'serves the load balancer\u2019s gate. Configure /etc/rollgate/agent.json.',
    ],
    conffiles: ['/etc/rollgate/agent.json'],
    scripts: ['postinst', 'prerm', 'postrm'],
  });
}

function cliPackage({ dist, work, out, version }) {
  need(join(dist, 'cli/rollgate.cjs'), 'the CLI bundle');
  const root = join(work, 'rollgate-cli');
  for (const f of ['rollgate.cjs', 'rollgate-program.cjs']) {
    copyInto(root, `${LIB.slice(1)}/cli/${f}`, join(dist, 'cli', f));
  }
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  // Node follows the link to the real file, so the bundle finds rollgate-program.cjs beside it.
  symlinkSync(`../lib/rollgate/cli/rollgate.cjs`, join(root, 'usr/bin/rollgate'));
  return dpkgDeb({
    root,
    out,
    name: 'rollgate-cli',
    version,
    arch: 'all',
    depends: [NODE_DEPENDS],
    description: ['Rollgate command line', 'The `rollgate` command: runs, editions, servers, users, tokens.'],
  });
}

/**
 * Builds the packages from `dist` into `out`; returns the .deb paths by package.
 * @param {{ dist?: string, out?: string, version?: string, only?: string[], withConsole?: boolean }} [opts]
 *   dist: default <repo>/dist; out: default <dist>/deb; version: default the root package.json's;
 *   only: default all of PACKAGES; withConsole: package dist/web in rollgate-coordinator (default true).
 */
export function buildPackages(opts = {}) {
  const dist = resolve(opts.dist ?? join(ROOT, 'dist'));
  const out = resolve(opts.out ?? join(dist, 'deb'));
  const version = opts.version ?? releaseVersion();
  const only = opts.only ?? PACKAGES;
  const withConsole = opts.withConsole ?? true;
  if (!DEB_VERSION.test(version)) {
    throw new Error(
      `${version} is not a Debian version: digits first, then letters, digits and . + ~ (e.g. 0.1.0+test2)`,
    );
  }
  const unknown = only.filter((p) => !PACKAGES.includes(p));
  if (unknown.length > 0)
    throw new Error(`unknown package ${unknown.join(', ')}: choose among ${PACKAGES.join(', ')}`);
  // Every input is checked before the first package is made: a missing part writes nothing.
  const parts = {
    coordinator: [['coordinator/main.cjs', 'the coordinator bundle']],
    agent: [['agent/rollgate-agent.cjs', 'the agent bundle']],
    cli: [['cli/rollgate.cjs', 'the CLI bundle']],
  };
  if (withConsole) {
    parts.coordinator.push([
      'web/rollgate-console.cjs',
      'the console: `npm run build` without --only, or package with --no-console',
    ]);
  }
  for (const p of only) for (const [file, what] of parts[p]) need(join(dist, file), what);
  const work = mkdtempSync(join(tmpdir(), 'rollgate-deb-'));
  try {
    const debs = {};
    for (const p of only) {
      const args = { dist, work, out, version, withConsole };
      debs[p] =
        p === 'coordinator'
          ? coordinatorPackage(args)
          : p === 'agent'
            ? agentPackage(args)
            : cliPackage(args);
    }
    return { version, debs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      dist: { type: 'string' },
      out: { type: 'string' },
      version: { type: 'string' },
      only: { type: 'string' },
      'no-console': { type: 'boolean' },
    },
  });
  try {
    const r = buildPackages({
      ...(values.dist ? { dist: values.dist } : {}),
      ...(values.out ? { out: values.out } : {}),
      ...(values.version ? { version: values.version } : {}),
      ...(values.only ? { only: values.only.split(',').map((p) => p.trim()) } : {}),
      withConsole: !values['no-console'],
    });
    for (const deb of Object.values(r.debs)) console.log(deb);
  } catch (err) {
    console.error(`package failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
