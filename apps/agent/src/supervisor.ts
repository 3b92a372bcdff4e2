// Starts, stops and re-adopts managed service processes, and runs their named commands.
//
// A service runs detached in its own process group, with its stdout/stderr appended straight to
// `<dataDir>/logs/<service>.log`, so it outlives an agent restart untouched. The pid file
// `<dataDir>/run/<service>.json` records pid + kernel start time, so a restarted agent re-adopts
// the process and never mistakes a recycled pid for it.
import { spawn } from 'node:child_process';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@rollgate/logger';
import { errorMessage, sleep, writeFileAtomic } from './fs-util';
import { tailFile, type Tail } from './tail-file';

/** The last 4 KiB (bytes, UTF-8) of a text, cut at a character boundary. */
export function tail4k(text: string): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= 4096) return text;
  return buf
    .subarray(buf.length - 4096)
    .toString('utf8')
    .replace(/^\uFFFD+/, '');
}

export interface PidRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: distinguishes our process from a later one with the same pid. */
  startTime: string | null;
  edition: string;
  startedAt: number;
}

/** Kernel start time and state of a pid, or undefined when there is no such process. */
async function procStat(pid: number): Promise<{ state: string; startTime: string } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and ')': fields resume after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', startTime: rest[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** True when pid is a live (not zombie) process with the recorded start time. */
export async function isAlive(pid: number, startTime: string | null = null): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const st = await procStat(pid);
  if (!st) return process.platform !== 'linux'; // no /proc: trust kill(0)
  if (st.state === 'Z' || st.state === 'X') return false;
  return startTime === null || st.startTime === startTime;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export interface SupervisorOptions {
  dataDir: string;
  /** Environment every child starts with (the agent's own); service env is layered on top. */
  baseEnv: Record<string, string>;
  log: Logger;
  /** A line of service or command output, for the log shipper (RG0190I). */
  onOutput: (service: string, line: string) => void;
  /** A supervised process went away (any reason): re-check health now. */
  onExit: (service: string) => void;
}

export interface StartSpec {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  edition: string;
}

export interface StopResult {
  alreadyStopped: boolean;
  /** SIGKILL was needed after timeoutMs. */
  killed: boolean;
  ms: number;
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lastLine: string;
  /** The last 4 KiB of its output (stdout and stderr lines, in arrival order). */
  outputTail: string;
  timedOut: boolean;
  ms: number;
}

interface Running {
  rec: PidRecord;
  tail?: Tail;
  stopping: boolean;
}

