import type { IdentityStore } from '@rollgate/engine';
import { and, desc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from './create-db';
import { agentCertificates, agentTransports, joinTokens } from './identity-schema';

/** Agent identities on PostgreSQL (the same contract as createMemoryIdentityStore). */
export function createPgIdentityStore(db: Db): IdentityStore {
  return {
    async createJoinToken(t) {
      await db.insert(joinTokens).values({ ...t, serverId: t.serverId ?? null });
    },
    async getJoinToken(id) {
      const [row] = await db.select().from(joinTokens).where(eq(joinTokens.id, id));
      return row ?? null;
    },
    async consumeJoinToken(id, now, serverId) {
      // One conditional UPDATE: of two concurrent uses, PostgreSQL lets exactly one match.
      const [used] = await db
        .update(joinTokens)
        .set({ usedAt: now, usedBy: serverId })
        .where(and(eq(joinTokens.id, id), isNull(joinTokens.usedAt), gt(joinTokens.expiresAt, now)))
        .returning();
      if (used) return { ok: true, token: used };
      const [row] = await db.select().from(joinTokens).where(eq(joinTokens.id, id));
      return { ok: false, reason: !row ? 'unknown' : row.usedAt !== null ? 'used' : 'expired' };
    },
    async recordCertificate(c) {
      await db.insert(agentCertificates).values({ ...c, role: c.role ?? null });
    },
    async recordEnrolment(c, now) {
      return db.transaction(async (tx) => {
        // One enrolment of a server id at a time (across coordinators): the check and the insert
        // below must not interleave with another's.
        await tx.execute(
          sql`SELECT pg_advisory_xact_lock(hashtext('rollgate-enrol'), hashtext(${c.serverId}))`,
        );
        const [live] = await tx
          .select()
          .from(agentCertificates)
          .where(
            and(
              eq(agentCertificates.serverId, c.serverId),
              isNull(agentCertificates.revokedAt),
              gt(agentCertificates.notAfter, now),
            ),
          )
          .orderBy(desc(agentCertificates.issuedAt))
          .limit(1);
        if (live) return live;
        await tx.insert(agentCertificates).values({ ...c, role: c.role ?? null });
        return null;
      });
    },
    async pinIdentity(serial, cluster, role) {
      const [row] = await db
        .update(agentCertificates)
        .set({
          cluster: sql`coalesce(${agentCertificates.cluster}, ${cluster})`,
          role: sql`coalesce(${agentCertificates.role}, ${role})`,
        })
        .where(eq(agentCertificates.serial, serial))
        .returning();
      return row ?? null;
    },
    async getCertificate(serial) {
      const [row] = await db.select().from(agentCertificates).where(eq(agentCertificates.serial, serial));
      return row ?? null;
    },
    async revokeServer(serverId, at, by) {
      const rows = await db
        .update(agentCertificates)
        .set({ revokedAt: at, revokedBy: by })
        .where(and(eq(agentCertificates.serverId, serverId), isNull(agentCertificates.revokedAt)))
        .returning({ serial: agentCertificates.serial });
      return rows.length;
    },
    async listCertificates(serverId) {
      return db
        .select()
        .from(agentCertificates)
        .where(eq(agentCertificates.serverId, serverId))
        .orderBy(desc(agentCertificates.issuedAt));
    },
    async setTransport(serverId, transport, at) {
      await db
        .insert(agentTransports)
        .values({ serverId, transport, at })
        .onConflictDoUpdate({ target: agentTransports.serverId, set: { transport, at } });
    },
    async listTransports(serverIds) {
      if (serverIds.length === 0) return {};
      const rows = await db
        .select()
        .from(agentTransports)
        .where(inArray(agentTransports.serverId, [...serverIds]));
      return Object.fromEntries(rows.map((r) => [r.serverId, r.transport]));
    },
  };
}
