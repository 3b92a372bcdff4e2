import { ApiError, type ApiServices } from '@rollgate/api';
import type { RunRecord } from '@rollgate/engine';
import type { CoordinatorServicesOptions, SharedServices } from './options';

/**
 * The customer's portal (docs/adr/0042): the token opens one run, the customer acts on it as
 * `customer:<recipient>`, and every answer is what the customer sees of it (the portal view).
 */
export function createPortalServices(
  opts: Pick<CoordinatorServicesOptions, 'auth' | 'store' | 'engine'>,
  shared: Pick<SharedServices, 'queries'>,
): ApiServices['portal'] {
  const { auth, store, engine } = opts;

  /** The run a portal token opens and for whom; UNAUTHORIZED saying why when it opens none. */
  async function open(token: string): Promise<{ run: RunRecord; recipient: string }> {
    const opened = await auth.resolvePortal(token);
    const run = opened ? await store.getRun(opened.runId) : null;
    if (!opened || !run) {
      const why = opened ? null : await auth.portalRefusal(token);
      throw new ApiError(
        'UNAUTHORIZED',
        why === 'revoked'
          ? 'This portal link was withdrawn by your service provider; ask your contact for a new one.'
          : 'This portal link is not valid or has expired; ask your contact for a new one.',
      );
    }
    return { run, recipient: opened.recipient };
  }

  return {
    async view(token) {
      const { run, recipient } = await open(token);
      return shared.queries.portalView(run, recipient);
    },
    async signOff(token, decision, comment) {
      const { run, recipient } = await open(token);
      const done = await engine.signOff(run.id, decision, comment, `customer:${recipient}`);
      return shared.queries.portalView(done, recipient);
    },
    async decideRollback(token, decision, comment) {
      const { run, recipient } = await open(token);
      const done = await engine.decideRollback(run.id, decision, comment, `customer:${recipient}`);
      return shared.queries.portalView(done, recipient);
    },
  };
}
