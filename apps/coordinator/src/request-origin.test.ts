import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '@rollgate/engine';
import { auditWithOrigin, requestOrigin, withRequestOrigin } from './request-origin';

describe('request origin in the audit log', () => {
  it('adds where a request came from to what it audits, across awaits; the coordinator’s own work has none', async () => {
    const store = auditWithOrigin(createMemoryStore());
    await withRequestOrigin('10.0.0.5', async () => {
      await new Promise((r) => setTimeout(r, 5));
      expect(requestOrigin()).toBe('10.0.0.5');
      await store.appendAudit({
        at: 1,
        actor: 'alice',
        action: 'run.start',
        target: 'r-1',
        details: { x: 1 },
      });
    });
    await store.appendAudit({
      at: 2,
      actor: 'coordinator',
      action: 'run.rollback.start',
      target: 'r-2',
      details: {},
    });
    // A caller that says where itself (e.g. an enrolment from an agent's address) is kept as said.
    await withRequestOrigin('10.0.0.5', () =>
      store.appendAudit({
        at: 3,
        actor: 'agent',
        action: 'agent.enrol',
        target: 'a-1',
        details: { from: '10.9.9.9' },
      }),
    );
    const rows = await store.listAudit();
    expect(Object.fromEntries(rows.map((r) => [r.action, r.details]))).toEqual({
      'run.start': { x: 1, from: '10.0.0.5' },
      'run.rollback.start': {},
      'agent.enrol': { from: '10.9.9.9' },
    });
    expect(requestOrigin()).toBeUndefined();
  });
});
