// Starts, stops and re-adopts managed service processes, and runs their named commands.
//
// A service runs detached in its own process group, with its stdout/stderr going through its log
// relay (log-relay.ts, rotating `<dataDir>/logs/<service>.log` by size), so both outlive an agent
// restart untouched. The pid file `<dataDir>/run/<service>.json` records pid + kernel start time,
// so a restarted agent re-adopts the process and never mistakes a recycled pid for it.
//
// A service that exits on its own is restarted by its restart policy, with exponential back-off,
// until it has restarted maxRestarts times in windowMs: then the supervisor gives up and reports a
// crash loop. A stop the agent asked for (stop op, rollout) is never followed by a restart
// (docs/adr/0023). When the agent runs as root a service may run as its own user and group.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@rollgate/logger';
import { errorMessage, replaceFile, sleep } from '../lib/fs-util';
import { atNicenessZero } from '../lib/niceness';
import { DEFAULT_LOG_ROTATION, startLogRelay, type LogRotation } from './log-relay';
import { resolveRunAs, type RunAs } from './run-as';
import { tailFile, type Tail } from './tail-file';

export type { LogRotation } from './log-relay';
export { DEFAULT_LOG_ROTATION } from './log-relay';

/** When a service that exited on its own is started again (services[].restart). */
export interface RestartPolicy {
  /** on-failure: after a non-zero exit or a signal; always: after any exit; never. Default on-failure. */
  policy: 'on-failure' | 'always' | 'never';
  /** First delay, ms, doubled after each restart up to maxBackoffMs; default 1000. */
  backoffMs: number;
  /** Longest delay, ms; default 30000. A run that lasted this long resets the delay. */
  maxBackoffMs: number;
  /** Restarts allowed within windowMs before giving up (a crash loop); default 10. */
  maxRestarts: number;
  /** The window, ms; default 10 min. */
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  policy: 'on-failure',
  backoffMs: 1000,
  maxBackoffMs: 30_000,
  maxRestarts: 10,
  windowMs: 10 * 60_000,
};

/** How one `process` service is run beyond its command (services[] restart, user, group, log). */
export interface ProcessOptions {
  restart?: RestartPolicy;
  /** Run as this user (name or uid); the agent must be root. Default: the agent's user. */
  user?: string;
  /** Run as this group (name or gid); default the user's primary group. */
  group?: string;
  /** Log rotation; default 10 MiB × 5 files. */
  log?: LogRotation;
}

/** What the supervisor did on its own, for the agent's log and the coordinator. */
export interface SupervisorEvent {
  service: string;
  kind: 'crashed' | 'restarted' | 'restart-failed' | 'crash-loop' | 'not-restarted';
  /** One sentence for an operator (what happened and what comes next). */
  detail: string;
  pid?: number;
  /** Restarts within the policy's window so far. */
  restarts?: number;
  /** The delay before the next restart, when one is scheduled. */
  delayMs?: number;
}

/** A service's restart state, for status pages. */
export interface RestartState {
  /** Restarts within the current window. */
  restarts: number;
  /** Restarts since the agent started (or the last start asked for). */
  total: number;
  /** A restart is scheduled (back-off running). */
  pending: boolean;
  /** Given up: restarted maxRestarts times within windowMs. */
  crashLoop: boolean;
  /** How the last process ended, e.g. "exit code 1" or "signal SIGKILL". */
  lastExit: string | null;
}

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
  /** The log relay's pid and start time (absent for a process started before log rotation). */
  logPid?: number;
  logStartTime?: string | null;
  /** The ids the service runs as, when not the agent's. */
  uid?: number;
  gid?: number;
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

/** Sleeps `ms`, or less when `child` (a process this agent spawned) exits first. */
function exitOrSleep(child: ChildProcess | undefined, ms: number): Promise<void> {
  if (!child) return sleep(ms);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      child.off('exit', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    child.once('exit', done);
  });
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
  /**
   * Restart policy, user, group and log rotation of a service (the key may be "<name>@beside");
   * default: none of them set, i.e. DEFAULT_RESTART_POLICY, the agent's user, DEFAULT_LOG_ROTATION.
   */
  processOptions?: (service: string) => ProcessOptions | undefined;
  /** A crash, a restart, a crash loop: reported by the agent (log line, coordinator). */
  onEvent?: (event: SupervisorEvent) => void;
  /**
   * The agent's own niceness. Its unit runs it below 0 (Nice=-5, docs/adr/0047) so its steps and
   * health answers are prompt on a busy server; what it starts (services, their commands) runs at
   * 0 all the same, through `nice`. Default: this process's (os.getPriority()).
   */
  agentNiceness?: number;
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
  /** Set for a process this supervisor spawned: its exit event reports the exit status. */
  child?: ChildProcess;
  /** Resolves when the log relay this supervisor spawned has exited (absent when adopted). */
  relayGone?: Promise<void>;
  /** How it was started, for a restart (undefined when an adopted process left no spec file). */
  spec?: StartSpec;
}

