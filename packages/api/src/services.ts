import type { LbConfig, Plan } from '@rollgate/domain';
import type { EditionRecord, EngineStore, RunRecord } from '@rollgate/engine';
import type { EditionUploadInput, HaproxyConfigInput, UpgradeInput } from './inputs';

/**
 * What the coordinator provides to the router. The router validates input and maps errors; the
 * services own the behaviour (and the coordinator is the only owner of state).
 */
export interface ApiServices {
  version: string;
  store: EngineStore;
  runs: {
    plan(input: UpgradeInput): Promise<Plan>;
    start(input: UpgradeInput, actor: string): Promise<RunRecord>;
    pause(runId: string, actor: string, reason?: string): Promise<RunRecord>;
    resume(runId: string, actor: string): Promise<RunRecord>;
    abort(runId: string, actor: string, reason?: string): Promise<RunRecord>;
    signOff(
      runId: string,
      decision: 'approve' | 'reject',
      comment: string,
      actor: string,
    ): Promise<RunRecord>;
    skipDrain(runId: string, serverId: string, actor: string): Promise<void>;
  };
  lb: {
    /** Validates the config against the live load balancer before saving it. */
    configure(cluster: string, config: LbConfig, actor: string): Promise<LbConfig>;
    clear(cluster: string, actor: string): Promise<void>;
    show(cluster: string): Promise<LbView>;
    haproxyConfig(input: HaproxyConfigInput): Promise<string>;
  };
  editions: {
    upload(input: EditionUploadInput, actor: string): Promise<EditionRecord>;
  };
}

export interface ApiContext {
  /** Who is calling, for the audit log (e.g. `cli@host` or `web`). */
  actor: string;
  services: ApiServices;
}

/** A cluster's load balancer as configured and, in runtime mode, as it reports now. */
export interface LbView {
  cluster: string;
  config: LbConfig | null;
  servers: {
    serverId: string;
    haproxyServer: string;
    /** null when the LB cannot be asked (gate-only, or not configured). */
    status: { up: boolean; sessions: number; totalSessions: number; state: string } | null;
  }[];
  /** Why the live status is missing, if it is. */
  error: string | null;
}
