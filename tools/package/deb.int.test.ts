// The Debian packages (issue 16 item 2, docs/adr/0035), for real, as root on this machine: built by
// dpkg-deb from `npm run build`'s output (coordinator, console, CLI, agent), installed with `dpkg -i`,
// the coordinator, the console and two agents (this machine plays two servers of a Python stdlib
// service) started exactly as their units' ExecStartPre/ExecStart lines say (no systemd as PID 1
// here) as the units' User=, on a Debian PostgreSQL 15 by DATABASE_URL; the console signs in against
// the installed coordinator; an upgrade run of that fleet started and paused with the installed CLI;
// the packages upgraded in place to a newer build (data and edited conffiles kept, the agents
// reconnect on the identities they kept, the console serves the upgraded files, the run resumes and
// succeeds); then purged (nothing left). Within `npm test` the console is the checks tier's build
// (copyPrebuiltConsole, docs/adr/0049); alone, this file runs `next build` itself, then most of its
// time: ~25 s with Next's build cache warm, ~85 s cold (docs/adr/0035).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppPostgres, type AppPostgres } from '@rollgate/app-db';
import { FatalWait, freePort, waitFor } from '@rollgate/test-kit';
import { buildAll } from '../build/build.mjs';
import { copyPrebuiltConsole, processesMentioning } from '../build/testing';
import { buildPackages } from './package.mjs';

const PACKAGES = ['rollgate-coordinator', 'rollgate-agent', 'rollgate-cli'];
const COORDINATOR_DATA = '/var/lib/rollgate/coordinator';
const PASSWORD = 'a long enough password for the package test';
const CLUSTER = 'deb-test';
const AGENT_ID = 'deb-web-01';
const AGENT_2 = 'deb-web-02';
const APP = 'shop';

/** The application the fleet runs: a stdlib Python HTTP server that says its edition. */
function serverPy(edition: string): string {
  return [
    'import http.server, os',
    'class H(http.server.BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    `        self.send_response(200); self.end_headers(); self.wfile.write(b"${edition}")`,
    '    def log_message(self, *a): pass',
    "http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()",
    '',
  ].join('\n');
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<Ran>((resolve) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
    // A program that exits without reading its input (EPIPE) is not an error of the test.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

async function ok(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * Splits a unit's command line as systemd does for the forms used here: words, '…' and "…", and
 * `$$` for a literal `$` (the units use no `$VAR` of systemd's own expansion: asserted).
 */
function splitCommand(raw: string): string[] {
  if (raw.replaceAll('$$', '').includes('$')) throw new Error(`unexpected systemd $-expansion in: ${raw}`);
  const line = raw.replaceAll('$$', '$');
  const words: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line))
    words.push(m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]!);
  return words;
}

interface Unit {
  user?: string;
  group?: string;
  workingDirectory?: string;
  environmentFiles: string[];
  environment: Record<string, string>;
  execStartPre: string[][];
  execStart: string[];
  /** Nice=: systemd sets it before it drops to User=, and the process keeps it. */
  nice?: number;
}

/** The [Service] settings of an installed unit that say how its process starts. */
function readUnit(name: string): Unit {
  const text = readFileSync(`/lib/systemd/system/${name}`, 'utf8');
  const service = text.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  const unit: Unit = { environmentFiles: [], environment: {}, execStartPre: [], execStart: [] };
  for (const raw of service.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(raw.trim());
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'User') unit.user = value;
    else if (key === 'Group') unit.group = value;
    else if (key === 'WorkingDirectory') unit.workingDirectory = value;
    else if (key === 'EnvironmentFile') unit.environmentFiles.push(value);
    else if (key === 'Environment') {
      for (const kv of splitCommand(value))
        unit.environment[kv.split('=')[0]!] = kv.slice(kv.indexOf('=') + 1);
    } else if (key === 'ExecStartPre') unit.execStartPre.push(splitCommand(value));
    else if (key === 'ExecStart') unit.execStart = splitCommand(value);
    else if (key === 'Nice') unit.nice = Number(value);
  }
  return unit;
}

