// Service tokens for CI (issue 16 item 5, docs/adr/0031): named, with a role and an optional
// cluster scope, expiring, revocable; the token itself is kept as its sha256 only.
import type { Role } from '@rollgate/domain';
import { sql } from 'drizzle-orm';
import { customType, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';

// The same column type as schema.ts's epochMs, declared here because schema.ts re-exports this
// module: importing it back would be a cycle evaluated before epochMs exists.
const epochMs = customType<{ data: number; driverData: string | Date }>({
  dataType: () => 'timestamp with time zone',
  toDriver: (ms) => new Date(ms).toISOString(),
  fromDriver: (v) => (v instanceof Date ? v.getTime() : new Date(v).getTime()),
});

export const serviceTokens = pgTable(
  'service_tokens',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    role: text('role').$type<Role>().notNull(),
    /** null: every cluster. */
    cluster: text('cluster'),
    tokenHash: text('token_hash').notNull().unique(),
    createdBy: text('created_by').notNull(),
    createdAt: epochMs('created_at').notNull(),
    expiresAt: epochMs('expires_at').notNull(),
    revokedAt: epochMs('revoked_at'),
    revokedBy: text('revoked_by'),
    lastUsedAt: epochMs('last_used_at'),
    lastUsedFrom: text('last_used_from'),
  },
  // One live token per name, so `token revoke <name>` means one token; revoked names may be reused.
  (t) => [
    uniqueIndex('service_tokens_live_name_idx')
      .on(t.name)
      .where(sql`${t.revokedAt} IS NULL`),
  ],
);
