// Polls every managed service's health URL (every second, and at once when asked after a start or
// stop) and keeps the latest view for the gate, which must answer load balancers without I/O.
import { errorMessage } from './fs-util';
import type { HealthState, ServiceHealthView } from './gate';
import { httpGet } from './http-get';

export interface HealthMonitorOptions {
  services: { name: string; healthUrl: string }[];
  /** Is the service's process alive (as far as the supervisor knows)? */
  isRunning: (service: string) => Promise<boolean>;
  /** Called after a check round in which any service's state changed. */
  onChange: (views: ServiceHealthView[]) => void;
  /** Poll interval, ms; default 1000. */
  intervalMs?: number;
  /** Per-check timeout, ms; default 900 (below the interval, so checks never pile up). */
  timeoutMs?: number;
}

export interface HealthMonitor {
  start(): void;
  stop(): void;
  /** Checks now (all services, or one) and resolves when the view is updated. */
  checkNow(service?: string): Promise<void>;
  view(): ServiceHealthView[];
  get(service: string): ServiceHealthView | undefined;
}

export function createHealthMonitor(opts: HealthMonitorOptions): HealthMonitor {
  const intervalMs = opts.intervalMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 900;
  const views = new Map<string, ServiceHealthView>(
    opts.services.map((s) => [s.name, { name: s.name, state: 'unknown' as HealthState, detail: '' }]),
  );
  const inFlight = new Map<string, Promise<boolean>>();
  let timer: NodeJS.Timeout | undefined;

  async function checkOne(name: string, url: string): Promise<boolean> {
    let state: HealthState;
    let detail = '';
    try {
      const res = await httpGet(url, { timeoutMs, maxBody: 512 });
      if (res.status === 200) state = 'healthy';
      else {
        state = 'unhealthy';
        detail = `health check ${url} answered ${res.status}`;
      }
    } catch (err) {
      state = 'unhealthy';
      detail = `health check ${url} failed: ${errorMessage(err)}`;
    }
    // A dead process with a failing check is "stopped", not "unhealthy": it says what to do.
    if (state !== 'healthy' && !(await opts.isRunning(name))) {
      state = 'stopped';
      detail = 'not running';
    }
    const prev = views.get(name);
    views.set(name, { name, state, detail });
    return prev?.state !== state;
  }

  function check(name: string, url: string): Promise<boolean> {
    // One check per service at a time; a caller asking meanwhile waits for a fresh one after it.
    const prev = inFlight.get(name) ?? Promise.resolve(false);
    const next = prev.then(() => checkOne(name, url));
    const tracked = next.finally(() => {
      if (inFlight.get(name) === tracked) inFlight.delete(name);
    });
    inFlight.set(name, tracked);
    return tracked;
  }

  async function round(only?: string): Promise<void> {
    const targets = opts.services.filter((s) => only === undefined || s.name === only);
    const changed = await Promise.all(targets.map((s) => check(s.name, s.healthUrl)));
    if (changed.some(Boolean)) opts.onChange([...views.values()]);
  }

  return {
    start() {
      if (timer) return;
      void round();
      timer = setInterval(() => {
        // Skip a tick rather than queue behind a slow check.
        if (inFlight.size === 0) void round();
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    checkNow: (service) => round(service),
    view: () => [...views.values()],
    get: (service) => views.get(service),
  };
}