/** The environment systemd gives the unit's processes: its PATH, Environment= and EnvironmentFile=. */
function unitEnv(unit: Unit): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...unit.environment,
  };
  for (const spec of unit.environmentFiles) {
    const optional = spec.startsWith('-');
    const file = optional ? spec.slice(1) : spec;
    if (!existsSync(file)) {
      if (optional) continue;
      throw new Error(`${file} (EnvironmentFile=) does not exist`);
    }
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (m) env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

/** `setpriv` to the unit's User=/Group= (the environment is kept, as systemd's is). */
function asUser(unit: Unit, argv: string[]): string[] {
  if (!unit.user) return argv;
  return [
    'setpriv',
    `--reuid=${unit.user}`,
    `--regid=${unit.group ?? unit.user}`,
    '--init-groups',
    '--',
    ...argv,
  ];
}

interface Started {
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Runs the unit's ExecStartPre lines (each must exit 0), then starts its ExecStart line. */
async function startUnit(
  name: string,
  opts: { config?: [string, string]; env?: NodeJS.ProcessEnv } = {},
): Promise<{ started: Started; pre: Ran[] }> {
  const unit = readUnit(name);
  // A second server on this machine: the same command lines with its own config file.
  if (opts.config) {
    const [from, to] = opts.config;
    const swap = (argv: string[]) => argv.map((a) => (a === from ? to : a));
    unit.execStartPre = unit.execStartPre.map(swap);
    unit.execStart = swap(unit.execStart);
  }
  const env = { ...unitEnv(unit), ...opts.env };
  const pre: Ran[] = [];
  for (const argv of unit.execStartPre) {
    const [cmd, ...args] = asUser(unit, argv);
    const r = await run(cmd!, args, { env });
    if (r.code !== 0)
      throw new Error(`${name}: ExecStartPre ${argv.join(' ')} exited ${r.code}:\n${r.stderr}`);
    pre.push(r);
  }
  // As systemd does: the niceness first, then the user (nice and setpriv exec: one pid throughout).
  const niced = unit.nice === undefined ? [] : ['nice', '-n', String(unit.nice)];
  const [cmd, ...args] = [...niced, ...asUser(unit, unit.execStart)];
  let out = '';
  const proc = spawn(cmd!, args, {
    cwd: unit.workingDirectory ?? '/',
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    pre,
    started: {
      proc,
      output: () => out,
      stop: async () => {
        // The unit's KillSignal (SIGTERM) to the main process only, as KillMode=process does.
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
        await exited;
      },
    },
  };
}

function pidsOfUid(uid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(join('/proc', entry, 'status'), 'utf8'));
      if (m && Number(m[1]) === uid) found.push(Number(entry));
    } catch {
      // Ended while we looked.
    }
  }
  return found;
}

async function packageStatus(pkg: string): Promise<string> {
  return (await run('dpkg-query', ['-W', '-f=${db:Status-Status} ${Version}', pkg])).stdout.trim();
}

