// The agent's identity (docs/adr/0013): an ECDSA P-256 key generated here (it never leaves this
// server), a certificate from the coordinator's CA naming this agent's id, and the CA certificate.
// Enrolment trades a join token for the first certificate over HTTPS, trusting the coordinator only
// once its CA matches the sha256 the token carries; renewal uses the current certificate (mTLS) at
// 2/3 of its lifetime, with a new key each time. Node built-ins only: no x509 library in the agent.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import {
  enrolmentProofPayload,
  enrolResponseSchema,
  parseJoinToken,
  renewalDue,
  type EnrolResponse,
} from '@rollgate/domain';
import type { Logger } from '@rollgate/logger';
import { errorMessage } from '../lib/fs-util';
import { renewableCredentials, type RenewableSource } from './renewable-credentials';

/** A refusal from the coordinator (4xx): retrying the same request will not help. */
export class EnrolmentRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface IdentityOptions {
  /** Where agent.key (0600), agent.crt and ca.crt live; created 0700. */
  dir: string;
  /** This agent's id: the name its certificate must carry. */
  serverId: string;
  /** host:port of the coordinator's enrolment endpoint (HTTPS). */
  enrolAddress: string;
  log: Logger;
  /** Share of a certificate's lifetime after which it is renewed; default 2/3. */
  renewAtFraction?: number;
  /** Retry a failed renewal after this, ms; default 30000 (less when the certificate expires sooner). */
  renewRetryMs?: number;
  /** HTTPS timeout, ms; default 15000. */
  timeoutMs?: number;
}

interface Material {
  keyPem: string;
  certPem: string;
  caPem: string;
  notBefore: number;
  notAfter: number;
}

const splitAddress = (address: string) => {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
};

function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

/** Whether the certificate is for this private key. */
function samePublicKey(keyPem: string, certPem: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
    return fromKey.equals(fromCert);
  } catch {
    return false;
  }
}

function proof(serverId: string, keyPem: string, publicKeyPem: string) {
  const nonce = randomBytes(18).toString('base64url');
  const payload = Buffer.from(enrolmentProofPayload({ serverId, publicKeyPem, nonce }));
  return {
    publicKeyPem,
    nonce,
    signature: sign('sha256', payload, createPrivateKey(keyPem)).toString('base64'),
  };
}

const toPem = (raw: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${raw
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

/**
 * Connects without trusting anything, and returns the certificate of the server's chain whose DER
 * sha256 is `fingerprint` (the coordinator's CA). Nothing is sent on this connection.
 */
export async function fetchPinnedCa(
  host: string,
  port: number,
  fingerprint: string,
  timeoutMs = 15_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: false,
    });
    const timer = setTimeout(
      () => socket.destroy(new Error(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const seen = new Set<string>();
      let cert: PeerCertificate | undefined = socket.getPeerCertificate(true) as PeerCertificate;
      let found: Buffer | undefined;
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        if (cert.fingerprint256.replace(/:/g, '').toLowerCase() === fingerprint) found = cert.raw;
        cert = (cert as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
      }
      socket.destroy();
      if (!found) {
        reject(
          new EnrolmentRefused(
            0,
            `the coordinator at ${host}:${port} does not present the CA the join token names (sha256 ${fingerprint.slice(0, 16)}…): check enrolAddress, or ask for a token from this coordinator`,
          ),
        );
        return;
      }
      resolve(toPem(found));
    });
  });
}

/** POSTs JSON over HTTPS, trusting only `caPem` (and presenting key/cert when given). */
function post(
  address: string,
  path: string,
  body: unknown,
  tls: { caPem: string; keyPem?: string; certPem?: string },
  timeoutMs: number,
): Promise<EnrolResponse> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        method: 'POST',
        ca: tls.caPem,
        ...(tls.keyPem && tls.certPem ? { key: tls.keyPem, cert: tls.certPem } : {}),
        ...(isIP(host) ? {} : { servername: host }),
        headers: { 'content-type': 'application/json' },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            reject(new Error(`the coordinator answered ${res.statusCode} with no JSON`));
            return;
          }
          if (res.statusCode !== 200) {
            const msg = (json as { error?: unknown }).error;
            const message = typeof msg === 'string' ? msg : `HTTP ${res.statusCode}`;
            if ((res.statusCode ?? 500) < 500) reject(new EnrolmentRefused(res.statusCode ?? 0, message));
            else reject(new Error(message));
            return;
          }
          const parsed = enrolResponseSchema.safeParse(json);
          if (!parsed.success)
            reject(new Error('the coordinator answered with an unexpected certificate response'));
          else resolve(parsed.data);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${address} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

export interface AgentIdentity {
  /** Reads the identity on disk; false when there is none (or no longer a valid one). */
  load(): Promise<boolean>;
  /** Enrols with a join token (text as printed by `rollgate agents token create`). */
  enrol(tokenText: string): Promise<void>;
  /** Renews now over mTLS (normally done by the timer start() sets). */
  renew(): Promise<void>;
  /** Schedules renewals. */
  start(): void;
  stop(): void;
  /** Channel credentials that follow renewals (see renewable-credentials.ts). */
  credentials(): grpc.ChannelCredentials;
  /** The current certificate's validity, ms. */
  readonly validity: { notBefore: number; notAfter: number } | null;
}

