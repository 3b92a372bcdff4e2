// The coordinator's small certificate authority for agent identities (docs/adr/0013). ECDSA P-256
// through Node's WebCrypto, certificates built with @peculiar/x509 (which needs reflect-metadata
// loaded first). The CA key stays on the coordinator; agents send only public keys.
import 'reflect-metadata';
import { createHash, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

/** The URI SAN naming an agent's server id in its certificate. */
export const agentUri = (serverId: string) => `urn:rollgate:agent:${serverId}`;

export interface AgentCaOptions {
  /**
   * Directory holding ca.key (0600) and ca.crt; created 0700 with a new CA when empty. Several
   * coordinators serving the same agents need the same CA: point them all at one directory on
   * shared storage, or supply certPath/keyPath.
   */
  dir: string;
  /** An operator-supplied CA certificate (PEM); needs keyPath too. Default: the one in `dir`. */
  certPath?: string;
  /** The operator-supplied CA's private key (PKCS#8 PEM, ECDSA P-256). */
  keyPath?: string;
  /** DNS names and IP addresses agents dial, for the server certificate; default localhost, 127.0.0.1. */
  serverNames?: string[];
  /** Default Date.now. */
  now?: () => number;
}

export interface IssuedCert {
  certPem: string;
  /** Hex serial number. */
  serial: string;
  notAfter: number;
}

export interface AgentCa {
  caCertPem: string;
  /** sha256 of the CA certificate's DER, lowercase hex: what agents pin. */
  fingerprint: string;
  /** The coordinator's TLS server certificate (issued at every start) and its key, PEM. */
  server: { certPem: string; keyPem: string };
  /** A client certificate naming `serverId`, for an agent's public key (SPKI PEM, EC P-256). */
  issueAgentCert(serverId: string, publicKeyPem: string, lifetimeMs: number): Promise<IssuedCert>;
}

export class CaError extends Error {}

const pem = (tag: string, der: ArrayBuffer) =>
  `-----BEGIN ${tag}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${tag}-----\n`;

const serial = () => {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER
  return b.toString('hex');
};

/** sha256 of a PEM certificate's DER, lowercase hex. */
export function certFingerprint(certPem: string): string {
  return createHash('sha256')
    .update(Buffer.from(new x509.X509Certificate(certPem).rawData))
    .digest('hex');
}

/** Parses an agent's public key; only ECDSA P-256 is accepted (what agents generate). */
export async function importAgentPublicKey(publicKeyPem: string): Promise<webcrypto.CryptoKey> {
  let der: Buffer;
  try {
    const key = createPublicKey(publicKeyPem);
    const details = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
      throw new CaError('the public key must be ECDSA P-256 (prime256v1)');
    }
    der = key.export({ type: 'spki', format: 'der' });
  } catch (err) {
    if (err instanceof CaError) throw err;
    throw new CaError('the public key is not a PEM SPKI public key');
  }
  return webcrypto.subtle.importKey('spki', der, EC, true, ['verify']) as Promise<webcrypto.CryptoKey>;
}

async function createCa(now: number) {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=Rollgate agent CA',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3650 * DAY),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

/** Reads the CA from `dir`, creating it atomically (first coordinator wins) when absent. */
async function loadOrCreateInDir(dir: string, now: number): Promise<{ certPem: string; keyPem: string }> {
  const read = async () => ({
    certPem: await readFile(join(dir, 'ca.crt'), 'utf8'),
    keyPem: await readFile(join(dir, 'ca.key'), 'utf8'),
  });
  try {
    return await read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(dir), { recursive: true });
  // Built aside and renamed into place: a coordinator starting at the same time on shared storage
  // either sees no CA or a whole one, never a key without its certificate.
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { mode: 0o700 });
  const ca = await createCa(now);
  await writeFile(join(tmp, 'ca.key'), ca.keyPem, { mode: 0o600 });
  await writeFile(join(tmp, 'ca.crt'), ca.certPem, { mode: 0o644 });
  try {
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    return read();
  }
  await chmod(dir, 0o700);
  return ca;
}

