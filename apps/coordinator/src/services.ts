import { compileMinorUpgrade, haproxyServerName, type LbConfig, type Plan } from '@rollgate/domain';
import { renderHaproxyBackend, type ServerStat } from '@rollgate/lb';
import { ApiError, MAX_EDITION_BYTES, type ApiServices, type UpgradeInput } from '@rollgate/api';
import { EngineError, StoreConflictError, type Clock, type Engine, type EngineStore } from '@rollgate/engine';
import type { ArtifactStore } from './artifact-store';
import type { LbAdapter } from './lb-adapter';

export interface CoordinatorServicesOptions {
  version: string;
  store: EngineStore;
  engine: Engine;
  artifacts: ArtifactStore;
  clock: Clock;
  lb: LbAdapter;
}

/** host of a gate URL such as http://10.0.0.5:7070/gate, and its port. */
function gateAddress(gateUrl: string): { host: string; port: number } | null {
  try {
    const u = new URL(gateUrl);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
  } catch {
    return null;
  }
}

/** Turns engine refusals into API errors that keep their operator-facing message. */
async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof EngineError) throw new ApiError(err.code, err.message);
    throw err;
  }
}

/** The coordinator's implementation of the API's services. */
export function createCoordinatorServices(opts: CoordinatorServicesOptions): ApiServices {
  const { store, engine } = opts;

  async function plan(input: UpgradeInput): Promise<Plan> {
    const edition = await store.getEdition(input.app, input.edition);
    if (!edition) {
      const known = (await store.listEditions(input.app)).map((e) => e.name);
      throw new ApiError(
        'NOT_FOUND',
        `Edition "${input.edition}" of ${input.app} has not been uploaded${known.length ? ` (uploaded: ${known.join(', ')})` : ''}. Upload it with \`rollgate edition upload --app ${input.app} --name ${input.edition} --file <archive>\`.`,
      );
    }
    const servers = await store.listServers({ cluster: input.cluster });
    if (servers.length === 0) {
      throw new ApiError(
        'NOT_FOUND',
        `No server has registered in cluster "${input.cluster}". Start the agents (their config names the cluster) and check \`rollgate servers\`.`,
      );
    }
    const notServing = servers.filter((s) => !s.services.some((svc) => svc.name === input.app));
    if (notServing.length > 0) {
      throw new ApiError(
        'PRECONDITION_FAILED',
        `Servers ${notServing.map((s) => s.id).join(', ')} in cluster "${input.cluster}" do not manage "${input.app}". Add the service to their agent config, or upgrade a cluster whose servers all run it.`,
      );
    }
    return compileMinorUpgrade({
      cluster: input.cluster,
      service: input.app,
      servers: servers.map((s) => ({ id: s.id, cluster: s.cluster, role: s.role, hostname: s.hostname })),
      toEdition: edition,
      // The run's own interval, else the cluster's, else 30 s (the seed's edition manager default).
      drainMs:
        (input.drainageIntervalSec ?? (await store.getClusterLb(input.cluster))?.drainageIntervalSec ?? 30) *
        1000,
      healthTimeoutMs: input.healthTimeoutSec * 1000,
      signOff: input.signOff,
      probe: { path: input.probePath, expectStatus: 200, expectBodyContains: '' },
    });
  }

  return {
    version: opts.version,
    store,
    runs: {
      plan,
      async start(input, actor) {
        const compiled = await plan(input);
        const active = await store.listRuns({ statuses: ['running', 'paused', 'waiting-approval'] });
        const clash = active.find((r) => r.plan.cluster === input.cluster);
        if (clash) {
          throw new ApiError(
            'CONFLICT',
            `Run ${clash.id} is still ${clash.status} on cluster "${input.cluster}". Finish it, or abort it with \`rollgate upgrade abort ${clash.id}\`, before starting another.`,
          );
        }
        const disconnected = (await store.listServers({ cluster: input.cluster })).filter(
          (s) => s.status !== 'connected',
        );
        if (disconnected.length > 0) {
          throw new ApiError(
            'PRECONDITION_FAILED',
            `Agents ${disconnected.map((s) => `${s.id} (${s.status})`).join(', ')} are not connected. Every server of the cluster must be reachable before an upgrade starts.`,
          );
        }
        return mapErrors(() => engine.createRun(compiled, actor));
      },
      pause: (runId, actor, reason) => mapErrors(() => engine.pause(runId, actor, reason)),
      resume: (runId, actor) => mapErrors(() => engine.resume(runId, actor)),
      abort: (runId, actor, reason) => mapErrors(() => engine.abort(runId, actor, reason)),
      signOff: (runId, decision, comment, actor) =>
        mapErrors(() => engine.signOff(runId, decision, comment, actor)),
      skipDrain: (runId, serverId, actor) => mapErrors(() => engine.skipDrain(runId, serverId, actor)),
    },
    lb: {
      async configure(cluster, config, actor) {
        const servers = await store.listServers({ cluster });
        try {
          await opts.lb.verify(
            config,
            servers.map((s) => s.id),
          );
        } catch (err) {
          throw new ApiError('PRECONDITION_FAILED', `${(err as Error).message} Nothing was saved.`);
        }
        await store.setClusterLb(cluster, config);
        opts.lb.forget(cluster);
        await store.appendAudit({
          at: opts.clock.now(),
          actor,
          action: 'lb.configure',
          target: cluster,
          details: { ...config },
        });
        return config;
      },
      async clear(cluster, actor) {
        await store.setClusterLb(cluster, null);
        opts.lb.forget(cluster);
        await store.appendAudit({
          at: opts.clock.now(),
          actor,
          action: 'lb.clear',
          target: cluster,
          details: {},
        });
      },
      async show(cluster) {
        const config = await store.getClusterLb(cluster);
        const servers = await store.listServers({ cluster });
        let error: string | null = null;
        let stats = new Map<string, ServerStat>();
        if (config?.mode === 'haproxy-runtime') {
          try {
            stats = await opts.lb.stats(config);
          } catch (err) {
            error = (err as Error).message;
          }
        }
        return {
          cluster,
          config,
          error,
          servers: servers.map((s) => {
            const name = config ? haproxyServerName(config, s.id) : s.id;
            const st = stats.get(name);
            return {
              serverId: s.id,
              haproxyServer: name,
              status: st
                ? {
                    up: st.status === 'UP' && st.adminState === 'ready',
                    sessions: st.scur,
                    totalSessions: st.stot,
                    state: st.statusText,
                  }
                : null,
            };
          }),
        };
      },
      async haproxyConfig(input) {
        const config: LbConfig | null = await store.getClusterLb(input.cluster);
        const servers = await store.listServers({ cluster: input.cluster });
        if (servers.length === 0) {
          throw new ApiError(
            'NOT_FOUND',
            `No server has registered in cluster "${input.cluster}"; start its agents first.`,
          );
        }
        const rows = servers.map((s) => {
          const gate = gateAddress(s.gateUrl);
          const port = s.services.find((svc) => svc.port)?.port;
          if (!gate || !port) {
            throw new ApiError(
              'PRECONDITION_FAILED',
              `Agent ${s.id} has not reported its gate address and service port (gate URL "${s.gateUrl}"); upgrade the agent.`,
            );
          }
          return {
            name: config ? haproxyServerName(config, s.id) : s.id,
            address: gate.host,
            servicePort: port,
            gatePort: gate.port,
            ...(s.agentCheckPort ? { agentCheckPort: s.agentCheckPort } : {}),
          };
        });
        return renderHaproxyBackend({
          cluster: input.cluster,
          backend: input.backend ?? config?.backend ?? input.cluster,
          bind: input.bind,
          runtimeSocketPath: input.socketPath,
          servers: rows,
          checkIntervalMs: input.checkIntervalMs ?? config?.checkIntervalMs ?? 1000,
          fall: config?.fall ?? 2,
          rise: config?.rise ?? 2,
          ...(input.slowstartMs !== undefined ? { slowstartMs: input.slowstartMs } : {}),
          ...(config?.agentInterMs !== undefined ? { agentInterMs: config.agentInterMs } : {}),
        });
      },
    },
    editions: {
      async upload(input, actor) {
        const content = Buffer.from(input.contentBase64, 'base64');
        if (content.length === 0)
          throw new ApiError('BAD_REQUEST', 'The archive is empty or not valid base64.');
        if (content.length > MAX_EDITION_BYTES) {
          throw new ApiError(
            'BAD_REQUEST',
            `The archive is ${content.length} bytes; at most ${MAX_EDITION_BYTES} are accepted.`,
          );
        }
        if (!(content[0] === 0x1f && content[1] === 0x8b)) {
          throw new ApiError(
            'BAD_REQUEST',
            'The archive is not gzip-compressed; upload a .tar.gz (tgz) file.',
          );
        }
        const existing = await store.getEdition(input.app, input.name);
        if (existing) {
          throw new ApiError(
            'CONFLICT',
            `Edition "${input.name}" of ${input.app} already exists (sha256 ${existing.sha256.slice(0, 12)}…). Editions are never overwritten: upload it under a new name such as "${input.name}_2".`,
          );
        }
        const { sha256, size } = await opts.artifacts.put(content);
        const record = {
          app: input.app,
          name: input.name,
          description: input.description,
          sha256,
          size,
          ...(input.dbUpgradeCommand ? { dbUpgradeCommand: input.dbUpgradeCommand } : {}),
          createdAt: opts.clock.now(),
          createdBy: actor,
        };
        try {
          await store.insertEdition(record);
        } catch (err) {
          if (err instanceof StoreConflictError) throw new ApiError('CONFLICT', err.message);
          throw err;
        }
        await store.appendAudit({
          at: opts.clock.now(),
          actor,
          action: 'edition.upload',
          target: `${input.app}/${input.name}`,
          details: { sha256, size },
        });
        return record;
      },
    },
  };
}