describe('Debian packages: dpkg -i, start as the units say, a fleet run paused across the upgrade in place, purge (issue 16 item 2)', () => {
  let dir: string;
  let pg: AppPostgres | undefined;
  let debs1: string[] = [];
  let debs2: string[] = [];
  const running: Started[] = [];
  let rollgateUid = -1;
  let before: string[] = [];
  const ports = { http: 0, grpc: 0, enrol: 0, gate: 0, service: 0, gate2: 0, service2: 0, console: 0 };
  let runId = '';
  let cliEnv: NodeJS.ProcessEnv;
  const rollgate = (args: string[], input?: string) =>
    run('/usr/bin/rollgate', args, { env: cliEnv, ...(input ? { input } : {}) });

  beforeAll(async () => {
    for (const p of PACKAGES) {
      const s = await packageStatus(p);
      if (s && !s.startsWith('not-installed') && !s.startsWith(' ')) {
        throw new Error(
          `${p} is already installed here (${s}): this test installs and purges it; remove it first`,
        );
      }
    }
    dir = await mkdtemp(join(tmpdir(), 'rollgate-deb-'));
    // The rollgate user reads the editions and the second agent's config from here.
    chmodSync(dir, 0o755);
    for (const edition of ['1.0', '2.0']) {
      const src = join(dir, `src-${edition}`);
      mkdirSync(src);
      writeFileSync(join(src, 'server.py'), serverPy(edition));
      await ok('tar', ['-czf', join(dir, `${APP}-${edition}.tar.gz`), '-C', src, 'server.py']);
    }
    const dist = join(dir, 'dist');
    const t0 = performance.now();
    // The console the checks tier built, when there is one: the same `next build`, done once.
    const consoleCopied = copyPrebuiltConsole(dist);
    await buildAll({
      outDir: dist,
      targets: ['coordinator', 'cli', 'agent', ...(consoleCopied ? [] : ['web' as const])],
    });
    const t1 = performance.now();
    debs1 = Object.values(buildPackages({ dist, out: join(dir, 'deb1'), version: '0.1.0+test1' }).debs);
    debs2 = Object.values(buildPackages({ dist, out: join(dir, 'deb2'), version: '0.1.0+test2' }).debs);
    console.log(
      `deb: built (with ${consoleCopied ? "the checks tier's console" : 'the console'}) in ${((t1 - t0) / 1000).toFixed(1)} s, packaged twice in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
    );
    // /var/lib/rollgate may hold others' files (a checkout's embedded PostgreSQL keeps fallback clusters in pg/).
    before = existsSync('/var/lib/rollgate') ? readdirSync('/var/lib/rollgate').sort() : [];
    pg = await startAppPostgres({ dir: join(dir, 'pg'), database: 'rollgate' });
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    cliEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, 'cli-config'),
      ROLLGATE_URL: `http://127.0.0.1:${ports.http}`,
      ROLLGATE_DATA_DIR: COORDINATOR_DATA,
    };
    // A cold `next build` on two busy cores takes minutes (docs/adr/0033).
  }, 900_000);

  afterAll(async () => {
    for (const s of running) await s.stop().catch(() => {});
    // Managed services the agent left running (KillMode=process) belong to the rollgate user.
    if (rollgateUid > 0) for (const pid of pidsOfUid(rollgateUid)) process.kill(pid, 'SIGKILL');
    await run('dpkg', ['--purge', ...PACKAGES]);
    await pg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('issue 16 item 2: dpkg -i installs the three packages with their files (the console too), the rollgate user and the conffiles', async () => {
    await ok('dpkg', ['-i', ...debs1]);
    for (const p of PACKAGES) expect(await packageStatus(p)).toBe('installed 0.1.0+test1');
    const files = (await ok('dpkg', ['-L', ...PACKAGES])).split('\n');
    expect(files).toEqual(
      expect.arrayContaining([
        '/usr/lib/rollgate/coordinator/main.cjs',
        '/usr/lib/rollgate/coordinator/migrations/meta/_journal.json',
        '/usr/lib/rollgate/coordinator/proto/rollgate/agent/v1/agent.proto',
        '/lib/systemd/system/rollgate-coordinator.service',
        '/etc/rollgate/coordinator.env',
        '/usr/lib/rollgate/console/rollgate-console.cjs',
        '/usr/lib/rollgate/console/apps/web/server.js',
        '/lib/systemd/system/rollgate-console.service',
        '/etc/rollgate/console.env',
        '/usr/lib/rollgate/agent/rollgate-agent.cjs',
        '/usr/lib/rollgate/agent/rollgate-agent-worker.cjs',
        '/lib/systemd/system/rollgate-agent.service',
        '/etc/rollgate/agent.json',
        '/usr/bin/rollgate',
      ]),
    );
    const user = (await ok('getent', ['passwd', 'rollgate'])).trim().split(':');
    rollgateUid = Number(user[2]);
    // dpkg-query prints each package's conffiles with no separator: one package a call.
    const conffiles = async (p: string) => ok('dpkg-query', ['-W', '-f=${Conffiles}', p]);
    expect(await conffiles('rollgate-coordinator')).toMatch(
      /^ \/etc\/rollgate\/coordinator\.env [0-9a-f]{32}\n \/etc\/rollgate\/console\.env [0-9a-f]{32}$/,
    );
    expect(await conffiles('rollgate-agent')).toMatch(/^ \/etc\/rollgate\/agent\.json [0-9a-f]{32}$/);
    expect(user[6]).toBe('/usr/sbin/nologin');
    const data = statSync(COORDINATOR_DATA);
    expect({ uid: data.uid, mode: (data.mode & 0o777).toString(8) }).toEqual({
      uid: rollgateUid,
      mode: '750',
    });
    // The environment file carries DATABASE_URL: root and the service's group only.
    const gid = Number(user[3]);
    for (const file of ['/etc/rollgate/coordinator.env', '/etc/rollgate/console.env']) {
      const st = statSync(file);
      expect({ file, uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }).toEqual({
        file,
        uid: 0,
        gid,
        mode: '640',
      });
    }
    // The console carries sharp's native module: the package is for this machine's architecture.
    expect(await ok('dpkg-query', ['-W', '-f=${Architecture}', 'rollgate-coordinator'])).toBe(
      (await ok('dpkg', ['--print-architecture'])).trim(),
    );
    expect(await ok('/usr/bin/rollgate', ['--version'])).toMatch(/^0\.1\.0 \(commit [0-9a-f]{12}\)\n$/);
    const consoleUnit = readUnit('rollgate-console.service');
    const [cmd, ...args] = asUser(consoleUnit, [...consoleUnit.execStart, '--version']);
    expect(await ok(cmd!, args)).toMatch(/^0\.1\.0 \(commit [0-9a-f]{12}\)\n$/);
    // Out of the box, the console's COORDINATOR_URL is where the coordinator's env file makes it listen.
    const coordinatorEnv = unitEnv(readUnit('rollgate-coordinator.service'));
    expect(unitEnv(consoleUnit).COORDINATOR_URL).toBe(
      `http://${coordinatorEnv.ROLLGATE_HTTP_HOST}:${coordinatorEnv.ROLLGATE_HTTP_PORT}`,
    );
  });

  it('issue 16 item 2: the coordinator refuses to start without DATABASE_URL (its ExecStartPre), with the reason', async () => {
    const unit = readUnit('rollgate-coordinator.service');
    const pre = unit.execStartPre[0]!;
    const [cmd, ...args] = asUser(unit, pre);
    const r = await run(cmd!, args, { env: unitEnv(unit) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'DATABASE_URL is not set: put the PostgreSQL URL in /etc/rollgate/coordinator.env',
    );
  });

  it('issue 16 item 2: the coordinator and two agents started as their units say, on Debian PostgreSQL; the agents enrol and `rollgate servers` shows them connected', async () => {
    // The operator's edits of the conffiles (kept by the upgrade below).
    const env = readFileSync('/etc/rollgate/coordinator.env', 'utf8');
    writeFileSync(
      '/etc/rollgate/coordinator.env',
      `${env}\n# deb.int.test.ts\nDATABASE_URL=${pg!.url}\nROLLGATE_HTTP_PORT=${ports.http}\nROLLGATE_GRPC_PORT=${ports.grpc}\nROLLGATE_ENROL_PORT=${ports.enrol}\n`,
    );
    const coordinator = (await startUnit('rollgate-coordinator.service')).started;
    running.push(coordinator);
    await waitFor(
      'the packaged coordinator to answer /healthz and /readyz',
      async () => {
        if (coordinator.proc.exitCode !== null)
          throw new FatalWait(
            `the coordinator exited ${coordinator.proc.exitCode}:\n${coordinator.output()}`,
          );
        const [h, r] = await Promise.all(
          ['healthz', 'readyz'].map((p) => fetch(`${cliEnv.ROLLGATE_URL}/${p}`)),
        );
        return h!.ok && r!.ok;
      },
      { timeoutMs: 60_000, everyMs: 200 },
    );
    // It runs as the unit's User= and keeps its data where the package put it.
    // (setpriv execs the program: the same pid.)
    expect(statSync(`/proc/${coordinator.proc.pid}`).uid).toBe(rollgateUid);
    // Ahead of the services on a busy host, as the agent (docs/adr/0054).
    expect(getPriority(coordinator.proc.pid!)).toBe(-5);
    expect(existsSync(join(COORDINATOR_DATA, 'bootstrap-secret'))).toBe(true);

    expect((await rollgate(['admin', 'init', '--username', 'root'], `${PASSWORD}\n`)).code).toBe(0);
    const login = await rollgate(['login', '--username', 'root'], `${PASSWORD}\n`);
    expect(login.stderr).toBe('');
    const joinToken = async () =>
      (
        JSON.parse(
          (await rollgate(['agents', 'token', 'create', '--cluster', CLUSTER, '--json'])).stdout,
        ) as {
          token: string;
        }
      ).token;

    const agentConfig = (id: string, dataDir: string, gate: number, port: number) =>
      `${JSON.stringify(
        {
          agentId: id,
          cluster: CLUSTER,
          role: 'web',
          coordinator: { address: `127.0.0.1:${ports.grpc}`, enrolAddress: `127.0.0.1:${ports.enrol}` },
          dataDir,
          gate: { host: '127.0.0.1', port: gate },
          services: [
            {
              name: APP,
              port,
              start: { command: '/usr/bin/python3', args: ['server.py'] },
              env: { PORT: String(port) },
              healthUrl: `http://127.0.0.1:${port}/health`,
              initialEdition: { name: '1.0', archive: join(dir, `${APP}-1.0.tar.gz`) },
            },
          ],
        },
        null,
        2,
      )}\n`;
    writeFileSync(
      '/etc/rollgate/agent.json',
      agentConfig(AGENT_ID, '/var/lib/rollgate-agent', ports.gate, ports.service),
    );
    // A second server (this machine plays two): the same unit with its own config and data directory.
    const data2 = join(dir, 'agent-2-data');
    mkdirSync(data2, { mode: 0o750 });
    chownSync(
      data2,
      rollgateUid,
      rollgateUid === -1 ? -1 : Number((await ok('id', ['-g', 'rollgate'])).trim()),
    );
    writeFileSync(join(dir, 'agent-2.json'), agentConfig(AGENT_2, data2, ports.gate2, ports.service2));
    writeFileSync('/etc/rollgate/agent.env', `ROLLGATE_JOIN_TOKEN=${await joinToken()}\n`, { mode: 0o600 });
    const agentStarted = Date.now();
    const { started: agent, pre } = await startUnit('rollgate-agent.service');
    running.push(agent);
    // ExecStartPre: --check-config validated the edited agent.json.
    expect(pre[0]!.stdout).toContain(`OK: /etc/rollgate/agent.json is valid (agent ${AGENT_ID}`);
    const second = (
      await startUnit('rollgate-agent.service', {
        config: ['/etc/rollgate/agent.json', join(dir, 'agent-2.json')],
        env: { ROLLGATE_JOIN_TOKEN: await joinToken() },
      })
    ).started;
    running.push(second);
    await waitForAgent(agent, agentStarted, AGENT_ID);
    await waitForAgent(second, agentStarted, AGENT_2);
  });

  it('issue 16 item 2: the console started as its unit says serves its sign-in page and static files, and signs in against the installed coordinator', async () => {
    // The operator's edit of console.env (kept by the upgrade below): its port, the coordinator's API.
    const env = readFileSync('/etc/rollgate/console.env', 'utf8');
    writeFileSync(
      '/etc/rollgate/console.env',
      `${env}\n# deb.int.test.ts\nPORT=${ports.console}\nCOORDINATOR_URL=${cliEnv.ROLLGATE_URL}\n`,
    );
    const web = await startConsole();
    expect(statSync(`/proc/${web.proc.pid}`).uid).toBe(rollgateUid);
    const page = await fetch(`${consoleUrl()}/login`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Sign in');
    // Next's static files, installed beside the server and readable by the rollgate user.
    const assets = [...new Set([...html.matchAll(/\/_next\/static\/[^"']+\.(?:css|js)/g)].map((m) => m[0]))];
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect({ asset, status: (await fetch(`${consoleUrl()}${asset}`)).status }).toEqual({
        asset,
        status: 200,
      });
    }
    // A wrong password is refused by the coordinator (not by the console), a right one signs in.
    const refused = await consoleSignIn('not the password');
    const answer = (await refused.json()) as { error: { code: string } };
    expect({ status: refused.status, code: answer.error.code }).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
    });
    consoleCookie = await consoleSessionCookie(await consoleSignIn(PASSWORD));
    // The fleet as the console shows it: the coordinator's servers.list, through the console's API.
    expect(Object.keys(await consoleServers(consoleCookie)).sort()).toEqual([AGENT_ID, AGENT_2]);
  });

  it('issue 16 item 2: an upgrade run of the two-server fleet, with the installed CLI, is paused before the packages are upgraded', async () => {
    const upload = await rollgate([
      'edition',
      'upload',
      '--app',
      APP,
      '--name',
      '2.0',
      '--file',
      join(dir, `${APP}-2.0.tar.gz`),
      '--json',
    ]);
    // (Its progress goes to stderr.)
    expect(upload.code, upload.stderr).toBe(0);
    const start = await rollgate([
      'upgrade',
      'start',
      '--cluster',
      CLUSTER,
      '--app',
      APP,
      '--edition',
      '2.0',
      '--drainage-interval',
      '1',
      '--no-sign-off',
      '--probe-path',
      '/',
      '--json',
    ]);
    expect(start.code, `${start.stdout}${start.stderr}`).toBe(0);
    runId = (JSON.parse(start.stdout) as { run: { id: string } }).run.id;
    expect(runId).toBeTruthy();
    expect((await rollgate(['upgrade', 'pause', runId, '--reason', 'package upgrade'])).code).toBe(0);
    await waitFor('the run to be paused', async () => (await runState()) === 'paused', {
      timeoutMs: 60_000,
      everyMs: 250,
    });
    // Paused part-way: a server is still on 1.0, so the rest of the run happens after the package upgrade.
    expect(Object.values(await activeEditions())).toContain(`${APP} 1.0`);
  });

  const consoleUrl = () => `http://127.0.0.1:${ports.console}`;
  let consoleCookie = '';

  /** Runs rollgate-console.service's lines; resolves once the sign-in page answers. */
  async function startConsole(): Promise<Started> {
    const web = (await startUnit('rollgate-console.service')).started;
    running.push(web);
    await waitFor(
      'the packaged console to answer /login',
      async () => {
        if (web.proc.exitCode !== null)
          throw new FatalWait(`the console exited ${web.proc.exitCode}:\n${web.output()}`);
        return (await fetch(`${consoleUrl()}/login`)).ok;
      },
      { timeoutMs: 60_000, everyMs: 200 },
    );
    return web;
  }

  /** What the sign-in page's form does: POST /api/session from the console's own origin. */
  function consoleSignIn(password: string): Promise<Response> {
    return fetch(`${consoleUrl()}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: consoleUrl() },
      body: JSON.stringify({ username: 'root', password }),
    });
  }

  async function consoleSessionCookie(res: Response): Promise<string> {
    const body = await res.text();
    expect({ status: res.status, body }).toMatchObject({ status: 200 });
    const cookie = res.headers.getSetCookie()[0]?.split(';')[0];
    expect(cookie).toMatch(/^[\w-]+=.+/);
    return cookie!;
  }

  /** servers.list through the console's API proxy with its session cookie: each server's `<service> <edition>`. */
  async function consoleServers(cookie: string): Promise<Record<string, string>> {
    const input = encodeURIComponent(JSON.stringify({ cluster: CLUSTER }));
    const res = await fetch(`${consoleUrl()}/api/trpc/servers.list?input=${input}`, {
      headers: { cookie },
    });
    const body = await res.text();
    expect({ status: res.status, body }).toMatchObject({ status: 200 });
    const servers = (
      JSON.parse(body) as {
        result: { data: { id: string; services: { name: string; activeEdition: string }[] }[] };
      }
    ).result.data;
    return Object.fromEntries(
      servers.map((x) => [x.id, x.services.map((v) => `${v.name} ${v.activeEdition}`).join(', ')]),
    );
  }

  /** `rollgate servers`: each server's `<service> <edition>`. */
  async function activeEditions(): Promise<Record<string, string>> {
    const servers = JSON.parse((await rollgate(['servers', '--cluster', CLUSTER, '--json'])).stdout) as {
      id: string;
      services: { name: string; activeEdition: string }[];
    }[];
    return Object.fromEntries(
      servers.map((x) => [x.id, x.services.map((v) => `${v.name} ${v.activeEdition}`).join(', ')]),
    );
  }

  async function runState(): Promise<string> {
    const r = await rollgate(['upgrade', 'status', runId, '--json']);
    if (!r.stdout) return `no status (exit ${r.code}): ${r.stderr}`;
    return (JSON.parse(r.stdout) as { run: { status: string } }).run.status;
  }

  /** Until `rollgate servers` shows the agent connected with a heartbeat after `since` (ms). */
  async function waitForAgent(agent: Started, since: number, id: string) {
    await waitFor(
      `agent ${id} to show as connected in \`rollgate servers\``,
      async () => {
        if (agent.proc.exitCode !== null)
          throw new FatalWait(`the agent exited ${agent.proc.exitCode}:\n${agent.output()}`);
        const r = await rollgate(['servers', '--cluster', CLUSTER, '--json']);
        if (r.code !== 0) return false;
        const s = (
          JSON.parse(r.stdout) as { id: string; status: string; lastHeartbeatAt: string | number | null }[]
        ).find((x) => x.id === id);
        return s?.status === 'connected' && new Date(s.lastHeartbeatAt ?? 0).getTime() >= since;
      },
      { timeoutMs: 60_000, everyMs: 250 },
    );
  }

  it('issue 16 item 2: dpkg -i of a newer build upgrades in place: data and the edited conffiles kept, the agents reconnect with their kept identities, the paused run resumes and succeeds, the upgraded console shows it', async () => {
    const ca = readFileSync(join(COORDINATOR_DATA, 'agent-ca/ca.crt'), 'utf8');
    const edited = readFileSync('/etc/rollgate/coordinator.env', 'utf8');
    const agentJson = readFileSync('/etc/rollgate/agent.json', 'utf8');
    const consoleEnv = readFileSync('/etc/rollgate/console.env', 'utf8');
    const consoleFiles = ['rollgate-console.cjs', 'apps/web/server.js'].map((f) =>
      join('/usr/lib/rollgate/console', f),
    );
    const inodes = consoleFiles.map((f) => statSync(f).ino);
    for (const s of running.splice(0)) await s.stop();
    // The join token was single-use: the upgraded agent must come back on the identity it kept.
    writeFileSync('/etc/rollgate/agent.env', '');
    await ok('dpkg', ['-i', ...debs2]);
    for (const p of PACKAGES) expect(await packageStatus(p)).toBe('installed 0.1.0+test2');
    expect(readFileSync('/etc/rollgate/coordinator.env', 'utf8')).toBe(edited);
    expect(readFileSync('/etc/rollgate/agent.json', 'utf8')).toBe(agentJson);
    expect(readFileSync('/etc/rollgate/console.env', 'utf8')).toBe(consoleEnv);
    expect(existsSync('/etc/rollgate/coordinator.env.dpkg-dist')).toBe(false);
    expect(existsSync('/etc/rollgate/console.env.dpkg-dist')).toBe(false);
    // dpkg unpacked the newer build's console over the old one (new files, not the same inodes).
    expect(consoleFiles.map((f, i) => statSync(f).ino === inodes[i])).toEqual([false, false]);
    expect(readFileSync(join(COORDINATOR_DATA, 'agent-ca/ca.crt'), 'utf8')).toBe(ca);
    expect(statSync(COORDINATOR_DATA).uid).toBe(rollgateUid);

    const coordinator = (await startUnit('rollgate-coordinator.service')).started;
    running.push(coordinator);
    await waitFor(
      'the upgraded coordinator to answer /readyz',
      async () => {
        if (coordinator.proc.exitCode !== null)
          throw new FatalWait(
            `the coordinator exited ${coordinator.proc.exitCode}:\n${coordinator.output()}`,
          );
        return (await fetch(`${cliEnv.ROLLGATE_URL}/readyz`)).ok;
      },
      { timeoutMs: 60_000, everyMs: 200 },
    );
    // The session saved before the upgrade still works: the database was kept.
    expect((await rollgate(['whoami'])).stdout).toContain('root');
    const agentStarted = Date.now();
    const agent = (await startUnit('rollgate-agent.service')).started;
    running.push(agent);
    const second = (
      await startUnit('rollgate-agent.service', {
        config: ['/etc/rollgate/agent.json', join(dir, 'agent-2.json')],
      })
    ).started;
    running.push(second);
    await waitForAgent(agent, agentStarted, AGENT_ID);
    await waitForAgent(second, agentStarted, AGENT_2);
    // The run paused before the upgrade resumes on the upgraded binaries and finishes.
    expect(await runState()).toBe('paused');
    expect((await rollgate(['upgrade', 'resume', runId])).code).toBe(0);
    await waitFor(
      'the resumed run to succeed',
      async () => {
        const state = await runState();
        if (['failed', 'aborted', 'rolled-back'].includes(state))
          throw new FatalWait(`the run ended ${state}`);
        return state === 'succeeded';
      },
      { timeoutMs: 120_000, everyMs: 500 },
    );
    expect(await activeEditions()).toEqual({ [AGENT_ID]: `${APP} 2.0`, [AGENT_2]: `${APP} 2.0` });
    expect(await (await fetch(`http://127.0.0.1:${ports.service}/`)).text()).toBe('2.0');
    // The console from the upgraded files, on its kept console.env: the session it signed in before
    // the upgrade still works, and it shows the fleet the resumed run finished.
    await startConsole();
    expect(await consoleServers(consoleCookie)).toEqual({
      [AGENT_ID]: `${APP} 2.0`,
      [AGENT_2]: `${APP} 2.0`,
    });
  });

  it('issue 16 item 2: dpkg --purge leaves nothing: files (the console too), conffiles, data, the rollgate user, processes', async () => {
    for (const s of running.splice(0)) await s.stop();
    // What the agent started (KillMode=process keeps it across agent restarts) is the operator's to stop.
    for (const pid of pidsOfUid(rollgateUid)) process.kill(pid, 'SIGTERM');
    await waitFor('the rollgate user to have no process', () => pidsOfUid(rollgateUid).length === 0, 30_000);
    await ok('dpkg', ['--purge', ...PACKAGES]);
    for (const p of PACKAGES) expect(await packageStatus(p)).not.toMatch(/^(installed|config-files)/);
    const left = [
      '/usr/lib/rollgate',
      '/usr/bin/rollgate',
      '/etc/rollgate',
      COORDINATOR_DATA,
      '/var/lib/rollgate-agent',
      '/lib/systemd/system/rollgate-coordinator.service',
      '/lib/systemd/system/rollgate-agent.service',
      '/usr/lib/rollgate/console',
      '/etc/rollgate/console.env',
      '/lib/systemd/system/rollgate-console.service',
    ].filter((p) => existsSync(p));
    expect(left).toEqual([]);
    // /var/lib/rollgate is gone, or holds only what was there before the test.
    expect(existsSync('/var/lib/rollgate') ? readdirSync('/var/lib/rollgate').sort() : []).toEqual(before);
    expect((await run('getent', ['passwd', 'rollgate'])).code).not.toBe(0);
    expect((await run('getent', ['group', 'rollgate'])).code).not.toBe(0);
    expect(processesMentioning('/usr/lib/rollgate/')).toEqual([]);
    expect(pidsOfUid(rollgateUid)).toEqual([]);
  });
});

describe('npm run package: bad input (issue 16 item 2)', () => {
  it('issue 16 item 2: a missing part of dist/, a bad version or an unknown package is refused with what to do, and nothing is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollgate-deb-bad-'));
    try {
      const out = join(dir, 'deb');
      expect(() => buildPackages({ dist: join(dir, 'dist'), out })).toThrow(
        `${join(dir, 'dist')}/coordinator/main.cjs is missing (the coordinator bundle): run \`npm run build\` first (or --dist DIR)`,
      );
      // The console is checked before anything is packaged, too.
      mkdirSync(join(dir, 'dist/coordinator'), { recursive: true });
      writeFileSync(join(dir, 'dist/coordinator/main.cjs'), '');
      expect(() => buildPackages({ dist: join(dir, 'dist'), out, only: ['coordinator'] })).toThrow(
        /web\/rollgate-console\.cjs is missing \(the console: `npm run build` without --only, or package with --no-console\)/,
      );
      expect(() => buildPackages({ dist: join(dir, 'dist'), out, version: '1.0/evil' })).toThrow(
        '1.0/evil is not a Debian version: digits first, then letters, digits and . + ~ (e.g. 0.1.0+test2)',
      );
      expect(() =>
        buildPackages({ dist: join(dir, 'dist'), out, only: ['web' as unknown as 'cli'] }),
      ).toThrow('unknown package web: choose among coordinator, agent, cli');
      expect(existsSync(out)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