export function createIdentity(opts: IdentityOptions): AgentIdentity {
  const { dir, log } = opts;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const files = { key: join(dir, 'agent.key'), cert: join(dir, 'agent.crt'), ca: join(dir, 'ca.crt') };
  let material: Material | undefined;
  let creds: grpc.ChannelCredentials | undefined;
  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  function adopt(keyPem: string, certPem: string, caPem: string): Material {
    const cert = new X509Certificate(certPem);
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (cn !== opts.serverId) {
      throw new Error(
        `the certificate names "${cn ?? '?'}", not this agent ("${opts.serverId}"): enrol again`,
      );
    }
    if (!cert.verify(new X509Certificate(caPem).publicKey)) {
      throw new Error('the certificate was not issued by the stored CA: enrol again');
    }
    const m = {
      keyPem,
      certPem,
      caPem,
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
    };
    material = m;
    creds = grpc.credentials.createSsl(Buffer.from(caPem), Buffer.from(keyPem), Buffer.from(certPem));
    return m;
  }

  async function save(keyPem: string, answer: EnrolResponse) {
    adopt(keyPem, answer.certPem, answer.caCertPem);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    // Every file is written aside first, then renamed into place, key before certificate: a crash
    // leaves the old pair, or a new key whose certificate load() then finds in agent.crt.tmp.
    const aside = async (path: string, text: string, mode: number) => {
      await writeFile(`${path}.tmp`, text, { mode });
      await chmod(`${path}.tmp`, mode);
    };
    await aside(files.ca, answer.caCertPem, 0o644);
    await aside(files.key, keyPem, 0o600);
    await aside(files.cert, answer.certPem, 0o644);
    await rename(`${files.ca}.tmp`, files.ca);
    await rename(`${files.key}.tmp`, files.key);
    await rename(`${files.cert}.tmp`, files.cert);
  }

  function schedule() {
    if (!running || !material) return;
    if (timer) clearTimeout(timer);
    const due = renewalDue(material.notBefore, material.notAfter, opts.renewAtFraction);
    const wait = Math.max(0, due - Date.now());
    // setTimeout's limit is 2^31-1 ms (~24.8 days): longer waits are taken in steps.
    timer = setTimeout(
      () => {
        if (Date.now() < due) {
          schedule();
          return;
        }
        identity.renew().then(
          () => schedule(),
          (err: unknown) => {
            if (err instanceof EnrolmentRefused) {
              log.error(
                { why: err.message },
                'certificate renewal refused; the agent needs a new join token',
              );
              return;
            }
            const left = (material?.notAfter ?? 0) - Date.now();
            const retry = Math.max(1000, Math.min(opts.renewRetryMs ?? 30_000, left / 4));
            log.warn(
              { err: errorMessage(err), retryInMs: Math.round(retry) },
              'certificate renewal failed; retrying',
            );
            timer = setTimeout(() => schedule(), retry);
            timer.unref();
          },
        );
      },
      Math.min(wait, 2 ** 31 - 1),
    );
    timer.unref();
  }

  const source: RenewableSource = {
    current: () => {
      if (!creds) throw new Error('no identity loaded');
      return creds;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  const identity: AgentIdentity = {
    async load() {
      let keyPem: string, certPem: string, caPem: string;
      try {
        [keyPem, certPem, caPem] = await Promise.all([
          readFile(files.key, 'utf8'),
          readFile(files.cert, 'utf8'),
          readFile(files.ca, 'utf8'),
        ]);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
      if (!samePublicKey(keyPem, certPem)) {
        // A renewal interrupted between its two renames: finish it.
        const pending = await readFile(`${files.cert}.tmp`, 'utf8').catch(() => '');
        if (!pending || !samePublicKey(keyPem, pending)) {
          throw new Error(
            `${files.key} does not match ${files.cert}: remove ${dir} and enrol again with a join token`,
          );
        }
        await rename(`${files.cert}.tmp`, files.cert);
        certPem = pending;
        log.warn({}, 'finished a certificate renewal interrupted by a restart');
      }
      const m = adopt(keyPem, certPem, caPem);
      if (m.notAfter <= Date.now()) {
        log.warn({ expiredAt: new Date(m.notAfter).toISOString() }, 'the stored certificate has expired');
        material = undefined;
        return false;
      }
      return true;
    },

    async enrol(tokenText) {
      const token = parseJoinToken(tokenText);
      if (!token) {
        throw new EnrolmentRefused(
          0,
          'the join token is not in the form printed by `rollgate agents token create` (rgjoin.<id>.<secret>.<sha256>)',
        );
      }
      const { host, port } = splitAddress(opts.enrolAddress);
      const caPem = await fetchPinnedCa(host, port, token.caFingerprint, timeoutMs);
      const { keyPem, publicKeyPem } = newKey();
      const answer = await post(
        opts.enrolAddress,
        '/v1/enrol',
        {
          serverId: opts.serverId,
          tokenId: token.id,
          secret: token.secret,
          ...proof(opts.serverId, keyPem, publicKeyPem),
        },
        { caPem },
        timeoutMs,
      );
      await save(keyPem, answer);
      log.info(
        { serial: answer.serial, notAfter: new Date(answer.notAfter).toISOString() },
        'enrolled: certificate received',
      );
    },

    async renew() {
      const m = material;
      if (!m) throw new Error('no identity to renew: enrol first');
      const { keyPem, publicKeyPem } = newKey();
      const answer = await post(
        opts.enrolAddress,
        '/v1/renew',
        proof(opts.serverId, keyPem, publicKeyPem),
        { caPem: m.caPem, keyPem: m.keyPem, certPem: m.certPem },
        timeoutMs,
      );
      await save(keyPem, answer);
      log.info(
        { serial: answer.serial, notAfter: new Date(answer.notAfter).toISOString() },
        'certificate renewed',
      );
      for (const l of listeners) l();
    },

    start() {
      running = true;
      schedule();
    },
    stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    credentials: () => renewableCredentials(source),
    get validity() {
      return material ? { notBefore: material.notBefore, notAfter: material.notAfter } : null;
    },
  };
  return identity;
}
