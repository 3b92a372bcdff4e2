// One ServiceManager per configured service, by its `manager` kind (docs/adr/0022).
import type { Logger } from '@rollgate/logger';
import type { ServiceConfig } from '../config';
import type { Supervisor } from '../processes/supervisor';
import { createCommandsManager } from './commands';
import { createProcessManager } from './process-manager';
import { runArgv, type Runner } from './run-argv';
import type { RestartListener, ServiceManager } from './service-manager';
import { createSupervisorctlManager } from './supervisorctl';
import { createSystemdManager } from './systemd';

export interface ServiceManagerDeps {
  dataDir: string;
  /** The agent's own supervisor: runs every `process` service (and every second instance). */
  supervisor: Supervisor;
  /** The agent's environment (process and commands services inherit it; systemd units do not). */
  baseEnv: Record<string, string>;
  log: Logger;
  /** A manager restarted a service on its own (systemd, supervisord, the operator's commands). */
  onRestart?: RestartListener;
  /** Runs systemctl, supervisorctl and control commands; default runArgv (no shell, timeout, capped output). */
  run?: Runner;
  /** How often systemd, supervisord or a status command is asked unprompted, ms; default 5000. */
  watchMs?: number;
}

export function createServiceManager(s: ServiceConfig, deps: ServiceManagerDeps): ServiceManager {
  const run = deps.run ?? runArgv;
  const common = {
    service: s.name,
    dataDir: deps.dataDir,
    run,
    log: deps.log,
    onRestart: deps.onRestart,
    watchMs: deps.watchMs,
  };
  // Config validation guarantees the kind's own object; the messages cover a hand-built config.
  const missing = (what: string) =>
    new Error(`service ${s.name} has manager "${s.manager}" but no ${what}; fix the agent config`);
  switch (s.manager) {
    case 'systemd':
      if (!s.systemd) throw missing('systemd.unit');
      return createSystemdManager({ ...common, ...s.systemd });
    case 'supervisor':
      if (!s.supervisor) throw missing('supervisor.program');
      return createSupervisorctlManager({ ...common, ...s.supervisor });
    case 'commands':
      if (!s.control) throw missing('control commands');
      return createCommandsManager({
        ...common,
        control: s.control,
        baseEnv: deps.baseEnv,
        serviceEnv: s.env,
      });
    default:
      if (!s.start) throw missing('start');
      return createProcessManager({
        service: s.name,
        start: s.start,
        supervisor: deps.supervisor,
        baseEnv: deps.baseEnv,
      });
  }
}

/** Every service's manager, by service name. */
export function createServiceManagers(
  services: readonly ServiceConfig[],
  deps: ServiceManagerDeps,
): Map<string, ServiceManager> {
  return new Map(services.map((s) => [s.name, createServiceManager(s, deps)]));
}
