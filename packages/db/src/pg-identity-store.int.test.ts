import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { describeIdentityStoreContract } from '@rollgate/engine/testing/identity';
import { createDb, type RollgateDb } from './create-db';
import { createPgIdentityStore } from './pg-identity-store';

describe('PostgreSQL identity store (embedded)', () => {
  let db: RollgateDb;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-identity-contract-'));
    db = createDb({ dataDir });
    await db.start();
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  describeIdentityStoreContract('pg-identity-store on embedded PostgreSQL', async () => {
    await db.pool.query('TRUNCATE join_tokens, agent_certificates, agent_transports');
    return { store: createPgIdentityStore(db.db), cleanup: async () => {} };
  });
});
