// How a managed service is run (docs/adr/0022): the agent's own supervisor (`process`), a systemd
// unit, a supervisord program, or the operator's own start/stop/status commands. The ops and the
// health monitor see only this interface, so draining, the gate and health checks are the same
// whatever runs the service. Restarting after a crash belongs to the manager: the agent reports
// what the manager says and never fights it.
import type { StopResult } from '../processes/supervisor';

export type { StopResult } from '../processes/supervisor';

export const MANAGER_KINDS = ['process', 'systemd', 'supervisor', 'commands'] as const;
export type ManagerKind = (typeof MANAGER_KINDS)[number];

/** What the agent asks a manager to start: the active edition, already activated and configured. */
export interface StartRequest {
  edition: string;
  /** The edition's directory (the one `current` points at). */
  dir: string;
  /**
   * The service's own environment: services[].env with the edition's rollgate.env.json on top.
   * `process` and `commands` add the agent's environment; systemd gets only this, in its env file.
   */
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** The manager's answer, in its own words. */
export interface ManagerStatus {
  /** `starting` covers a manager bringing the service (back) up: activating, STARTING, BACKOFF. */
  state: 'running' | 'starting' | 'stopped' | 'failed' | 'unknown';
  pid: number | null;
  /** What the manager said, e.g. "RUNNING pid 123, uptime 0:00:05" or "inactive". */
  detail: string;
}

/** The instance the agent believes runs: the edition it last started (kept across agent restarts). */
export interface RunningService {
  pid: number | null;
  edition: string;
}

export interface ServiceManager {
  readonly kind: ManagerKind;
  /** How a start is done, for progress lines (e.g. "systemctl start rollgate-x.service"). */
  readonly startsWith: string;
  /** How a stop is done, for progress lines (e.g. "SIGTERM, SIGKILL after 10.0 s"). */
  stopsWith(timeoutMs: number): string;
  /** After an agent restart: finds the running instance again (never starts or stops anything). */
  adopt(): Promise<RunningService | undefined>;
  /** The last known running instance, without I/O (status pages, inventory). */
  running(): RunningService | undefined;
  /**
   * Asks the manager now: true while the service runs or the manager is bringing it up. Notices a
   * restart the manager made on its own (a new pid) and reports it through onRestart.
   */
  refresh(): Promise<boolean>;
  start(req: StartRequest): Promise<RunningService>;
  stop(timeoutMs: number, signal?: AbortSignal): Promise<StopResult>;
  /** The manager's last answer (undefined before the first one). */
  lastStatus(): ManagerStatus | undefined;
  /** Restarts made by the manager itself that this agent noticed since it started. */
  restarts(): number;
  close(): void;
}

/** Called when a manager restarted a service on its own (a crash, a watchdog). */
export type RestartListener = (service: string, detail: string) => void;
