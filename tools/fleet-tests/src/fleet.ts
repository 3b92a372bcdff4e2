// The fleet of issue 13, unlike the demo: a Python stdlib service ("shop", editions packaged here)
// on four servers in two roles, each role in its own HAProxy backend behind its own frontend, a
// hand-written HAProxy configuration, agents enrolled with join tokens (mTLS, the default) and run
// as the packaged bundle, the way its systemd unit runs it. Built on tools/demo-fleet's startFleet
// (its `service`, `agentConfig` and `agentCommand` options).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFleet, waitFor, type Fleet, type FleetAgent, type FleetOptions } from '@rollgate/demo-fleet';
import { buildAgentPackage, unitCommand } from './agent-package';
import { buildServiceEditions, type FleetEdition } from './editions';
import { startHandWrittenHaproxy, type HandWrittenHaproxy } from './haproxy';

export const CLUSTER = 'shop';
export const SERVICE = 'shop';
export const ROLES = ['api', 'web'] as const;

export interface ShopFleetOptions {
  dir: string;
  /** Editions packaged and uploaded; the first is installed on every server. Default ['1.0', '2.0']. */
  editions?: string[];
  /** More environment for the service on every server (e.g. SLOW_HEALTH_EVERY). */
  serviceEnv?: Record<string, string>;
  /** Passed to startFleet: changes each agent's config (e.g. `limits`, health `fall`). */
  agentConfig?: FleetOptions['agentConfig'];
  /** Agent version of the package built for the fleet; default apps/agent's. */
  agentVersion?: string;
}

export interface ShopFleet {
  fleet: Fleet;
  lb: HandWrittenHaproxy;
  editions: FleetEdition[];
  /** Where the agent package is installed (the unit's /opt/rollgate-agent) and its bundle. */
  agentPackage: { dir: string; bundle: string };
  /** Waits until HAProxy reports every server of every backend UP. */
  allUp(what: string, timeoutMs?: number): Promise<void>;
  /** The service's pid on a server, from the agent's pid file (<dataDir>/run/<service>.json). */
  servicePid(a: FleetAgent): Promise<number>;
  stop(): Promise<void>;
}

export async function startShopFleet(opts: ShopFleetOptions): Promise<ShopFleet> {
  const editions = await buildServiceEditions(
    join(opts.dir, 'shop-editions'),
    opts.editions ?? ['1.0', '2.0'],
  );
  // A bundle starts in a fraction of the time tsx takes to compile the sources: on a busy machine
  // four agents (and their heavy-work children) under tsx took half a minute to come up.
  const agentPackage = await buildAgentPackage(join(opts.dir, 'opt', 'rollgate-agent'), opts.agentVersion);
  const fleet = await startFleet({
    dir: join(opts.dir, 'fleet'),
    heartbeatMs: 500,
    agents: ROLES.flatMap((role) => [1, 2].map((n) => ({ id: `${role}-${n}`, role, cluster: CLUSTER }))),
    service: {
      name: SERVICE,
      editions,
      start: { command: 'python3', args: ['server.py'] },
      // HAProxy checks plain /health; the agent's probes are told apart (service/server.py).
      healthPath: '/health?by=agent',
      env: (a) => ({ SERVER_NAME: a.id, ROLE: a.role, ...opts.serviceEnv }),
    },
    ...(opts.agentConfig ? { agentConfig: opts.agentConfig } : {}),
    agentCommand: (a) => unitCommand(agentPackage.bundle, a.configPath),
  });
  let lb: HandWrittenHaproxy | undefined;
  try {
    lb = await startHandWrittenHaproxy({
      roles: Object.fromEntries(
        ROLES.map((role) => [
          role,
          fleet.agents
            .filter((a) => a.role === role)
            .map((a) => ({ name: a.id, servicePort: a.servicePort, agentCheckPort: a.agentCheckPort })),
        ]),
      ),
    });
    // Roles live in backends of their own, so Rollgate reaches HAProxy the gate-only way: the
    // agent-check carries each wish, and the engine waits one agent-check interval for it.
    await fleet.api.lb.configure.mutate({
      cluster: CLUSTER,
      config: {
        mode: 'gate-only',
        backend: 'be_api',
        checkIntervalMs: 500,
        fall: 3,
        rise: 2,
        agentInterMs: 500,
        drainageIntervalSec: 2,
        readmitTimeoutMs: 10_000,
      },
    });
  } catch (err) {
    await lb?.stop();
    await fleet.stop();
    throw err;
  }
  const haproxy = lb;
  const allUp = async (what: string, timeoutMs = 30_000) => {
    await waitFor(
      what,
      async () => {
        const rows = await haproxy.stats();
        return rows.length === fleet.agents.length && rows.every((r) => r.status === 'UP');
      },
      timeoutMs,
      200,
    );
  };
  await allUp('HAProxy to see every server of the shop UP').catch(async (err: unknown) => {
    await haproxy.stop();
    await fleet.stop();
    throw err;
  });
  return {
    fleet,
    lb: haproxy,
    editions,
    agentPackage,
    allUp,
    async servicePid(a) {
      const text = await readFile(join(a.dataDir, 'run', `${SERVICE}.json`), 'utf8');
      return Number((JSON.parse(text) as { pid: number }).pid);
    },
    async stop() {
      await haproxy.stop();
      await fleet.stop();
    },
  };
}