async function importCa(certPem: string, keyPem: string, where: string) {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch {
    throw new CaError(`${where}: the CA certificate is not a PEM certificate`);
  }
  const der = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(keyPem)?.[1];
  if (!der)
    throw new CaError(`${where}: the CA key must be a PKCS#8 PEM ("BEGIN PRIVATE KEY") ECDSA P-256 key`);
  let signingKey: webcrypto.CryptoKey;
  try {
    signingKey = (await webcrypto.subtle.importKey(
      'pkcs8',
      Buffer.from(der.replace(/\s+/g, ''), 'base64'),
      EC,
      false,
      ['sign'],
    )) as webcrypto.CryptoKey;
  } catch {
    throw new CaError(`${where}: the CA key is not an ECDSA P-256 private key`);
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new CaError(`${where}: the certificate is not a CA (basicConstraints CA:TRUE missing)`);
  return { cert, signingKey };
}

/** Loads (or creates) the CA and issues this coordinator's server certificate. */
export async function loadAgentCa(opts: AgentCaOptions): Promise<AgentCa> {
  const now = opts.now ?? Date.now;
  if ((opts.certPath === undefined) !== (opts.keyPath === undefined)) {
    throw new CaError(
      'give both the CA certificate and its key, or neither (a CA is then kept in the data directory)',
    );
  }
  let certPem: string;
  let keyPem: string;
  let where: string;
  if (opts.certPath && opts.keyPath) {
    certPem = await readFile(opts.certPath, 'utf8');
    keyPem = await readFile(opts.keyPath, 'utf8');
    where = opts.certPath;
  } else {
    ({ certPem, keyPem } = await loadOrCreateInDir(opts.dir, now()));
    where = opts.dir;
  }
  const { cert: caCert, signingKey } = await importCa(certPem, keyPem, where);
  const issuer = caCert.subject;
  const aki = await x509.AuthorityKeyIdentifierExtension.create(await caCert.publicKey.export());

  async function issue(
    subject: string,
    publicKey: webcrypto.CryptoKey,
    lifetimeMs: number,
    extensions: x509.Extension[],
  ): Promise<IssuedCert> {
    const t = now();
    const notAfter = Math.min(t + lifetimeMs, caCert.notAfter.getTime());
    const s = serial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: s,
      subject,
      issuer,
      // Back a little (a minute, a tenth of a short lifetime): agents' clocks may lag ours. Not
      // more: renewal is due at 2/3 of notBefore→notAfter, which must stay ahead of now.
      notBefore: new Date(t - Math.min(60_000, lifetimeMs / 10)),
      notAfter: new Date(notAfter),
      signingAlgorithm: SIGN,
      publicKey,
      signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        aki,
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        ...extensions,
      ],
    });
    // The chain (leaf + CA): an agent pinning the CA finds it in the server's handshake.
    return { certPem: `${cert.toString('pem')}\n`, serial: s, notAfter };
  }

  const names = opts.serverNames ?? ['localhost', '127.0.0.1'];
  const serverKeys = (await webcrypto.subtle.generateKey(EC, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const server = await issue('CN=Rollgate coordinator', serverKeys.publicKey, 365 * DAY, [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(
      names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n })),
    ),
  ]);
  const serverKeyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', serverKeys.privateKey));

  return {
    caCertPem: certPem,
    fingerprint: certFingerprint(certPem),
    server: { certPem: server.certPem + certPem, keyPem: serverKeyPem },
    async issueAgentCert(serverId, publicKeyPem, lifetimeMs) {
      const publicKey = await importAgentPublicKey(publicKeyPem);
      return issue(`CN=${serverId}`, publicKey, lifetimeMs, [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: agentUri(serverId) }]),
      ]);
    },
  };
}
