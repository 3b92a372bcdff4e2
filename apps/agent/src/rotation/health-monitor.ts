// Polls every managed service's health URL (every second, and at once when asked after a start or
// stop) and keeps the latest view for the gate, which must answer load balancers without I/O.
//
// The view has hysteresis, like HAProxy's own checks (docs/adr/0017): a healthy service is
// reported unhealthy only after `fall` consecutive failed probes, and healthy again only after
// `rise` consecutive passes. Under load a real service now and then answers one probe late (a
// listen backlog overflow costs a SYN retry of 1 s); reacting to that single miss emptied a pool.
// A process the supervisor finds dead is "stopped" at once: there is nothing to wait for.
import { errorMessage } from '../lib/fs-util';
import type { HealthState, ServiceHealthView } from './gate';
import { httpGet } from '../lib/http-get';

/** Per-service thresholds (services[].health in the agent config). */
export interface HealthThresholds {
  /** Consecutive failed probes before a healthy service is reported unhealthy; default 3. */
  fall: number;
  /** Consecutive passed probes before a service that fell is reported healthy again; default 2. */
  rise: number;
  /** One probe's timeout, ms; default 2000 (HAProxy's default check timeout is its 2 s inter). */
  timeoutMs: number;
}

export const DEFAULT_HEALTH: HealthThresholds = { fall: 3, rise: 2, timeoutMs: 2000 };

/** The hysteresis state of one service: what is reported, and the streak behind it. */
export interface HealthTrack {
  state: HealthState;
  detail: string;
  /** Consecutive failed probes (0 after a pass). */
  fails: number;
  /** Consecutive passed probes (0 after a failure). */
  passes: number;
  /**
   * The service fell from healthy: it needs `rise` passes to be healthy again. A service never seen
   * healthy (agent start) or just (re)started is healthy at its first pass: there is no healthy
   * state to protect, and the rollout's own waitHealthy has just checked it.
   */
  fell: boolean;
}

/** One probe's outcome: passed, failed with the process alive, or failed with the process gone. */
export type ProbeOutcome = { ok: true } | { ok: false; running: boolean; detail: string };

export const initialTrack = (): HealthTrack => ({
  state: 'unknown',
  detail: '',
  fails: 0,
  passes: 0,
  fell: false,
});

/** Pure: the next state of one service after one probe. */
export function nextHealth(prev: HealthTrack, probe: ProbeOutcome, t: HealthThresholds): HealthTrack {
  if (probe.ok) {
    const passes = prev.passes + 1;
    if (prev.state === 'unhealthy' && prev.fell && passes < t.rise) {
      return {
        ...prev,
        fails: 0,
        passes,
        detail: `recovering: ${passes} of ${t.rise} passed probes needed (last failure: ${prev.detail})`,
      };
    }
    return { state: 'healthy', detail: '', fails: 0, passes, fell: false };
  }
  // A dead process with a failing check is "stopped", not "unhealthy": it says what to do.
  if (!probe.running) return { state: 'stopped', detail: 'not running', fails: 0, passes: 0, fell: false };
  const fails = prev.fails + 1;
  if (prev.state === 'healthy') {
    if (fails < t.fall) {
      // Still healthy: the status page says a probe missed, the gate and the report do not move.
      return {
        ...prev,
        fails,
        passes: 0,
        detail: `${fails} of ${t.fall} failed probes before unhealthy: ${probe.detail}`,
      };
    }
    return { state: 'unhealthy', detail: probe.detail, fails, passes: 0, fell: true };
  }
  // unknown, stopped (a process starting up) or already unhealthy: nothing healthy to protect.
  return { state: 'unhealthy', detail: probe.detail, fails, passes: 0, fell: prev.fell };
}

export interface HealthMonitorOptions {
  /** Each service's health URL and (optional) thresholds; missing thresholds take DEFAULT_HEALTH. */
  services: { name: string; healthUrl: string; health?: Partial<HealthThresholds> }[];
  /** Is the service's process alive (as far as the supervisor knows)? */
  isRunning: (service: string) => Promise<boolean>;
  /** Called after a check round in which any service's reported state changed. */
  onChange: (views: ServiceHealthView[]) => void;
  /** Poll interval, ms; default 1000. */
  intervalMs?: number;
}

