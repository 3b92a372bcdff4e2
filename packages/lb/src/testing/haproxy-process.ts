// Starts a real HAProxy for tests: master-worker mode in the foreground (-W -db), its config, pid
// file and runtime socket in a fresh temp directory; resolves once the runtime socket answers.
// Reload is the master's SIGUSR2 (the new worker takes over the listeners; the old one finishes
// its sessions), stop is SIGTERM to the master, which takes its worker with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FatalWait, waitFor } from '@rollgate/test-kit';
import { createHaproxyRuntime } from '../haproxy-runtime';

export interface HaproxyPaths {
  /** The temp directory holding haproxy.cfg, the pid file and the socket. */
  dir: string;
  /** Where the runtime API socket is (or must be) put. */
  socketPath: string;
}

export interface StartHaproxyOptions {
  /**
   * haproxy.cfg text, or a function of the paths chosen by the helper. Without a "stats socket"
   * line, `stats socket <dir>/admin.sock mode 600 level admin` is added to the global section (one
   * is created when missing); with one, its path is used.
   */
  config: string | ((paths: HaproxyPaths) => string);
  /** HAProxy binary; default /usr/sbin/haproxy if present, else `haproxy` from PATH. */
  binary?: string;
  /** How long to wait for the runtime socket to answer; default 10000 ms. */
  startTimeoutMs?: number;
}

export interface HaproxyProcess {
  /** The master's pid (stable across reloads). */
  readonly pid: number;
  /** The current worker's pid (changes on reload). */
  readonly workerPid: number;
  readonly socketPath: string;
  readonly dir: string;
  readonly configPath: string;
  /** HAProxy's stdout+stderr so far (warnings, server state changes), for test failure messages. */
  output(): string;
  /** Rewrites the config (when given) and reloads: resolves when a new worker answers. */
  reload(config?: string | ((paths: HaproxyPaths) => string)): Promise<void>;
  /** Stops HAProxy (SIGTERM, then SIGKILL after 5 s) and removes the temp directory. */
  stop(): Promise<void>;
}

/** Finds the haproxy binary or throws saying how to install it. */
export function findHaproxy(): string {
  const candidates = [
    '/usr/sbin/haproxy',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'haproxy')),
    '/usr/local/sbin/haproxy',
  ];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(
    'haproxy not found (looked in /usr/sbin/haproxy and PATH): install it with "apt-get install -y haproxy" ' +
      '(npm test installs it through tools/scripts/ensure-system-deps.sh)',
  );
}

/** Puts a `stats socket` line in the config's global section unless it has one; returns the socket path. */
export function withStatsSocket(config: string, socketPath: string): { config: string; socketPath: string } {
  const existing = /^\s*stats\s+socket\s+(?:unix@)?(\S+)/m.exec(config);
  if (existing?.[1]) return { config, socketPath: existing[1] };
  const line = `    stats socket ${socketPath} mode 600 level admin expose-fd listeners`;
  if (/^global\s*$/m.test(config))
    return { config: config.replace(/^global\s*$/m, `global\n${line}`), socketPath };
  return { config: `global\n${line}\n\n${config}`, socketPath };
}

const exited = (child: ChildProcess) =>
  new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res();
    else child.once('exit', () => res());
  });

/** Every HAProxy started here, stopped if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyProcess> {
  const binary = opts.binary ?? findHaproxy();
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-haproxy-'));
  const paths: HaproxyPaths = { dir, socketPath: join(dir, 'admin.sock') };
  const configPath = join(dir, 'haproxy.cfg');
  const pidFile = join(dir, 'haproxy.pid');

  const render = (c: string | ((p: HaproxyPaths) => string)) =>
    withStatsSocket(typeof c === 'function' ? c(paths) : c, paths.socketPath);
  const first = render(opts.config);
  const socketPath = first.socketPath;
  await writeFile(configPath, first.config);

  let out = '';
  const child = spawn(binary, ['-W', '-db', '-f', configPath, '-p', pidFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 64_000) out = out.slice(-48_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const spawnError = new Promise<Error>((res) => child.once('error', res));
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A crashed or interrupted test run must not leave HAProxy holding ports.
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }

  const runtime = createHaproxyRuntime({ socketPath, timeoutMs: 1000 });
  const workerPidNow = async (): Promise<number | undefined> => {
    try {
      const m = /^Pid: (\d+)$/m.exec(await runtime.raw('show info'));
      return m?.[1] ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  };
  const waitForWorker = (what: string, notPid?: number): Promise<number> =>
    waitFor(
      `haproxy to answer on ${socketPath} ${what}`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new FatalWait(
            `haproxy exited (${child.exitCode ?? child.signalCode}) ${what}; config ${configPath}:\n${out.trim()}`,
          );
        }
        const pid = await workerPidNow();
        return pid !== undefined && pid !== notPid ? pid : undefined;
      },
      { timeoutMs: startTimeoutMs, everyMs: 25, diagnostics: () => `output:\n${out.trim()}` },
    );

  let workerPid: number;
  try {
    workerPid = await Promise.race([
      waitForWorker('while starting'),
      spawnError.then((err) => {
        throw new Error(`cannot run ${binary}: ${err.message}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    await exited(child);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped = false;
  return {
    pid: child.pid ?? -1,
    get workerPid() {
      return workerPid;
    },
    socketPath,
    dir,
    configPath,
    output: () => out,
    async reload(config) {
      if (config !== undefined) {
        const next = render(config);
        if (next.socketPath !== socketPath)
          throw new Error(`reload cannot move the stats socket (${socketPath} -> ${next.socketPath})`);
        await writeFile(configPath, next.config);
      }
      const old = workerPid;
      child.kill('SIGUSR2');
      workerPid = await waitForWorker('after reload', old);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited(child);
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts HAProxy with a frontend on a free loopback port. A port found free can be taken by
 * another process before HAProxy binds it (tests and benches run side by side), so on "Address
 * already in use" it tries again with another port.
 * @param build the config for a given frontend port
 * @param attempts default 5
 */
export async function startHaproxyOnFreePort(
  build: (port: number, paths: HaproxyPaths) => string | Promise<string>,
  freePort: () => Promise<number>,
  attempts = 5,
): Promise<{ haproxy: HaproxyProcess; port: number }> {
  for (let i = 1; ; i++) {
    const port = await freePort();
    const config = await build(port, { dir: '', socketPath: '' });
    try {
      return { haproxy: await startHaproxy({ config }), port };
    } catch (err) {
      if (i >= attempts || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}
