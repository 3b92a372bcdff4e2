// A service that runs as a systemd unit: `systemctl start|stop|is-active <unit>`. Before each start
// the agent writes the unit's environment file (ROLLGATE_EDITION, ROLLGATE_EDITION_DIR and the
// service's env), so the unit reaches the active edition through it or through the `current` link.
// The agent never signals the unit's processes: stopping, killing and restarting are systemd's.
import type { Logger } from '@rollgate/logger';
import { createExternalManager } from './external-manager';
import { renderEnvFile, writeEnvFileAtomic } from './env-file';
import { howItEnded, lastLine, type Runner } from './run-argv';
import type { ManagerStatus, RestartListener, ServiceManager } from './service-manager';

export interface SystemdManagerOptions {
  service: string;
  /** The unit, e.g. "rollgate-demo-app.service". */
  unit: string;
  /** Where the environment file is written before each start (e.g. /etc/rollgate/demo-app.env). */
  envFile: string;
  dataDir: string;
  run: Runner;
  log: Logger;
  onRestart?: RestartListener;
  /** The systemctl program; default "systemctl" (on PATH). */
  systemctl?: string;
  /** How long `systemctl start` may take, ms; default 90000 (systemd's own TimeoutStartSec). */
  startTimeoutMs?: number;
  /** A status answer younger than this is reused by refresh(); default 500 ms. */
  reuseMs?: number;
  /** How often the manager is asked on the agent's own initiative, ms; default 5000. */
  watchMs?: number;
}

/** The time systemctl's own queries may take, ms. */
const QUERY_TIMEOUT_MS = 15_000;
/** Added to the op's stop timeout: systemd applies the unit's TimeoutStopSec, then kills. */
const STOP_GRACE_MS = 30_000;

/**
 * `systemctl is-active`: exit 0 is active (or reloading); exit 3 is not active, and its word says
 * how (inactive, failed, activating — e.g. an automatic restart after a crash — or deactivating).
 * Any other exit is systemctl's own failure (no such unit, no bus): unknown, with what it said.
 */
export function parseIsActive(code: number | null, stdout: string, stderr: string): ManagerStatus {
  const word = stdout.trim().split('\n')[0]?.trim() ?? '';
  if (code === 0) return { state: 'running', pid: null, detail: word || 'active' };
  if (code === 3) {
    if (word === 'activating') return { state: 'starting', pid: null, detail: word };
    if (word === 'deactivating') return { state: 'running', pid: null, detail: word };
    if (word === 'failed') return { state: 'failed', pid: null, detail: word };
    return { state: 'stopped', pid: null, detail: word || 'inactive' };
  }
  const said = lastLine({ stdout, stderr });
  return {
    state: 'unknown',
    pid: null,
    detail: `systemctl is-active exited with code ${code ?? 'none'}${said ? `: ${said}` : ''}`,
  };
}

export function createSystemdManager(o: SystemdManagerOptions): ServiceManager {
  const systemctl = o.systemctl ?? 'systemctl';
  const startTimeoutMs = o.startTimeoutMs ?? 90_000;

  async function query(): Promise<ManagerStatus> {
    const r = await o.run([systemctl, 'is-active', o.unit], { timeoutMs: QUERY_TIMEOUT_MS });
    if (r.timedOut) {
      return { state: 'unknown', pid: null, detail: `systemctl is-active ${o.unit} did not answer` };
    }
    const st = parseIsActive(r.code, r.stdout, r.stderr);
    if (st.state !== 'running') return st;
    // The main pid tells a restart by systemd (Restart=) from a service that kept running.
    const p = await o.run([systemctl, 'show', '--property=MainPID', '--value', o.unit], {
      timeoutMs: QUERY_TIMEOUT_MS,
    });
    const pid = p.code === 0 ? Number.parseInt(p.stdout.trim(), 10) : NaN;
    return { ...st, pid: Number.isFinite(pid) && pid > 0 ? pid : null };
  }

  async function systemctlOrThrow(verb: 'start' | 'stop', timeoutMs: number, signal?: AbortSignal) {
    const r = await o.run([systemctl, verb, o.unit], { timeoutMs, signal });
    if (r.code === 0 && !r.timedOut) return;
    const said = lastLine(r);
    throw new Error(
      `systemctl ${verb} ${o.unit} ${howItEnded(r, timeoutMs)}${said ? `: ${said}` : ''}; see \`systemctl status ${o.unit}\` and \`journalctl -u ${o.unit}\``,
    );
  }

  return createExternalManager({
    kind: 'systemd',
    service: o.service,
    dataDir: o.dataDir,
    who: 'systemd',
    startsWith: `systemctl start ${o.unit} (environment in ${o.envFile})`,
    stopsWith: () => `systemctl stop ${o.unit}`,
    query,
    doStart: async (req) => {
      await writeEnvFileAtomic(o.envFile, renderEnvFile(o.service, req.edition, req.dir, req.env));
      await systemctlOrThrow('start', startTimeoutMs, req.signal);
    },
    doStop: (timeoutMs, signal) => systemctlOrThrow('stop', timeoutMs + STOP_GRACE_MS, signal),
    log: o.log,
    onRestart: o.onRestart,
    reuseMs: o.reuseMs,
    watchMs: o.watchMs,
  });
}