export interface HealthMonitor {
  start(): void;
  stop(): void;
  /** Checks now (all services, or one) and resolves when the view is updated. */
  checkNow(service?: string): Promise<void>;
  /**
   * Counts a healthy answer the caller just got from the service's health URL (waitHealthy's) as
   * a passed probe, after any probe under way: the view moves without asking the service again.
   */
  passed(service: string): Promise<void>;
  view(): ServiceHealthView[];
  get(service: string): ServiceHealthView | undefined;
}

export function createHealthMonitor(opts: HealthMonitorOptions): HealthMonitor {
  const intervalMs = opts.intervalMs ?? 1000;
  const thresholds = new Map(opts.services.map((s) => [s.name, { ...DEFAULT_HEALTH, ...s.health }]));
  const tracks = new Map<string, HealthTrack>(opts.services.map((s) => [s.name, initialTrack()]));
  const inFlight = new Map<string, Promise<boolean>>();
  let timer: NodeJS.Timeout | undefined;

  async function probe(name: string, url: string, timeoutMs: number): Promise<ProbeOutcome> {
    let detail: string;
    try {
      const res = await httpGet(url, { timeoutMs, maxBody: 512 });
      if (res.status === 200) return { ok: true };
      detail = `health check ${url} answered ${res.status}`;
    } catch (err) {
      detail = `health check ${url} failed: ${errorMessage(err)}`;
    }
    return { ok: false, running: await opts.isRunning(name), detail };
  }

  async function checkOne(name: string, outcomeOf: (t: HealthThresholds) => Promise<ProbeOutcome>) {
    const t = thresholds.get(name) ?? DEFAULT_HEALTH;
    const outcome = await outcomeOf(t);
    const prev = tracks.get(name) ?? initialTrack();
    const next = nextHealth(prev, outcome, t);
    tracks.set(name, next);
    return prev.state !== next.state;
  }

  /** Probes the URL, or counts `given` (an answer someone else just got) as the probe. */
  function check(name: string, url: string, given?: ProbeOutcome): Promise<boolean> {
    // One check per service at a time; a caller asking meanwhile waits for a fresh one after it.
    const prev = inFlight.get(name) ?? Promise.resolve(false);
    const next = prev.then(() => checkOne(name, async (t) => given ?? (await probe(name, url, t.timeoutMs))));
    const tracked = next.finally(() => {
      if (inFlight.get(name) === tracked) inFlight.delete(name);
    });
    inFlight.set(name, tracked);
    return tracked;
  }

  async function round(targets: HealthMonitorOptions['services']): Promise<void> {
    const changed = await Promise.all(targets.map((s) => check(s.name, s.healthUrl)));
    if (changed.some(Boolean)) opts.onChange(views());
  }

  function views(): ServiceHealthView[] {
    return opts.services.map((s) => {
      const t = tracks.get(s.name) ?? initialTrack();
      return { name: s.name, state: t.state, detail: t.detail };
    });
  }

  return {
    start() {
      if (timer) return;
      void round(opts.services);
      timer = setInterval(() => {
        // A service whose probe is still under way skips this tick rather than queue behind it;
        // the others are probed on time.
        const idle = opts.services.filter((s) => !inFlight.has(s.name));
        if (idle.length > 0) void round(idle);
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    checkNow: (service) => round(opts.services.filter((s) => service === undefined || s.name === service)),
    async passed(service) {
      const s = opts.services.find((x) => x.name === service);
      if (s && (await check(s.name, s.healthUrl, { ok: true }))) opts.onChange(views());
    },
    view: views,
    get: (service) => views().find((v) => v.name === service),
  };
}

/**
 * Where a load balancer can check the service itself: the health URL's path (with its query) and
 * port, reported to the coordinator for the generated HAProxy configuration. Null when it is not
 * plain http (HAProxy's check there would need TLS settings the generated configuration lacks).
 */
export function serviceHealthTarget(healthUrl: string): { path: string; port: number } | null {
  if (!URL.canParse(healthUrl)) return null;
  const u = new URL(healthUrl);
  if (u.protocol !== 'http:') return null;
  return { path: `${u.pathname}${u.search}`, port: u.port === '' ? 80 : Number(u.port) };
}
