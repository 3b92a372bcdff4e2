import type { Plan } from '@rollgate/domain';
import type { EditionRecord, EngineStore, RunRecord } from '@rollgate/engine';
import type { EditionUploadInput, UpgradeInput } from './inputs';

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
