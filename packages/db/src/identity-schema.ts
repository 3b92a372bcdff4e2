// Agent identities (docs/adr/0013): join tokens (the secret as its sha256 only), the certificates
// issued to agents (revocable per server) and how each agent last connected.
import type { AgentTransport } from '@rollgate/engine';
import { customType, index, pgTable, text } from 'drizzle-orm/pg-core';

// The same column type as schema.ts's epochMs, declared here because schema.ts re-exports this
// module: importing it back would be a cycle evaluated before epochMs exists.
const epochMs = customType<{ data: number; driverData: string | Date }>({
  dataType: () => 'timestamp with time zone',
  toDriver: (ms) => new Date(ms).toISOString(),
  fromDriver: (v) => (v instanceof Date ? v.getTime() : new Date(v).getTime()),
});

export const joinTokens = pgTable('join_tokens', {
  id: text('id').primaryKey(),
  secretHash: text('secret_hash').notNull(),
  cluster: text('cluster'),
  serverId: text('server_id'),
  createdBy: text('created_by').notNull(),
  createdFrom: text('created_from').notNull(),
  createdAt: epochMs('created_at').notNull(),
  expiresAt: epochMs('expires_at').notNull(),
  usedAt: epochMs('used_at'),
  usedBy: text('used_by'),
});

export const agentCertificates = pgTable(
  'agent_certificates',
  {
    serial: text('serial').primaryKey(),
    serverId: text('server_id').notNull(),
    cluster: text('cluster'),
    role: text('role'),
    issuedAt: epochMs('issued_at').notNull(),
    notAfter: epochMs('not_after').notNull(),
    via: text('via').$type<'enrol' | 'renew'>().notNull(),
    revokedAt: epochMs('revoked_at'),
    revokedBy: text('revoked_by'),
  },
  (t) => [index('agent_certificates_server_idx').on(t.serverId)],
);

export const agentTransports = pgTable('agent_transports', {
  serverId: text('server_id').primaryKey(),
  transport: text('transport').$type<AgentTransport>().notNull(),
  at: epochMs('at').notNull(),
});
