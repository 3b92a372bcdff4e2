// A demo fleet behind a real HAProxy, configured as an operator would: HAProxy runs the
// configuration `rollgate lb haproxy-config` prints, and the cluster's load balancer is then
// configured with `lb configure` (runtime API). Shared by the integration tests that roll editions
// out under load.
import { join } from 'node:path';
import type { HaproxyConfigInput, RunView } from '@rollgate/api';
import { createHaproxyRuntime } from '@rollgate/lb';
import { freePort, startHaproxyOnFreePort, type HaproxyProcess } from '@rollgate/lb/testing';
import type { Fleet } from '../fleet';
import { FatalWait, waitFor } from './wait';

type LbConfigure = Parameters<Fleet['api']['lb']['configure']['mutate']>[0]['config'];

export interface BehindHaproxyOptions {
  /** The cluster whose backend HAProxy serves; default 'demo'. Its backend is named like it. */
  cluster?: string;
  /** More of `lb haproxy-config`'s input (routing frontend, map directory, header maps). */
  config?: Partial<Omit<HaproxyConfigInput, 'cluster' | 'backend' | 'bind' | 'socketPath'>>;
  /** Text appended to the configuration (e.g. another cluster's backend), given the front port. */
  append?: () => Promise<string>;
  /** HAProxy servers that must be UP before the fleet is used; default every server but the "-beside" twins. */
  ready?: (name: string) => boolean;
  /**
   * The cluster's load balancer as `lb configure` sets it (runtime API over HAProxy's socket);
   * these fields are added. `false`: not configured (gate-only tests, refusals).
   */
  lb?: Partial<LbConfigure> | false;
  /** The frontend's port; default a free one (retried if taken meanwhile). A given port is not retried. */
  port?: number;
}

export interface FleetHaproxy {
  haproxy: HaproxyProcess;
  /** The frontend's base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  front: string;
  socketPath: string;
  /** The configuration HAProxy runs (what `lb haproxy-config` printed, plus `append`). */
  config: string;
  stop(): Promise<void>;
}

/** Starts HAProxy in front of `fleet`'s cluster; stop it before the fleet. */
export async function behindHaproxy(fleet: Fleet, opts: BehindHaproxyOptions = {}): Promise<FleetHaproxy> {
  const cluster = opts.cluster ?? 'demo';
  const socketPath = join(fleet.dir, `haproxy-${cluster}.sock`);
  let running = '';
  const started = await startHaproxyOnFreePort(
    async (port) => {
      const config = await fleet.api.lb.haproxyConfig.query({
        cluster,
        backend: cluster,
        bind: `127.0.0.1:${port}`,
        socketPath,
        checkIntervalMs: 500,
        ...opts.config,
      });
      running = opts.append ? `${config}\n${await opts.append()}` : config;
      return running;
    },
    opts.port === undefined ? freePort : () => Promise.resolve(opts.port!),
    opts.port === undefined ? 5 : 1,
  );
  const ready = opts.ready ?? ((name: string) => !name.endsWith('-beside'));
  await waitFor(
    `HAProxy to see the servers of cluster ${cluster} up`,
    async () => {
      const rows = (await createHaproxyRuntime({ socketPath }).serverStats(cluster)).filter((r) =>
        ready(r.name),
      );
      return rows.length > 0 && rows.every((r) => r.status === 'UP');
    },
    30_000,
    200,
  );
  if (opts.lb !== false) {
    await fleet.api.lb.configure.mutate({
      cluster,
      config: {
        mode: 'haproxy-runtime',
        runtime: { socketPath },
        backend: cluster,
        checkIntervalMs: 500,
        readmitTimeoutMs: 5_000,
        drainageIntervalSec: 3,
        ...opts.lb,
      },
    });
  }
  return {
    haproxy: started.haproxy,
    front: `http://127.0.0.1:${started.port}`,
    socketPath,
    config: running,
    stop: () => started.haproxy.stop(),
  };
}

/** Waits until the run succeeds; a paused, failed or aborted run fails at once with its reason. */
export async function runSucceeded(fleet: Fleet, runId: string, timeoutMs = 180_000): Promise<RunView> {
  return waitFor(
    `run ${runId} to succeed`,
    async () => {
      const view = await fleet.api.upgrade.status.query({ runId });
      if (['paused', 'failed', 'aborted'].includes(view.run.status))
        throw new FatalWait(`run ${runId} ${view.run.status}: ${view.run.failure}`);
      return view.run.status === 'succeeded' ? view : null;
    },
    timeoutMs,
    250,
  );
}
