import type { EvidenceView } from '@rollgate/api';
import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../context';
import { evidenceCommand } from './procedures';

const SHA = 'b'.repeat(64);
const backup = {
  kind: 'dbBackup' as const,
  file: '/var/backups/app.dump',
  bytes: 4096,
  sha256: SHA,
  tables: { orders: 3 },
  verified: true,
  verifyMs: 80,
};
const migrate = { kind: 'command' as const, command: 'db-upgrade', exitCode: 0, outputTail: '', ms: 1200 };

/** The evidence of a run whose schema step's one action produced two results (a backup, then the command). */
const EVIDENCE: EvidenceView = {
  runId: 'r-1',
  readiness: [],
  steps: [
    {
      index: 4,
      key: 'db-upgrade',
      title: 'Upgrade the database schema',
      results: [backup, migrate].map((result) => ({
        actionId: 'r-1.s4.db-1.a1',
        serverId: 'db-1',
        status: 'succeeded',
        finishedAt: 1,
        result,
      })),
    },
  ],
};

describe('rollgate upgrade evidence (issue 15 item 4: every result of an action)', () => {
  it('issue 15 item 4: prints every result of a multi-op action, in op order, not only the last', async () => {
    const printed: string[] = [];
    const ctx = {
      client: { upgrade: { evidence: { query: async () => EVIDENCE } } },
      out: { print: (t: string) => printed.push(t), json: () => undefined },
    } as unknown as CommandContext;
    expect(await evidenceCommand(ctx, 'r-1', {})).toBe(0);
    expect(printed.slice(-3)).toEqual([
      'Step 5 Upgrade the database schema:',
      `  db-1: database dumped to /var/backups/app.dump (4096 bytes, sha256 ${SHA}), verified restorable in 80 ms`,
      '  db-1: db-upgrade exited 0 in 1200 ms',
    ]);
  });
});
