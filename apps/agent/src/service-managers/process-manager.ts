// `manager: "process"` (the default): the agent's own supervisor (../supervisor.ts) runs the
// service as its child, exactly as before service managers existed. This adapter only calls it.
import type { StartSpec, Supervisor } from '../processes/supervisor';
import type { ManagerStatus, RunningService, ServiceManager } from './service-manager';

export interface ProcessManagerOptions {
  /** The supervisor's key: the service name (a second instance uses "<name>@beside" directly). */
  service: string;
  /** services[].start. */
  start: Pick<StartSpec, 'command' | 'args'>;
  supervisor: Supervisor;
  /** The agent's environment; the service env is layered on top (as before). */
  baseEnv: Record<string, string>;
}

export function createProcessManager(o: ProcessManagerOptions): ServiceManager {
  const { supervisor: sup, service } = o;
  let last: ManagerStatus | undefined;
  const asRunning = (rec: { pid: number; edition: string } | undefined): RunningService | undefined =>
    rec && { pid: rec.pid, edition: rec.edition };
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

  return {
    kind: 'process',
    startsWith: [o.start.command, ...o.start.args].join(' '),
    stopsWith: (timeoutMs) => `SIGTERM, SIGKILL after ${secs(timeoutMs)}`,
    adopt: async () => asRunning(await sup.adopt(service)),
    running: () => asRunning(sup.running(service)),
    async refresh() {
      const up = await sup.refresh(service);
      const pid = sup.running(service)?.pid ?? null;
      last = up
        ? { state: 'running', pid, detail: `pid ${pid}` }
        : { state: 'stopped', pid: null, detail: 'not running' };
      return up;
    },
    async start(req) {
      const rec = await sup.start(service, {
        ...o.start,
        cwd: req.dir,
        env: { ...o.baseEnv, ...req.env },
        edition: req.edition,
      });
      return { pid: rec.pid, edition: rec.edition };
    },
    stop: (timeoutMs, signal) => sup.stop(service, timeoutMs, signal),
    lastStatus: () => last,
    // The agent's own supervisor restarts a crashed service by its policy (supervisor.ts).
    restarts: () => sup.restarts(service),
    // The supervisor is shared by every process service and closed once by the agent.
    close() {},
  };
}