export interface Supervisor {
  /** Reads the pid file; keeps the record when the process is still the one we started. */
  adopt(service: string): Promise<PidRecord | undefined>;
  running(service: string): PidRecord | undefined;
  /** Re-checks liveness (e.g. each health poll); forgets a process that died while not ours. */
  refresh(service: string): Promise<boolean>;
  start(service: string, spec: StartSpec): Promise<PidRecord>;
  /** SIGTERM the process group, wait up to timeoutMs, then SIGKILL. */
  stop(service: string, timeoutMs: number, signal?: AbortSignal): Promise<StopResult>;
  runCommand(
    service: string,
    spec: Omit<StartSpec, 'edition'>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<CommandResult>;
  close(): void;
}

export function createSupervisor(opts: SupervisorOptions): Supervisor {
  const procs = new Map<string, Running>();
  const runDir = join(opts.dataDir, 'run');
  const logDir = join(opts.dataDir, 'logs');
  const pidFile = (s: string) => join(runDir, `${s}.json`);
  const logFile = (s: string) => join(logDir, `${s}.log`);

  async function follow(service: string, r: Running) {
    r.tail?.stop();
    r.tail = await tailFile({ path: logFile(service), onLine: (line) => opts.onOutput(service, line) });
  }

  async function forget(service: string) {
    const r = procs.get(service);
    if (r?.tail) {
      await r.tail.poll().catch(() => {}); // ship the last words (e.g. the shutdown line)
      r.tail.stop();
    }
    procs.delete(service);
    await rm(pidFile(service), { force: true });
  }

  return {
    async adopt(service) {
      let rec: PidRecord;
      try {
        rec = JSON.parse(await readFile(pidFile(service), 'utf8')) as PidRecord;
      } catch {
        return undefined;
      }
      if (!(await isAlive(rec.pid, rec.startTime))) {
        opts.log.info({ service, pid: rec.pid }, 'service recorded in pid file is no longer running');
        await rm(pidFile(service), { force: true });
        return undefined;
      }
      const r: Running = { rec, stopping: false };
      procs.set(service, r);
      await follow(service, r);
      opts.log.info({ service, pid: rec.pid, edition: rec.edition }, 're-adopted running service');
      return rec;
    },

    running: (service) => procs.get(service)?.rec,

    async refresh(service) {
      const r = procs.get(service);
      if (!r) return false;
      if (await isAlive(r.rec.pid, r.rec.startTime)) return true;
      if (!r.stopping) {
        opts.log.warn({ service, pid: r.rec.pid }, 'service process is gone');
        await forget(service);
        opts.onExit(service);
      }
      return false;
    },

    async start(service, spec) {
      await mkdir(runDir, { recursive: true });
      await mkdir(logDir, { recursive: true });
      const fd = openSync(logFile(service), 'a');
      const startAt = fstatSync(fd).size; // ship output from the very first line
      let child;
      try {
        child = spawn(spec.command, spec.args, {
          cwd: spec.cwd,
          env: spec.env,
          detached: true, // own process group: stop() signals the whole group, and we may exit first
          stdio: ['ignore', fd, fd],
        });
      } finally {
        closeSync(fd); // the child holds its own copy
      }
      // Listen for exit before any await, so an instant crash is not missed.
      const seen: { r?: Running; exited: boolean } = { exited: false };
      child.once('exit', (code, sig) => {
        seen.exited = true;
        const r = seen.r;
        if (!r || procs.get(service) !== r) return;
        if (!r.stopping) {
          opts.log.warn({ service, pid: child.pid, code, signal: sig }, 'service exited on its own');
        }
        void forget(service).then(() => opts.onExit(service));
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (err) =>
          reject(new Error(`could not start ${spec.command}: ${errorMessage(err)}`)),
        );
      });
      const pid = child.pid;
      if (pid === undefined) throw new Error(`could not start ${spec.command}: no pid`);
      child.unref();
      const rec: PidRecord = {
        pid,
        startTime: (await procStat(pid))?.startTime ?? null,
        edition: spec.edition,
        startedAt: Date.now(),
      };
      await writeFileAtomic(pidFile(service), `${JSON.stringify(rec)}\n`);
      const r: Running = { rec, stopping: false };
      seen.r = r;
      procs.set(service, r);
      r.tail = await tailFile({
        path: logFile(service),
        onLine: (line) => opts.onOutput(service, line),
        startAt,
      });
      if (seen.exited) {
        await forget(service);
        opts.onExit(service);
      }
      return rec;
    },

    async stop(service, timeoutMs, signal) {
      const started = performance.now();
      const r = procs.get(service);
      if (!r || !(await isAlive(r.rec.pid, r.rec.startTime))) {
        if (r) await forget(service);
        return { alreadyStopped: true, killed: false, ms: 0 };
      }
      r.stopping = true;
      const pid = r.rec.pid;
      killGroup(pid, 'SIGTERM');
      let killed = false;
      const deadline = started + timeoutMs;
      while (await isAlive(pid, r.rec.startTime)) {
        if (signal?.aborted) throw signal.reason;
        if (performance.now() >= deadline) {
          if (killed) break;
          opts.log.warn({ service, pid, timeoutMs }, 'service ignored SIGTERM; sending SIGKILL');
          killGroup(pid, 'SIGKILL');
          killed = true;
        }
        await sleep(killed ? 20 : 50);
        if (killed && performance.now() > deadline + 5000) {
          throw new Error(`${service} (pid ${pid}) survived SIGKILL for 5 s`);
        }
      }
      await forget(service);
      opts.onExit(service);
      return { alreadyStopped: false, killed, ms: Math.round(performance.now() - started) };
    },

    async runCommand(service, spec, timeoutMs, signal) {
      await mkdir(logDir, { recursive: true });
      const started = performance.now();
      const child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env,
        detached: true, // own group, so a timeout also stops whatever the command spawned
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let lastLine = '';
      let outputTail = '';
      let timedOut = false;
      const onData = (partial: { rest: string }) => (chunk: Buffer) => {
        const lines = (partial.rest + chunk.toString('utf8')).split('\n');
        partial.rest = lines.pop() ?? '';
        for (const line of lines) emit(line);
      };
      const emit = (line: string) => {
        if (line.trim() === '') return;
        lastLine = line.slice(0, 500);
        outputTail += `${line}\n`;
        if (outputTail.length > 8192) outputTail = outputTail.slice(-4096);
        opts.onOutput(service, line);
        void appendFile(logFile(service), `${line}\n`).catch(() => {});
      };
      const out = { rest: '' };
      const err = { rest: '' };
      child.stdout?.on('data', onData(out));
      child.stderr?.on('data', onData(err));
      const kill = () => {
        if (child.pid !== undefined) killGroup(child.pid, 'SIGTERM');
        setTimeout(() => child.pid !== undefined && killGroup(child.pid, 'SIGKILL'), 2000).unref();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, timeoutMs);
      const onAbort = () => kill();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
          child.once('error', (e) => reject(new Error(`could not run ${spec.command}: ${errorMessage(e)}`)));
          child.once('close', (c, s) => resolve([c, s]));
        });
        emit(out.rest);
        emit(err.rest);
        if (signal?.aborted) throw signal.reason;
        return {
          code,
          signal: sig,
          lastLine,
          outputTail: tail4k(outputTail),
          timedOut,
          ms: Math.round(performance.now() - started),
        };
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    },

    close() {
      // Stop following logs only; the services themselves keep running while the agent is away.
      for (const r of procs.values()) r.tail?.stop();
    },
  };
}
