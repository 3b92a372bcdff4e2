import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { describeAuthStoreContract } from '@rollgate/engine/testing';
import { createDb, type RollgateDb } from './create-db';
import { createPgAuthStore } from './pg-auth-store';

describe('PostgreSQL auth store (embedded)', () => {
  let db: RollgateDb;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-auth-contract-'));
    db = createDb({ dataDir });
    await db.start();
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  describeAuthStoreContract('pg-auth-store on embedded PostgreSQL', async () => {
    await db.pool.query('TRUNCATE portal_tokens, sessions, users RESTART IDENTITY CASCADE');
    return { store: createPgAuthStore(db.db), cleanup: async () => {} };
  });
});
