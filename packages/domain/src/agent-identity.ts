// Agent identity (docs/adr/0013): the join token's text form and the enrolment wire messages,
// shared by the coordinator and the agent. Pure: no clock, no random, no crypto.
import { z } from 'zod';
import { SAFE_NAME } from './fleet';

/** `rgjoin.<id>.<secret>.<ca sha256>`: everything an agent needs to enrol, in one string. */
export const JOIN_TOKEN_PREFIX = 'rgjoin';
const JOIN_TOKEN = /^rgjoin\.([a-f0-9]{16})\.([A-Za-z0-9_-]{43})\.([a-f0-9]{64})$/;

export interface JoinToken {
  /** Public lookup key (stored in clear; the secret is stored as its sha256 only). */
  id: string;
  secret: string;
  /** sha256 of the coordinator CA certificate's DER, lowercase hex (like kubeadm's discovery hash). */
  caFingerprint: string;
}

export function formatJoinToken(t: JoinToken): string {
  return `${JOIN_TOKEN_PREFIX}.${t.id}.${t.secret}.${t.caFingerprint}`;
}

/** null when the text is not a join token (the caller says what to do; the text is never echoed). */
export function parseJoinToken(text: string): JoinToken | null {
  const m = JOIN_TOKEN.exec(text.trim());
  return m ? { id: m[1]!, secret: m[2]!, caFingerprint: m[3]! } : null;
}

/** What the agent signs with its new private key: proof that it holds the key it sends. */
export function enrolmentProofPayload(p: { serverId: string; publicKeyPem: string; nonce: string }): string {
  return `rollgate-enrol/v1\n${p.serverId}\n${p.nonce}\n${p.publicKeyPem.trim()}`;
}

const publicKeyPem = z
  .string()
  .max(4096, 'publicKeyPem is too long for an EC P-256 key')
  .regex(
    /^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----\s*$/,
    'publicKeyPem must be a PEM SPKI public key',
  );
const proof = {
  publicKeyPem,
  /** Random, chosen by the agent; part of the signed payload. */
  nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'nonce must be 16-64 base64url characters'),
  /** base64 DER ECDSA signature over enrolmentProofPayload with the new private key. */
  signature: z.string().min(8).max(512),
};

export const enrolRequestSchema = z.strictObject({
  serverId: z
    .string()
    .regex(SAFE_NAME, 'serverId must be the agent id: a safe name (letters, digits, . _ -)'),
  /** The join token's id and secret (the CA fingerprint stays with the agent: it checks, not us). */
  tokenId: z.string().regex(/^[a-f0-9]{16}$/, 'tokenId must be 16 hex characters'),
  secret: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'secret must be 43 base64url characters'),
  ...proof,
});
export type EnrolRequest = z.infer<typeof enrolRequestSchema>;

/** Renewal: the server id comes from the client certificate presented on the mTLS connection. */
export const renewRequestSchema = z.strictObject(proof);
export type RenewRequest = z.infer<typeof renewRequestSchema>;

export const enrolResponseSchema = z.object({
  /** The agent's certificate, PEM. */
  certPem: z.string().min(1),
  /** The CA certificate, PEM (the agent checked its fingerprint against the token's). */
  caCertPem: z.string().min(1),
  serial: z.string(),
  notAfter: z.number().int(),
});
export type EnrolResponse = z.infer<typeof enrolResponseSchema>;

/** Renew when this share of the certificate's lifetime has passed (2/3: a day-long cert, at 16 h). */
export const RENEW_AT_FRACTION = 2 / 3;

/** When to renew a certificate valid from notBefore to notAfter (epoch ms). */
export function renewalDue(notBefore: number, notAfter: number, fraction = RENEW_AT_FRACTION): number {
  return notBefore + Math.max(0, notAfter - notBefore) * fraction;
}
