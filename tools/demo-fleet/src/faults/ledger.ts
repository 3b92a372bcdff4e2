// Reads the coordinator's out-of-rotation ledger (lb_ledger) straight from its embedded
// PostgreSQL. The API shows only the open entries; the capacity-floor checker needs the whole
// history, including what was recorded just before a SIGKILL (the ledger is committed before any
// gate closes, whereas batched log lines in flight die with the process).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { LedgerRow } from './capacity-floor';

/** `coordinatorDataDir` is the coordinator's ROLLGATE_DATA_DIR (it holds pg-state.json). */
export async function readLedger(coordinatorDataDir: string): Promise<LedgerRow[]> {
  const state = JSON.parse(await readFile(join(coordinatorDataDir, 'pg-state.json'), 'utf8')) as {
    port: number;
    password: string;
  };
  const client = new pg.Client({
    host: '127.0.0.1',
    port: state.port,
    user: 'postgres',
    password: state.password,
    database: 'rollgate',
  });
  await client.connect();
  try {
    const res = await client.query<{
      run_id: string;
      server_id: string;
      step_index: number;
      closed_at: Date;
      reopened_at: Date | null;
    }>(
      'SELECT run_id, server_id, step_index, closed_at, reopened_at FROM lb_ledger ORDER BY closed_at, run_id, server_id, step_index',
    );
    return res.rows.map((r) => ({
      runId: r.run_id,
      serverId: r.server_id,
      stepIndex: r.step_index,
      closedAt: r.closed_at.getTime(),
      reopenedAt: r.reopened_at ? r.reopened_at.getTime() : null,
    }));
  } finally {
    await client.end();
  }
}
