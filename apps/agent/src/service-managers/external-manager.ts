// What systemd, supervisord and the operator's commands share: the agent asks the manager, keeps
// its last answer, remembers which edition it last started (a small record under <dataDir>/run, so
// a restarted agent knows it again), and notices a restart the manager made on its own — a new
// pid, or the service seen down and then up again without the agent starting it.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '@rollgate/logger';
import { errorMessage, writeFileAtomic } from '../lib/fs-util';
import type {
  ManagerKind,
  ManagerStatus,
  RestartListener,
  ServiceManager,
  StartRequest,
  StopResult,
} from './service-manager';

export interface ExternalManagerOptions {
  kind: Exclude<ManagerKind, 'process'>;
  service: string;
  dataDir: string;
  /** Who restarts the service, for messages: "systemd", "supervisord", "its status command". */
  who: string;
  startsWith: string;
  stopsWith: (timeoutMs: number) => string;
  /** Asks the manager; may throw (the manager cannot be reached): that is reported as unknown. */
  query: () => Promise<ManagerStatus>;
  /** Starts the service; throws an operator-readable error when the manager refused. */
  doStart: (req: StartRequest) => Promise<void>;
  doStop: (timeoutMs: number, signal?: AbortSignal) => Promise<void>;
  log: Logger;
  onRestart?: RestartListener;
  /** A status answer younger than this is reused by refresh(); default 500 ms. */
  reuseMs?: number;
  /**
   * How often the manager is asked on the agent's own initiative, ms; default 5000, 0 = never.
   * The health monitor asks only when a probe fails, and a manager that restarts a crashed
   * service within a second may leave nothing for a probe to see.
   */
  watchMs?: number;
}

interface StartRecord {
  kind: string;
  edition: string;
  startedAt: number;
}

const UP = new Set<ManagerStatus['state']>(['running', 'starting']);

export function createExternalManager(o: ExternalManagerOptions): ServiceManager {
  const recordFile = join(o.dataDir, 'run', `${o.service}.manager.json`);
  const reuseMs = o.reuseMs ?? 500;
  let record: StartRecord | undefined;
  let last: ManagerStatus | undefined;
  let lastAt = 0;
  let lastPid: number | null = null;
  let wasUp = false;
  let sawDown = false;
  let busy = false;
  let restarts = 0;
  let inFlight: Promise<ManagerStatus> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function ask(): Promise<ManagerStatus> {
    inFlight ??= o
      .query()
      .catch((err: unknown): ManagerStatus => ({ state: 'unknown', pid: null, detail: errorMessage(err) }))
      .finally(() => (inFlight = undefined));
    const st = await inFlight;
    lastAt = performance.now();
    return st;
  }

  /** Records an answer; outside the agent's own start/stop, tells a restart from a steady state. */
  function observe(st: ManagerStatus) {
    const prev = last;
    last = st;
    if (prev?.state !== st.state) {
      // The agent's own start and stop are news, not trouble; the manager's own moves are.
      const level = busy || st.state === 'running' || (st.state === 'stopped' && !wasUp) ? 'info' : 'warn';
      o.log[level](
        { service: o.service, manager: o.kind, state: st.state, pid: st.pid },
        `${o.who} says ${o.service} is ${st.state}${st.detail ? `: ${st.detail}` : ''}`,
      );
    }
    if (busy) return;
    if (st.state === 'running') {
      const newPid = st.pid !== null && lastPid !== null && st.pid !== lastPid;
      if (wasUp && (sawDown || newPid)) {
        restarts++;
        const how = newPid ? `pid ${lastPid} → ${st.pid}` : `back up${st.pid ? ` as pid ${st.pid}` : ''}`;
        o.onRestart?.(o.service, `${o.who} restarted ${o.service} (${how})`);
      }
      if (st.pid !== null) lastPid = st.pid;
      wasUp = true;
      sawDown = false;
    } else if (st.state !== 'unknown' && wasUp) {
      // Down (or coming back up) without the agent stopping it: the manager's business.
      sawDown = true;
    }
  }

  async function saveRecord(r: StartRecord | undefined) {
    record = r;
    if (r) {
      await mkdir(dirname(recordFile), { recursive: true });
      await writeFileAtomic(recordFile, `${JSON.stringify(r)}\n`);
    } else await rm(recordFile, { force: true });
  }

  async function refresh(): Promise<boolean> {
    const st = last && performance.now() - lastAt < reuseMs && !inFlight ? last : await ask();
    if (st !== last) observe(st);
    return UP.has(st.state);
  }

  function watch() {
    const every = o.watchMs ?? 5000;
    if (timer || every <= 0) return;
    timer = setInterval(() => void refresh(), every);
    timer.unref();
  }

  function settled(st: ManagerStatus) {
    lastPid = st.pid;
    wasUp = UP.has(st.state);
    sawDown = false;
  }

  return {
    kind: o.kind,
    startsWith: o.startsWith,
    stopsWith: o.stopsWith,

    async adopt() {
      try {
        record = JSON.parse(await readFile(recordFile, 'utf8')) as StartRecord;
      } catch {
        record = undefined;
      }
      const st = await ask();
      busy = true;
      observe(st);
      busy = false;
      settled(st);
      watch();
      if (!UP.has(st.state)) return undefined;
      // Running, but not started by this agent (or its record was lost): the edition is not known.
      record ??= { kind: o.kind, edition: 'unknown', startedAt: 0 };
      return { pid: st.pid, edition: record.edition };
    },

    running() {
      if (!record || !last || !UP.has(last.state)) return undefined;
      return { pid: last.pid, edition: record.edition };
    },

    refresh,

    async start(req) {
      busy = true;
      try {
        await o.doStart(req);
        await saveRecord({ kind: o.kind, edition: req.edition, startedAt: Date.now() });
        watch();
        const st = await ask();
        observe(st);
        settled(st);
        if (!UP.has(st.state)) {
          throw new Error(
            `${o.who} did not keep ${o.service} running after the start: ${st.state}${st.detail ? ` (${st.detail})` : ''}`,
          );
        }
        return { pid: st.pid, edition: req.edition };
      } finally {
        busy = false;
      }
    },

    async stop(timeoutMs, signal) {
      const started = performance.now();
      busy = true;
      try {
        const before = await ask();
        observe(before);
        if (before.state === 'stopped' || before.state === 'failed') {
          await saveRecord(undefined);
          settled(before);
          return { alreadyStopped: true, killed: false, ms: 0 } satisfies StopResult;
        }
        await o.doStop(timeoutMs, signal);
        const after = await ask();
        observe(after);
        settled(after);
        if (UP.has(after.state)) {
          throw new Error(
            `${o.who} still reports ${o.service} ${after.state} after the stop: ${after.detail}`,
          );
        }
        await saveRecord(undefined);
        return { alreadyStopped: false, killed: false, ms: Math.round(performance.now() - started) };
      } finally {
        busy = false;
      }
    },

    lastStatus: () => last,
    restarts: () => restarts,
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
