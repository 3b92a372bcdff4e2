/**
 * Agent identities (docs/adr/0013): join tokens, the certificates issued to agents, and how each
 * agent is connected. Implemented by @rollgate/db for PostgreSQL and by createMemoryIdentityStore()
 * for unit tests; both pass describeIdentityStoreContract (./testing/identity-store-contract).
 */
export interface JoinTokenRecord {
  /** Public lookup key. */
  id: string;
  /** sha256 hex of the token's secret: the secret itself is never stored. */
  secretHash: string;
  /**
   * The cluster the enrolled agent is pinned to (docs/adr/0018). Every token made since names one;
   * null only on a token made before, which enrolment refuses.
   */
  cluster: string | null;
  /** The only server id that may enrol with it; null = any id not already enrolled. */
  serverId?: string | null;
  createdBy: string;
  createdFrom: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
}

export interface AgentCertRecord {
  /** Hex serial number. */
  serial: string;
  serverId: string;
  /**
   * The cluster the agent is pinned to (its join token's; Hello must name it). null only on a
   * certificate from before pinning whose server never said Hello: its first Hello pins it.
   */
  cluster: string | null;
  /** The role pinned at the agent's first Hello (Hello must name it after); null until then. */
  role?: string | null;
  issuedAt: number;
  notAfter: number;
  via: 'enrol' | 'renew';
  revokedAt: number | null;
  revokedBy: string | null;
}

export type AgentTransport = 'mtls' | 'insecure';

export type ConsumeResult =
  { ok: true; token: JoinTokenRecord } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export interface IdentityStore {
  createJoinToken(token: JoinTokenRecord): Promise<void>;
  getJoinToken(id: string): Promise<JoinTokenRecord | null>;
  /**
   * Marks the token used by serverId if it exists, is unused and `now` is before its expiry.
   * Atomic: of two concurrent uses of one token, exactly one gets ok.
   */
  consumeJoinToken(id: string, now: number, serverId: string): Promise<ConsumeResult>;
  recordCertificate(cert: AgentCertRecord): Promise<void>;
  /**
   * Records an enrolment's certificate unless the server has a live one (not revoked, notAfter
   * after `now`): then records nothing and returns that one. Atomic against a concurrent enrolment
   * of the same server id.
   */
  recordEnrolment(cert: AgentCertRecord, now: number): Promise<AgentCertRecord | null>;
  /**
   * Pins the cluster and role of a certificate that has none yet (its first Hello); returns the
   * certificate as pinned (the earlier pin wins).
   */
  pinIdentity(serial: string, cluster: string, role: string): Promise<AgentCertRecord | null>;
  getCertificate(serial: string): Promise<AgentCertRecord | null>;
  /** Revokes every certificate issued to serverId so far; returns how many were not yet revoked. */
  revokeServer(serverId: string, at: number, by: string): Promise<number>;
  /** Newest first. */
  listCertificates(serverId: string): Promise<AgentCertRecord[]>;
  setTransport(serverId: string, transport: AgentTransport, at: number): Promise<void>;
  /** serverId → how it last connected, for these servers (a page of the fleet, not all of it). */
  listTransports(serverIds: readonly string[]): Promise<Record<string, AgentTransport>>;
}

const clone = <T>(v: T): T => structuredClone(v);

/** An in-memory IdentityStore for unit tests; the PostgreSQL one passes the same tests. */
export function createMemoryIdentityStore(): IdentityStore {
  const tokens = new Map<string, JoinTokenRecord>();
  const certs = new Map<string, AgentCertRecord>();
  const transports = new Map<string, AgentTransport>();
  return {
    async createJoinToken(t) {
      tokens.set(t.id, clone({ ...t, serverId: t.serverId ?? null }));
    },
    async getJoinToken(id) {
      const t = tokens.get(id);
      return t ? clone(t) : null;
    },
    async consumeJoinToken(id, now, serverId) {
      const t = tokens.get(id);
      if (!t) return { ok: false, reason: 'unknown' };
      if (t.usedAt !== null) return { ok: false, reason: 'used' };
      if (now >= t.expiresAt) return { ok: false, reason: 'expired' };
      t.usedAt = now;
      t.usedBy = serverId;
      return { ok: true, token: clone(t) };
    },
    async recordCertificate(c) {
      certs.set(c.serial, clone({ role: null, ...c }));
    },
    async recordEnrolment(c, now) {
      const live = [...certs.values()].find(
        (x) => x.serverId === c.serverId && x.revokedAt === null && x.notAfter > now,
      );
      if (live) return clone(live);
      certs.set(c.serial, clone({ role: null, ...c }));
      return null;
    },
    async pinIdentity(serial, cluster, role) {
      const c = certs.get(serial);
      if (!c) return null;
      c.cluster ??= cluster;
      c.role ??= role;
      return clone(c);
    },
    async getCertificate(serial) {
      const c = certs.get(serial);
      return c ? clone(c) : null;
    },
    async revokeServer(serverId, at, by) {
      let n = 0;
      for (const c of certs.values()) {
        if (c.serverId === serverId && c.revokedAt === null) {
          c.revokedAt = at;
          c.revokedBy = by;
          n++;
        }
      }
      return n;
    },
    async listCertificates(serverId) {
      return clone(
        [...certs.values()].filter((c) => c.serverId === serverId).sort((a, b) => b.issuedAt - a.issuedAt),
      );
    },
    async setTransport(serverId, transport) {
      transports.set(serverId, transport);
    },
    async listTransports(serverIds) {
      return Object.fromEntries(
        serverIds.flatMap((id) => (transports.has(id) ? [[id, transports.get(id)!]] : [])),
      );
    },
  };
}
