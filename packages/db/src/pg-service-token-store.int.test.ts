// Issue 16 item 5: the service-token store on a real (embedded) PostgreSQL, after migration 0015.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type RollgateDb } from './create-db';
import {
  createPgServiceTokenStore,
  ServiceTokenNameTaken,
  type ServiceTokenRecord,
} from './pg-service-token-store';
import { seedFromTemplate } from '@rollgate/test-kit';

const NOW = 1_800_000_000_000;
const token = (over: Partial<ServiceTokenRecord>): ServiceTokenRecord => ({
  id: 'id-1',
  name: 'ci',
  role: 'operator',
  cluster: 'demo',
  tokenHash: 'a'.repeat(64),
  createdBy: 'alice',
  createdAt: NOW,
  expiresAt: NOW + 86_400_000,
  revokedAt: null,
  revokedBy: null,
  lastUsedAt: null,
  lastUsedFrom: null,
  ...over,
});

describe('issue 16 item 5: PostgreSQL service-token store (embedded)', () => {
  let db: RollgateDb;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rollgate-service-tokens-'));
    // A copy of the run's cluster template instead of an initdb (docs/adr/0048).
    await seedFromTemplate(process.env.ROLLGATE_TEST_PG_TEMPLATE, dataDir);
    db = createDb({ dataDir });
    await db.start();
  });
  afterAll(async () => {
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('issue 16 item 5: keeps a token by its hash, one live token per name, revocation and last use', async () => {
    const store = createPgServiceTokenStore(db.db);
    await store.create(token({}));
    expect(await store.getByHash('a'.repeat(64))).toEqual(token({}));
    await expect(store.create(token({ id: 'id-2', tokenHash: 'b'.repeat(64) }))).rejects.toBeInstanceOf(
      ServiceTokenNameTaken,
    );
    await store.touch('id-1', NOW + 5, '10.0.0.7');
    expect(await store.getLive('ci')).toMatchObject({ lastUsedAt: NOW + 5, lastUsedFrom: '10.0.0.7' });
    expect(await store.countLive(NOW)).toBe(1);
    expect(await store.countLive(NOW + 86_400_000)).toBe(0);
    expect(await store.revoke('id-1', NOW + 10, 'bob')).toBe(true);
    expect(await store.revoke('id-1', NOW + 20, 'bob')).toBe(false);
    expect(await store.getLive('ci')).toBeNull();
    // A revoked name may be given to a new token; the list keeps both, oldest first.
    await store.create(token({ id: 'id-2', tokenHash: 'b'.repeat(64), createdAt: NOW + 30 }));
    const all = await store.list();
    expect(all.map((t) => [t.id, t.revokedAt, t.revokedBy])).toEqual([
      ['id-1', NOW + 10, 'bob'],
      ['id-2', null, null],
    ]);
    // The same hash twice is refused by the database too.
    await expect(
      store.create(token({ id: 'id-3', name: 'other', tokenHash: 'b'.repeat(64) })),
    ).rejects.toThrow();
  });
});
