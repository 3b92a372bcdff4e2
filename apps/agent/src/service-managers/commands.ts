// A service run by anything else (an init script, a Windows-style service wrapper, a container
// runtime): the operator's own start, stop and status programs, each an argv array run without a
// shell. status exits 0 while the service runs and non-zero otherwise (LSB: 3 = not running).
// Whatever restarts the service after a crash is theirs; the agent notices it through status.
import type { Logger } from '@rollgate/logger';
import { createExternalManager } from './external-manager';
import { howItEnded, lastLine, type Runner } from './run-argv';
import type { ManagerStatus, RestartListener, ServiceManager } from './service-manager';

export interface ControlCommands {
  start: string[];
  stop: string[];
  status: string[];
  /** Longest any one of them may run, ms; default 60000. */
  timeoutMs: number;
}

export interface CommandsManagerOptions {
  service: string;
  control: ControlCommands;
  dataDir: string;
  /** The agent's environment; the commands get it plus the service env and ROLLGATE_* on start. */
  baseEnv: Record<string, string>;
  /** services[].env, for status and stop (start gets the edition's full environment). */
  serviceEnv: Record<string, string>;
  run: Runner;
  log: Logger;
  onRestart?: RestartListener;
  /** How often status runs on the agent's own initiative, ms; default 5000. */
  watchMs?: number;
}

const show = (argv: readonly string[]) => argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');

export function createCommandsManager(o: CommandsManagerOptions): ServiceManager {
  const { control } = o;
  const plainEnv = () => ({ ...o.baseEnv, ...o.serviceEnv, ROLLGATE_SERVICE: o.service });

  async function query(): Promise<ManagerStatus> {
    const r = await o.run(control.status, {
      cwd: o.dataDir,
      env: plainEnv(),
      timeoutMs: control.timeoutMs,
    });
    const said = lastLine(r);
    if (r.timedOut || r.code === null) {
      return { state: 'unknown', pid: null, detail: `status ${howItEnded(r, control.timeoutMs)}` };
    }
    return r.code === 0
      ? { state: 'running', pid: null, detail: said || 'status exited 0' }
      : { state: 'stopped', pid: null, detail: said || `status exited with code ${r.code}` };
  }

  async function runOrThrow(
    what: 'start' | 'stop',
    argv: string[],
    cwd: string,
    env: Record<string, string>,
    signal?: AbortSignal,
  ) {
    const r = await o.run(argv, { cwd, env, timeoutMs: control.timeoutMs, signal });
    if (r.code === 0 && !r.timedOut) return;
    const said = lastLine(r);
    throw new Error(
      `the ${what} command (${show(argv)}) ${howItEnded(r, control.timeoutMs)}${said ? `; its last output: ${said}` : ''}; fix services[].control.${what} in the agent config or the program it runs`,
    );
  }

  return createExternalManager({
    kind: 'commands',
    service: o.service,
    dataDir: o.dataDir,
    who: 'its manager (the status command)',
    startsWith: show(control.start),
    stopsWith: () => show(control.stop),
    query,
    doStart: (req) =>
      runOrThrow(
        'start',
        control.start,
        req.dir,
        {
          ...o.baseEnv,
          ...o.serviceEnv,
          ...req.env,
          ROLLGATE_SERVICE: o.service,
          ROLLGATE_EDITION: req.edition,
          ROLLGATE_EDITION_DIR: req.dir,
        },
        req.signal,
      ),
    doStop: (_timeoutMs, signal) => runOrThrow('stop', control.stop, o.dataDir, plainEnv(), signal),
    log: o.log,
    onRestart: o.onRestart,
    watchMs: o.watchMs,
  });
}
