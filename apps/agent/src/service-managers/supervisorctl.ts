// A service that runs as a supervisord program: `supervisorctl [-c conf] [-s url] start|stop|status
// <program>`. The program reaches the active edition through the `current` link (its command and
// directory name <dataDir>/editions/<service>/current/...) or an env file a wrapper sources.
// supervisord restarts it after a crash (autorestart); the agent reports that and never signals it.
import type { Logger } from '@rollgate/logger';
import { createExternalManager } from './external-manager';
import { renderEnvFile, writeEnvFileAtomic } from './env-file';
import { howItEnded, lastLine, type Runner } from './run-argv';
import type { ManagerStatus, RestartListener, ServiceManager } from './service-manager';

export interface SupervisorctlManagerOptions {
  service: string;
  /** The program's name in supervisord's configuration ("name" or "group:name"). */
  program: string;
  /** supervisorctl -c: the configuration file naming the server; default supervisorctl's own search. */
  configFile?: string;
  /** supervisorctl -s: e.g. "unix:///run/supervisor.sock"; default from the configuration file. */
  serverUrl?: string;
  /** When set, written before each start (for a wrapper that sources it). */
  envFile?: string;
  dataDir: string;
  run: Runner;
  log: Logger;
  onRestart?: RestartListener;
  /** The supervisorctl program; default "supervisorctl" (on PATH). */
  supervisorctl?: string;
  /** How long `supervisorctl start` may take, ms (it waits for startsecs); default 60000. */
  startTimeoutMs?: number;
  /** A status answer younger than this is reused by refresh(); default 500 ms. */
  reuseMs?: number;
  /** How often the manager is asked on the agent's own initiative, ms; default 5000. */
  watchMs?: number;
}

const QUERY_TIMEOUT_MS = 15_000;
/** Added to the op's stop timeout: supervisord applies the program's stopwaitsecs, then kills. */
const STOP_GRACE_MS = 30_000;

const STATES: Record<string, ManagerStatus['state']> = {
  RUNNING: 'running',
  STOPPING: 'running',
  STARTING: 'starting',
  BACKOFF: 'starting',
  STOPPED: 'stopped',
  EXITED: 'stopped',
  FATAL: 'failed',
  UNKNOWN: 'unknown',
};

/**
 * One line of `supervisorctl status <program>`, e.g. "web   RUNNING   pid 9431, uptime 0:00:04"
 * (exit 0) or "web   STOPPED   Not started" (exit 3). Anything else (no such process, the server
 * unreachable) is unknown, with what supervisorctl said.
 */
export function parseSupervisorStatus(
  program: string,
  code: number | null,
  stdout: string,
  stderr: string,
): ManagerStatus {
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+([A-Z]+)\b\s*(.*)$/.exec(line.trim());
    if (!m || m[1] !== program || !(m[2]! in STATES)) continue;
    const pid = /\bpid (\d+)/.exec(m[3]!);
    const state = STATES[m[2]!]!;
    return {
      state,
      pid: state === 'running' && pid ? Number(pid[1]) : null,
      detail: `${m[2]} ${m[3]}`.trim(),
    };
  }
  const said = lastLine({ stdout, stderr });
  return {
    state: 'unknown',
    pid: null,
    detail: `supervisorctl status exited with code ${code ?? 'none'}${said ? `: ${said}` : ''}`,
  };
}

export function createSupervisorctlManager(o: SupervisorctlManagerOptions): ServiceManager {
  const base = [
    o.supervisorctl ?? 'supervisorctl',
    ...(o.configFile ? ['-c', o.configFile] : []),
    ...(o.serverUrl ? ['-s', o.serverUrl] : []),
  ];
  const startTimeoutMs = o.startTimeoutMs ?? 60_000;
  const shown = (verb: string) => `supervisorctl ${verb} ${o.program}`;

  async function query(): Promise<ManagerStatus> {
    const r = await o.run([...base, 'status', o.program], { timeoutMs: QUERY_TIMEOUT_MS });
    if (r.timedOut) return { state: 'unknown', pid: null, detail: `${shown('status')} did not answer` };
    return parseSupervisorStatus(o.program, r.code, r.stdout, r.stderr);
  }

  /** supervisorctl 4 exits 0 even for "ERROR (...)": the words decide. */
  async function ctl(verb: 'start' | 'stop', timeoutMs: number, signal?: AbortSignal) {
    const r = await o.run([...base, verb, o.program], { timeoutMs, signal });
    const out = `${r.stdout}\n${r.stderr}`;
    const benign = verb === 'start' ? /already started/ : /not running/;
    if (r.code === 0 && !r.timedOut && (!/ERROR/.test(out) || benign.test(out))) return;
    const said = lastLine(r);
    throw new Error(
      `${shown(verb)} ${r.code === 0 && !r.timedOut ? 'failed' : howItEnded(r, timeoutMs)}${said ? `: ${said}` : ''}; see \`${shown('status')}\` and the program's log (\`supervisorctl tail ${o.program} stderr\`)`,
    );
  }

  return createExternalManager({
    kind: 'supervisor',
    service: o.service,
    dataDir: o.dataDir,
    who: 'supervisord',
    startsWith: shown('start'),
    stopsWith: () => shown('stop'),
    query,
    doStart: async (req) => {
      if (o.envFile) {
        await writeEnvFileAtomic(o.envFile, renderEnvFile(o.service, req.edition, req.dir, req.env));
      }
      await ctl('start', startTimeoutMs, req.signal);
    },
    doStop: (timeoutMs, signal) => ctl('stop', timeoutMs + STOP_GRACE_MS, signal),
    log: o.log,
    onRestart: o.onRestart,
    reuseMs: o.reuseMs,
    watchMs: o.watchMs,
  });
}
