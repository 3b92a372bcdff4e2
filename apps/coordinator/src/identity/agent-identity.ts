// Agent identities (docs/adr/0013): join tokens, enrolment, renewal, revocation, and the identity
// check the gateway runs on every Hello. Transport-free: the HTTPS enrolment server and the gateway
// call it; every mutation is audited with who and from where; secrets never reach a log or an answer
// beyond the one that creates them.
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import {
  enrolmentProofPayload,
  formatJoinToken,
  type EnrolRequest,
  type EnrolResponse,
  type RenewRequest,
} from '@rollgate/domain';
import type { AuditEvent, IdentityStore } from '@rollgate/engine';
import type { Logger } from '@rollgate/logger';
import type { AgentCa } from './agent-ca';

/** A refusal to show the caller as is: it says what is wrong and what to do, and holds no secret. */
export class IdentityError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 429 | 503,
    message: string,
  ) {
    super(message);
  }
}

export interface AgentIdentityOptions {
  store: IdentityStore;
  ca: AgentCa;
  audit: (event: AuditEvent) => Promise<void>;
  log: Logger;
  now?: () => number;
  /** Lifetime of the certificates issued to agents, ms; default 24 h. */
  certLifetimeMs?: number;
  /** Longest join token lifetime accepted, ms; default 7 days. */
  maxTokenTtlMs?: number;
  /** Called after a revocation (the stream guard closes the server's stream at once). */
  onRevoked?: (serverId: string) => void;
}

/** The TLS peer as the gateway sees it (null on a plaintext connection). */
export interface PeerCert {
  commonName: string;
  /** Hex, any case. */
  serial: string;
  /** ms */
  validTo: number;
}

export const normaliseSerial = (s: string) => s.toLowerCase().replace(/^0+/, '');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function checkProof(req: { publicKeyPem: string; nonce: string; signature: string }, serverId: string) {
  let ok = false;
  try {
    ok = verify(
      'sha256',
      Buffer.from(enrolmentProofPayload({ serverId, publicKeyPem: req.publicKeyPem, nonce: req.nonce })),
      createPublicKey(req.publicKeyPem),
      Buffer.from(req.signature, 'base64'),
    );
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new IdentityError(
      400,
      'the proof of possession does not verify: sign the enrolment payload with the private key of the public key sent',
    );
  }
}

