import type { QueryServices } from '@rollgate/api';
import type { Engine, EngineStore, RunRecord } from '@rollgate/engine';
import { describe, expect, it } from 'vitest';
import type { AuthService } from '../http/auth-service';
import { createPortalServices } from './portal';

const RUN = { id: 'r-1', status: 'waiting-approval' } as RunRecord;
const TOKENS: Record<string, { runId: string; recipient: string }> = {
  good: { runId: 'r-1', recipient: 'Ann Lead' },
  'run-gone': { runId: 'r-gone', recipient: 'Ann Lead' },
};

/** Fakes of the ports the portal uses; `calls` records what reached the engine and the view. */
function portal() {
  const calls: string[] = [];
  const auth = {
    resolvePortal: async (token: string) => TOKENS[token] ?? null,
    portalRefusal: async (token: string) => (token === 'revoked' ? 'revoked' : null),
  } as unknown as AuthService;
  const store = {
    getRun: async (id: string) => (id === RUN.id ? RUN : null),
  } as unknown as EngineStore;
  const engine = {
    signOff: async (runId: string, decision: string, comment: string, actor: string) => {
      calls.push(`signOff ${runId} ${decision} "${comment}" by ${actor}`);
      return { ...RUN, status: 'succeeded' };
    },
    decideRollback: async (runId: string, decision: string, comment: string, actor: string) => {
      calls.push(`decideRollback ${runId} ${decision} "${comment}" by ${actor}`);
      return { ...RUN, status: 'running' };
    },
  } as unknown as Engine;
  const queries = {
    portalView: async (run: RunRecord, recipient: string) => {
      calls.push(`view ${run.id} ${run.status} for ${recipient}`);
      return { runId: run.id, status: run.status, recipient };
    },
  } as unknown as QueryServices;
  return { services: createPortalServices({ auth, store, engine }, { queries }), calls };
}

describe('the customer portal services (issue 15 item 2: one service call per portal procedure)', () => {
  it("view opens the token's run and answers the customer's view of it", async () => {
    const { services, calls } = portal();
    expect(await services.view('good')).toEqual({
      runId: 'r-1',
      status: 'waiting-approval',
      recipient: 'Ann Lead',
    });
    expect(calls).toEqual(['view r-1 waiting-approval for Ann Lead']);
  });

  it("signOff and decideRollback act on the token's run as customer:<recipient> and answer the view after", async () => {
    const { services, calls } = portal();
    expect(await services.signOff('good', 'approve', 'all fine')).toMatchObject({ status: 'succeeded' });
    expect(await services.decideRollback('good', 'decline', '')).toMatchObject({ status: 'running' });
    expect(calls).toEqual([
      'signOff r-1 approve "all fine" by customer:Ann Lead',
      'view r-1 succeeded for Ann Lead',
      'decideRollback r-1 decline "" by customer:Ann Lead',
      'view r-1 running for Ann Lead',
    ]);
  });

  it('a token that opens nothing is UNAUTHORIZED saying why, and nothing reaches the engine', async () => {
    const { services, calls } = portal();
    await expect(services.signOff('revoked', 'approve', '')).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/withdrawn by your service provider/),
    });
    await expect(services.view('unknown')).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/not valid or has expired/),
    });
    await expect(services.decideRollback('run-gone', 'authorise', '')).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect(calls).toEqual([]);
  });
});
