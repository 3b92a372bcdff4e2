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

  async function issue(
    serverId: string,
    cluster: string | null,
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
    await store.recordCertificate({
      serial,
      serverId,
      cluster,
      issuedAt: now(),
      notAfter: issued.notAfter,
      via,
      revokedAt: null,
      revokedBy: null,
    });
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
    async createJoinToken(input: { ttlMs: number; cluster?: string }, actor: string, from: string) {
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
        cluster: input.cluster ?? null,
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
        details: { from, cluster: input.cluster ?? null, expiresAt: new Date(expiresAt).toISOString() },
      });
      return {
        token: formatJoinToken({ id, secret, caFingerprint: ca.fingerprint }),
        id,
        expiresAt,
        cluster: input.cluster ?? null,
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
      const refuse = async (why: string, message: string): Promise<never> => {
        await opts.audit({
          at: now(),
          actor: `agent:${req.serverId}`,
          action: 'agents.enrol-refused',
          target: req.serverId,
          details: { from, tokenId: req.tokenId, why },
        });
        throw new IdentityError(401, message);
      };
      if (!known) {
        return refuse(
          'unknown token',
          'the join token is not valid: ask an operator for a new one (`rollgate agents token create`)',
        );
      }
      checkProof(req, req.serverId);
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
      const answer = await issue(req.serverId, used.token.cluster, req.publicKeyPem, 'enrol');
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
      const answer = await issue(cert.serverId, cert.cluster, req.publicKeyPem, 'renew');
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
      hello: { agentId: string; cluster: string },
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
      if (cert.cluster !== null && cert.cluster !== hello.cluster) {
        return `the join token was for cluster "${cert.cluster}", Hello says "${hello.cluster}"`;
      }
      await store.setTransport(hello.agentId, 'mtls', now());
      return null;
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