export function createAgentIdentity(opts: AgentIdentityOptions) {
  const { store, ca, log } = opts;
  const now = opts.now ?? Date.now;
  const lifetime = opts.certLifetimeMs ?? 86_400_000;
  const maxTtl = opts.maxTokenTtlMs ?? 7 * 86_400_000;

  /** A live certificate of the server blocks a new enrolment (docs/adr/0018): say what to do. */
  const liveRefusal = (serverId: string, live: { notAfter: number }) =>
    `server "${serverId}" is enrolled and its certificate is valid until ${new Date(live.notAfter).toISOString()}: ` +
    `if this is a replacement, revoke the old identity first (\`rollgate agents revoke ${serverId}\`), then enrol with a new join token`;

  async function issue(
    serverId: string,
    pin: { cluster: string | null; role: string | null },
    publicKeyPem: string,
    via: 'enrol' | 'renew',
  ) {
    let issued;
    try {
      issued = await ca.issueAgentCert(serverId, publicKeyPem, lifetime);
    } catch (err) {
      throw new IdentityError(400, `cannot issue a certificate: ${(err as Error).message}`);
    }
    const serial = normaliseSerial(issued.serial);
    const record = {
      serial,
      serverId,
      cluster: pin.cluster,
      role: pin.role,
      issuedAt: now(),
      notAfter: issued.notAfter,
      via,
      revokedAt: null,
      revokedBy: null,
    };
    if (via === 'renew') await store.recordCertificate(record);
    else {
      // Checked again where it is recorded: two enrolments of one id at once, one wins.
      const live = await store.recordEnrolment(record, now());
      if (live) throw new IdentityError(409, liveRefusal(serverId, live));
    }
    const answer: EnrolResponse = {
      certPem: issued.certPem,
      caCertPem: ca.caCertPem,
      serial,
      notAfter: issued.notAfter,
    };
    return answer;
  }

  return {
    caFingerprint: ca.fingerprint,
    certLifetimeMs: lifetime,

    /** A single-use join token; the only time its text exists outside the agent that uses it. */
    async createJoinToken(
      input: { ttlMs: number; cluster?: string; serverId?: string },
      actor: string,
      from: string,
    ) {
      if (!input.cluster) {
        throw new IdentityError(
          400,
          'a join token must name the cluster its agent joins (the agent is pinned to it): give --cluster <name>',
        );
      }
      if (input.ttlMs <= 0 || input.ttlMs > maxTtl) {
        throw new IdentityError(
          400,
          `a join token lives between 1 s and ${Math.round(maxTtl / 3600_000)} h; give a shorter --ttl`,
        );
      }
      const id = randomBytes(8).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const at = now();
      const expiresAt = at + input.ttlMs;
      await store.createJoinToken({
        id,
        secretHash: sha256(secret),
        cluster: input.cluster,
        serverId: input.serverId ?? null,
        createdBy: actor,
        createdFrom: from,
        createdAt: at,
        expiresAt,
        usedAt: null,
        usedBy: null,
      });
      await opts.audit({
        at,
        actor,
        action: 'agents.token-create',
        target: id,
        details: {
          from,
          cluster: input.cluster,
          serverId: input.serverId ?? null,
          expiresAt: new Date(expiresAt).toISOString(),
        },
      });
      return {
        token: formatJoinToken({ id, secret, caFingerprint: ca.fingerprint }),
        id,
        expiresAt,
        cluster: input.cluster,
        serverId: input.serverId ?? null,
        caFingerprint: ca.fingerprint,
      };
    },

    /** Revokes every certificate of the server: its streams are refused, it cannot renew. */
    async revoke(serverId: string, actor: string, from: string) {
      const at = now();
      const revoked = await store.revokeServer(serverId, at, actor);
      opts.onRevoked?.(serverId);
      await opts.audit({
        at,
        actor,
        action: 'agents.revoke',
        target: serverId,
        details: { from, certificates: revoked },
      });
      return { serverId, revokedCertificates: revoked };
    },

    async enrol(req: EnrolRequest, from: string): Promise<EnrolResponse> {
      const token = await store.getJoinToken(req.tokenId);
      const known =
        token !== null &&
        timingSafeEqual(Buffer.from(token.secretHash, 'hex'), Buffer.from(sha256(req.secret), 'hex'));
      const refuse = async (why: string, message: string, status: 401 | 409 = 401): Promise<never> => {
        await opts.audit({
          at: now(),
          actor: `agent:${req.serverId}`,
          action: 'agents.enrol-refused',
          target: req.serverId,
          details: { from, tokenId: req.tokenId, why },
        });
        throw new IdentityError(status, message);
      };
      if (!known) {
        return refuse(
          'unknown token',
          'the join token is not valid: ask an operator for a new one (`rollgate agents token create`)',
        );
      }
      checkProof(req, req.serverId);
      if (token.cluster === null) {
        return refuse(
          'token names no cluster',
          'this join token names no cluster (it was made before agents were pinned to their cluster): ask an operator for a new one (`rollgate agents token create --cluster <name>`)',
        );
      }
      if (token.serverId && token.serverId !== req.serverId) {
        return refuse(
          'token for another server id',
          `this join token is for server "${token.serverId}" only, not "${req.serverId}": use the server id it names, or ask for a token for this one`,
        );
      }
      // Before the token is spent: a live server id is not enrolled again until it is revoked.
      const live = (await store.listCertificates(req.serverId)).find(
        (c) => c.revokedAt === null && c.notAfter > now(),
      );
      if (live) return refuse('server id enrolled and live', liveRefusal(req.serverId, live), 409);
      const used = await store.consumeJoinToken(req.tokenId, now(), req.serverId);
      if (!used.ok) {
        return refuse(
          `token ${used.reason}`,
          used.reason === 'used'
            ? 'the join token was already used (tokens are single-use): ask an operator for a new one'
            : used.reason === 'expired'
              ? 'the join token has expired: ask an operator for a new one'
              : 'the join token is not valid: ask an operator for a new one',
        );
      }
      let answer: EnrolResponse;
      try {
        answer = await issue(
          req.serverId,
          { cluster: used.token.cluster, role: null },
          req.publicKeyPem,
          'enrol',
        );
      } catch (err) {
        if (err instanceof IdentityError && err.status === 409) {
          return refuse('server id enrolled and live', err.message, 409);
        }
        throw err;
      }
      await opts.audit({
        at: now(),
        actor: `agent:${req.serverId}`,
        action: 'agents.enrol',
        target: req.serverId,
        details: { from, tokenId: req.tokenId, tokenCreatedBy: used.token.createdBy, serial: answer.serial },
      });
      log.info({ serverId: req.serverId, from, serial: answer.serial }, 'agent enrolled');
      return answer;
    },

    /** A new certificate for the holder of a valid, unrevoked one (the mTLS peer). */
    async renew(peer: PeerCert, req: RenewRequest, from: string): Promise<EnrolResponse> {
      const cert = await store.getCertificate(normaliseSerial(peer.serial));
      if (!cert || cert.serverId !== peer.commonName) {
        throw new IdentityError(
          403,
          'this certificate was not issued by this coordinator: enrol again with a join token',
        );
      }
      if (cert.revokedAt !== null) {
        await opts.audit({
          at: now(),
          actor: `agent:${cert.serverId}`,
          action: 'agents.renew-refused',
          target: cert.serverId,
          details: { from, serial: cert.serial, why: 'revoked' },
        });
        throw new IdentityError(403, 'this agent was revoked: an operator must give it a new join token');
      }
      checkProof(req, cert.serverId);
      const answer = await issue(
        cert.serverId,
        { cluster: cert.cluster, role: cert.role ?? null },
        req.publicKeyPem,
        'renew',
      );
      await opts.audit({
        at: now(),
        actor: `agent:${cert.serverId}`,
        action: 'agents.renew',
        target: cert.serverId,
        details: { from, previous: cert.serial, serial: answer.serial },
      });
      log.info({ serverId: cert.serverId, serial: answer.serial }, 'agent certificate renewed');
      return answer;
    },

    /**
     * The gateway's Hello check: null when the peer may be `serverId`, else why not. A plaintext
     * peer (null) is refused unless the coordinator runs insecure.
     */
    async checkPeer(
      peer: PeerCert | null,
      hello: { agentId: string; cluster: string; role: string },
    ): Promise<string | null> {
      if (!peer) return 'this coordinator accepts agents over mTLS only: enrol the agent with a join token';
      if (peer.commonName !== hello.agentId) {
        return `the certificate names server "${peer.commonName}" but Hello says "${hello.agentId}": an agent may only connect as the server it enrolled as`;
      }
      const cert = await store.getCertificate(normaliseSerial(peer.serial));
      if (!cert || cert.serverId !== hello.agentId)
        return 'the certificate is unknown to this coordinator: enrol again';
      if (cert.revokedAt !== null) return 'this agent was revoked: an operator must give it a new join token';
      if (peer.validTo <= now()) return 'the certificate has expired: enrol again with a join token';
      // Cluster and role are pinned (docs/adr/0018): the token's cluster, the first Hello's role.
      const pinned =
        cert.cluster === null || (cert.role ?? null) === null
          ? await store.pinIdentity(cert.serial, hello.cluster, hello.role)
          : cert;
      if (!pinned) return 'the certificate is unknown to this coordinator: enrol again';
      if (pinned.cluster !== hello.cluster) {
        return `server "${hello.agentId}" is pinned to cluster "${pinned.cluster}" but Hello says "${hello.cluster}": fix "cluster" in the agent's config, or revoke it and enrol it with a join token for the other cluster`;
      }
      if (pinned.role !== hello.role) {
        return `server "${hello.agentId}" is pinned to role "${pinned.role}" but Hello says "${hello.role}": fix "role" in the agent's config, or revoke it and enrol it again`;
      }
      await store.setTransport(hello.agentId, 'mtls', now());
      return null;
    },

    /**
     * The server an mTLS peer is, for a call other than Connect (FetchArtifact): its certificate
     * must be known, unrevoked and unexpired on every call. Returns the server id, or why not.
     */
    async serverOf(peer: PeerCert | null): Promise<{ serverId: string } | { refusal: string }> {
      if (!peer) return { refusal: 'this coordinator serves agents over mTLS only' };
      const cert = await store.getCertificate(normaliseSerial(peer.serial));
      if (!cert || cert.serverId !== peer.commonName) {
        return { refusal: 'the certificate is unknown to this coordinator: enrol again' };
      }
      if (cert.revokedAt !== null) {
        return { refusal: 'this agent was revoked: an operator must give it a new join token' };
      }
      if (peer.validTo <= now() || cert.notAfter <= now()) {
        return { refusal: 'the certificate has expired: enrol again with a join token' };
      }
      return { serverId: cert.serverId };
    },

    /** Whether a certificate is still acceptable (for the periodic re-check of open streams). */
    async stillValid(serial: string): Promise<boolean> {
      const cert = await store.getCertificate(normaliseSerial(serial));
      return cert !== null && cert.revokedAt === null && cert.notAfter > now();
    },

    transports: (serverIds: readonly string[]) => store.listTransports(serverIds),
  };
}

export type AgentIdentity = ReturnType<typeof createAgentIdentity>;