interface RestartBook {
  /** Times of restarts within the window. */
  history: number[];
  total: number;
  /** Consecutive quick crashes: the back-off exponent. */
  streak: number;
  timer?: NodeJS.Timeout;
  crashLoop: boolean;
  lastExit: string | null;
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
  /** Restarts and crash-loop state of a service (zeros before any crash). */
  restartState(service: string): RestartState;
  /** Restarts the supervisor made on its own since the agent started. */
  restarts(service: string): number;
  /** Stops following logs and cancels scheduled restarts; the services keep running. */
  close(): void;
}

const exitText = (code: number | null, sig: NodeJS.Signals | null) =>
  sig ? `signal ${sig}` : code === null ? 'an unknown status' : `exit code ${code}`;

export function createSupervisor(opts: SupervisorOptions): Supervisor {
  const procs = new Map<string, Running>();
  const books = new Map<string, RestartBook>();
  /** A restart under way: stop() and start() wait for it, so neither races a half-started process. */
  const launching = new Map<string, Promise<unknown>>();
  let closed = false;
  const runDir = join(opts.dataDir, 'run');
  const logDir = join(opts.dataDir, 'logs');
  const agentNiceness = opts.agentNiceness ?? getPriority();
  const pidFile = (s: string) => join(runDir, `${s}.json`);
  // The spec a restart needs (command, cwd, env): readable by the agent only, as env may hold secrets.
  const specFile = (s: string) => join(runDir, `${s}.spec.json`);
  const logFile = (s: string) => join(logDir, `${s}.log`);
  const optionsOf = (s: string): ProcessOptions => opts.processOptions?.(s) ?? {};
  const policyOf = (s: string): RestartPolicy => optionsOf(s).restart ?? DEFAULT_RESTART_POLICY;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

  function bookOf(service: string): RestartBook {
    let b = books.get(service);
    if (!b) {
      b = { history: [], total: 0, streak: 0, crashLoop: false, lastExit: null };
      books.set(service, b);
    }
    return b;
  }

  function report(e: SupervisorEvent) {
    // The agent logs (and ships) what it is handed; without a listener the line goes to our log.
    if (opts.onEvent) return opts.onEvent(e);
    const level = e.kind === 'crash-loop' || e.kind === 'restart-failed' ? 'error' : 'warn';
    opts.log[e.kind === 'restarted' ? 'info' : level](
      { service: e.service, pid: e.pid, restarts: e.restarts, delayMs: e.delayMs },
      e.detail,
    );
  }

  async function follow(service: string, r: Running) {
    r.tail?.stop();
    r.tail = await tailFile({ path: logFile(service), onLine: (line) => opts.onOutput(service, line) });
  }

  async function forget(service: string) {
    const r = procs.get(service);
    if (r?.rec.logPid !== undefined) {
      // The relay writes the last lines when the pipe closes: wait for it (bounded: a grandchild
      // that inherited the service's output may hold the pipe open for longer).
      // It ends within a few ms of the service (a stop waits on this): look soon, then less often.
      if (r.relayGone) {
        // Our own child: its exit event says when, no looking needed.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([r.relayGone, new Promise((ok) => (timer = setTimeout(ok, 2000)))]);
        clearTimeout(timer);
      } else {
        const until = performance.now() + 2000;
        for (let looks = 0; performance.now() < until; looks++) {
          if (!(await isAlive(r.rec.logPid, r.rec.logStartTime ?? null))) break;
          await sleep(Math.min(20, 2 ** looks));
        }
      }
    }
    if (r?.tail) {
      await r.tail.poll().catch(() => {}); // ship the last words (e.g. the shutdown line)
      r.tail.stop();
    }
    if (procs.get(service) === r) procs.delete(service);
    // A pid file left behind (a read-only or failing disk) reads as "not running" to the next agent
    // (pid and start time must both match); failing here would hide the exit from everyone.
    await rm(pidFile(service), { force: true }).catch(() => undefined);
  }

  async function readSpec(service: string): Promise<StartSpec | undefined> {
    try {
      return JSON.parse(await readFile(specFile(service), 'utf8')) as StartSpec;
    } catch {
      return undefined;
    }
  }

  async function writeSpec(service: string, spec: StartSpec) {
    const tmp = `${specFile(service)}.tmp`;
    await rm(tmp, { force: true });
    await writeFile(tmp, `${JSON.stringify(spec)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, specFile(service));
  }

  /**
   * A process went away without the agent asking: reports it and, if its policy says so,
   * schedules a restart after the back-off — or gives up when the window's restarts are spent.
   */
  function crashed(
    service: string,
    rec: PidRecord,
    exit: { code: number | null; signal: NodeJS.Signals | null } | null,
    spec: StartSpec | undefined,
  ) {
    const book = bookOf(service);
    const policy = policyOf(service);
    const how = exit
      ? exitText(exit.code, exit.signal)
      : 'an unknown status (it ended while this agent was not watching it)';
    book.lastExit = how;
    const ran = Date.now() - rec.startedAt;
    const what = `${service} (pid ${rec.pid}, edition ${rec.edition}) exited on its own with ${how} after ${secs(ran)}`;
    const failed = exit === null || exit.signal !== null || exit.code !== 0;
    if (policy.policy === 'never' || (policy.policy === 'on-failure' && !failed)) {
      report({
        service,
        kind: 'not-restarted',
        pid: rec.pid,
        detail: `${what}; not restarted (restart policy "${policy.policy}"); a start op starts it again`,
      });
      return;
    }
    if (!spec) {
      report({
        service,
        kind: 'not-restarted',
        pid: rec.pid,
        detail: `${what}; not restarted: this agent does not know its start command (no ${specFile(service)}); a start op starts it again`,
      });
      return;
    }
    const now = Date.now();
    book.history = book.history.filter((t) => now - t < policy.windowMs);
    if (book.history.length >= policy.maxRestarts) {
      book.crashLoop = true;
      report({
        service,
        kind: 'crash-loop',
        pid: rec.pid,
        restarts: book.history.length,
        detail: `${what}; crash loop: it was restarted ${book.history.length} times within ${secs(policy.windowMs)}, giving up; fix the service (see ${logFile(service)}), then start it again (a start op or a rollout)`,
      });
      return;
    }
    if (ran >= policy.maxBackoffMs) book.streak = 0; // it had been stable: back to the first delay
    const delayMs = Math.min(policy.backoffMs * 2 ** book.streak, policy.maxBackoffMs);
    book.streak += 1;
    report({
      service,
      kind: 'crashed',
      pid: rec.pid,
      restarts: book.history.length,
      delayMs,
      detail: `${what}; restarting in ${secs(delayMs)} (restart ${book.history.length + 1} of at most ${policy.maxRestarts} within ${secs(policy.windowMs)}, policy "${policy.policy}")`,
    });
    clearTimeout(book.timer);
    book.timer = setTimeout(() => {
      book.timer = undefined;
      const p = restartNow(service, spec, how).finally(() => launching.delete(service));
      launching.set(service, p);
    }, delayMs);
    book.timer.unref();
  }

  async function restartNow(service: string, spec: StartSpec, after: string) {
    if (closed || procs.has(service)) return;
    if (
      !(await stat(spec.cwd).then(
        () => true,
        () => false,
      ))
    ) {
      // Uninstalled (or its edition removed) while the restart waited: nothing left to start.
      report({
        service,
        kind: 'not-restarted',
        detail: `${service} not restarted after ${after}: its directory ${spec.cwd} is gone (edition ${spec.edition} uninstalled?); a start op starts the active edition`,
      });
      return;
    }
    const book = bookOf(service);
    book.history.push(Date.now());
    book.total += 1;
    try {
      const rec = await launch(service, spec);
      report({
        service,
        kind: 'restarted',
        pid: rec.pid,
        restarts: book.history.length,
        detail: `${service} restarted after ${after}: pid ${rec.pid}, edition ${rec.edition}`,
      });
    } catch (err) {
      report({
        service,
        kind: 'restart-failed',
        restarts: book.history.length,
        detail: `${service} could not be restarted: ${errorMessage(err)}`,
      });
      // A start that fails counts as a crash: the back-off and the crash-loop bound apply.
      crashed(service, { pid: 0, startTime: null, edition: spec.edition, startedAt: Date.now() }, null, spec);
    }
  }

  /** A process went away: forget it, re-check health, and apply the restart policy. */
  async function exited(
    service: string,
    r: Running,
    exit: { code: number | null; signal: NodeJS.Signals | null } | null,
  ) {
    // Closed: this supervisor no longer owns anything (a new agent may have adopted the process).
    if (closed || procs.get(service) !== r) return;
    if (r.stopping) {
      await forget(service);
      opts.onExit(service);
      return;
    }
    await forget(service);
    opts.onExit(service);
    crashed(service, r.rec, exit, r.spec);
  }

  async function launch(service: string, spec: StartSpec): Promise<PidRecord> {
    const po = optionsOf(service);
    let runAs: RunAs | undefined;
    if (po.user !== undefined) runAs = await resolveRunAs(service, po.user, po.group);
    else if (po.group !== undefined) {
      throw new Error(`${service}: "group" is set without "user"; give services[].user too`);
    }
    await mkdir(runDir, { recursive: true });
    await mkdir(logDir, { recursive: true });
    const file = logFile(service);
    // The file exists before the relay starts, so the tail holds it from the first line on and
    // follows every rotation from there (a burst may rotate before the relay's first poll).
    const fh = await open(file, 'a', 0o640);
    let startAt: number;
    try {
      if (runAs) await fh.chown(runAs.uid, runAs.gid);
      startAt = (await fh.stat()).size; // ship output from the very first line
    } finally {
      await fh.close();
    }
    const tail = await tailFile({ path: file, onLine: (line) => opts.onOutput(service, line), startAt });
    try {
      return await spawnWithRelay(service, spec, file, po, runAs, tail);
    } catch (err) {
      tail.stop();
      throw err;
    }
  }

  /**
   * The log relay on a just-started service's stdout and stderr, with its start and its end as
   * promises listened to at once (its 'spawn' comes on the next tick, before any await of ours).
   */
  function relayOn(child: ChildProcess, file: string, po: ProcessOptions, runAs: RunAs | undefined) {
    if (!child.stdout || !child.stderr) throw new Error('the service was started without output pipes');
    const proc = startLogRelay(
      { file, rotation: po.log ?? DEFAULT_LOG_ROTATION, uid: runAs?.uid, gid: runAs?.gid },
      { stdout: child.stdout, stderr: child.stderr },
    );
    const up = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (err) => reject(new Error(`could not start the log relay: ${errorMessage(err)}`)));
    });
    up.catch(() => undefined); // awaited after the service's own start, not unhandled meanwhile
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    return { proc, up, gone };
  }

  async function spawnWithRelay(
    service: string,
    spec: StartSpec,
    file: string,
    po: ProcessOptions,
    runAs: RunAs | undefined,
    tail: Tail,
  ): Promise<PidRecord> {
    // The service first, the relay after it on the service's pipes: the relay's start (a fork and a
    // Node boot) is then not on the way to the service's (docs/adr/0057).
    const run = atNicenessZero(spec.command, spec.args, agentNiceness);
    const child = spawn(run.command, run.args, {
      cwd: spec.cwd,
      env: runAs ? { ...spec.env, USER: runAs.user, LOGNAME: runAs.user, HOME: runAs.home } : spec.env,
      detached: true, // own process group: stop() signals the whole group, and we may exit first
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    // Listen for exit before any await, so an instant crash is not missed.
    const seen: { r?: Running; exit?: { code: number | null; signal: NodeJS.Signals | null } } = {};
    child.once('exit', (code, sig) => {
      seen.exit = { code, signal: sig };
      if (seen.r) void exited(service, seen.r, seen.exit);
    });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => {
        const hint =
          runAs && /EACCES|EPERM/.test(errorMessage(err))
            ? `; user ${runAs.user} (uid ${runAs.uid}) must be able to reach ${spec.cwd} and run ${spec.command} (every parent directory needs o+x or group access)`
            : '';
        reject(new Error(`could not start ${spec.command}: ${errorMessage(err)}${hint}`));
      });
    });
    let relay: ReturnType<typeof relayOn> | undefined;
    try {
      // No pid: the service did not start, and `spawned` says why.
      if (child.pid !== undefined) relay = relayOn(child, file, po, runAs);
    } finally {
      // The relay holds its own copies: it sees end of input when the service and its children go.
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
    await spawned;
    const pid = child.pid;
    if (pid === undefined || !relay) throw new Error(`could not start ${spec.command}: no pid`);
    try {
      await relay.up;
    } catch (err) {
      // Nothing would read its output: it would block on a full pipe. It has not been reported.
      killGroup(pid, 'SIGKILL');
      throw err;
    }
    const { proc: relayProc, gone: relayGone } = relay;
    relayProc.unref();
    child.unref();
    const rec: PidRecord = {
      pid,
      startTime: (await procStat(pid))?.startTime ?? null,
      edition: spec.edition,
      startedAt: Date.now(),
      ...(relayProc.pid === undefined
        ? {}
        : { logPid: relayProc.pid, logStartTime: (await procStat(relayProc.pid))?.startTime ?? null }),
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    };
    // The pid file stays the agent's (not the service user's): it names the process group the
    // agent signals, so a service able to rewrite it could have the agent kill anything. Not
    // fsync'd (docs/adr/0050): it serves an agent restart, and no process outlives a power loss.
    await replaceFile(pidFile(service), `${JSON.stringify(rec)}\n`);
    await writeSpec(service, spec);
    const r: Running = { rec, stopping: false, child, spec, tail, relayGone };
    procs.set(service, r);
    seen.r = r;
    if (seen.exit) await exited(service, r, seen.exit);
    return rec;
  }

  /** Cancels a scheduled restart and waits for one under way. */
  async function settle(service: string) {
    const book = books.get(service);
    if (book?.timer) {
      clearTimeout(book.timer);
      book.timer = undefined;
    }
    await launching.get(service)?.catch(() => {});
  }

  const api: Supervisor = {
    async adopt(service) {
      let rec: PidRecord;
      try {
        rec = JSON.parse(await readFile(pidFile(service), 'utf8')) as PidRecord;
      } catch {
        return undefined;
      }
      if (!(await isAlive(rec.pid, rec.startTime))) {
        // No stop removed the pid file: the service ended while the agent was away.
        opts.log.info({ service, pid: rec.pid }, 'service recorded in pid file is no longer running');
        await rm(pidFile(service), { force: true });
        crashed(service, rec, null, await readSpec(service));
        return undefined;
      }
      const r: Running = { rec, stopping: false, spec: await readSpec(service) };
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
      // Our own child: its exit event (with the exit status) does the rest.
      if (!r.stopping && !r.child) {
        opts.log.warn({ service, pid: r.rec.pid }, 'service process is gone');
        await exited(service, r, null);
      }
      return false;
    },

    async start(service, spec) {
      // Started on purpose: a pending restart is cancelled and the crash-loop count starts over.
      await settle(service);
      const book = books.get(service);
      if (book) {
        book.history = [];
        book.streak = 0;
        book.crashLoop = false;
      }
      const r = procs.get(service);
      if (r && (await isAlive(r.rec.pid, r.rec.startTime))) {
        // A restart landed just before this start: keep it if it is the edition asked for.
        if (r.rec.edition === spec.edition) return r.rec;
        await api.stop(service, 10_000);
      }
      return launch(service, spec);
    },

    async stop(service, timeoutMs, signal) {
      const started = performance.now();
      await settle(service);
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
      let looks = 0;
      while (await isAlive(pid, r.rec.startTime)) {
        if (signal?.aborted) throw signal.reason;
        if (performance.now() >= deadline) {
          if (killed) break;
          opts.log.warn({ service, pid, timeoutMs }, 'service ignored SIGTERM; sending SIGKILL');
          killGroup(pid, 'SIGKILL');
          killed = true;
        }
        // Most services stop within milliseconds of SIGTERM and the rollout waits on this: look
        // again soon, then less often (5, 10, 20, 40, 50 ms), and wake at once on our child's exit.
        await exitOrSleep(r.child, killed ? 20 : Math.min(50, 5 * 2 ** looks++));
        if (killed && performance.now() > deadline + 5000) {
          throw new Error(`${service} (pid ${pid}) survived SIGKILL for 5 s`);
        }
      }
      await forget(service);
      // Stopped on purpose: nothing to restart from, even after an agent restart.
      await rm(specFile(service), { force: true });
      opts.onExit(service);
      return { alreadyStopped: false, killed, ms: Math.round(performance.now() - started) };
    },

    restartState(service) {
      const b = books.get(service);
      const p = policyOf(service);
      const now = Date.now();
      return {
        restarts: b ? b.history.filter((t) => now - t < p.windowMs).length : 0,
        total: b?.total ?? 0,
        pending: b?.timer !== undefined,
        crashLoop: b?.crashLoop ?? false,
        lastExit: b?.lastExit ?? null,
      };
    },

    restarts: (service) => books.get(service)?.total ?? 0,

    async runCommand(service, spec, timeoutMs, signal) {
      await mkdir(logDir, { recursive: true });
      const started = performance.now();
      const run = atNicenessZero(spec.command, spec.args, agentNiceness);
      const child = spawn(run.command, run.args, {
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
      closed = true;
      for (const b of books.values()) clearTimeout(b.timer);
      for (const r of procs.values()) r.tail?.stop();
    },
  };
  return api;
}
