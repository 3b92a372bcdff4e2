import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentUri, CaError, certFingerprint, loadAgentCa } from './agent-ca';

const DAY = 86_400_000;

describe('agent CA', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-ca-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a CA once (0700 dir, 0600 key), reloads the same one, and pins it by its DER sha256', async () => {
    const caDir = join(dir, 'agent-ca');
    const a = await loadAgentCa({ dir: caDir });
    expect((await stat(caDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(caDir, 'ca.key'))).mode & 0o777).toBe(0o600);
    const b = await loadAgentCa({ dir: caDir });
    expect(b.caCertPem).toBe(a.caCertPem);
    expect(a.fingerprint).toMatch(/^[a-f0-9]{64}$/);
    expect(a.fingerprint).toBe(
      new X509Certificate(a.caCertPem).fingerprint256.replace(/:/g, '').toLowerCase(),
    );
    expect(certFingerprint(await readFile(join(caDir, 'ca.crt'), 'utf8'))).toBe(a.fingerprint);
  });

  it('issues a server certificate for the configured names and agent certificates naming the server id', async () => {
    const now = Date.now();
    const ca = await loadAgentCa({
      dir: join(dir, 'ca'),
      serverNames: ['localhost', '127.0.0.1', 'coord.example'],
      now: () => now,
    });
    const caCert = new X509Certificate(ca.caCertPem);
    expect(caCert.ca).toBe(true);
    const server = new X509Certificate(ca.server.certPem);
    expect(server.checkIssued(caCert)).toBe(true);
    expect(server.verify(caCert.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('coord.example')).toBe('coord.example');
    expect(server.checkHost('evil.example')).toBeUndefined();

    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = await ca.issueAgentCert(
      'admin-1',
      publicKey.export({ type: 'spki', format: 'pem' }) as string,
      DAY,
    );
    const agent = new X509Certificate(issued.certPem);
    expect(agent.verify(caCert.publicKey)).toBe(true);
    expect(agent.subject).toBe('CN=admin-1');
    expect(agent.subjectAltName).toBe(`URI:${agentUri('admin-1')}`);
    expect(agent.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    expect(agent.publicKey.equals(publicKey)).toBe(true);
    expect(issued.notAfter).toBe(now + DAY);
    expect(new Date(agent.validTo).getTime()).toBe(Math.floor((now + DAY) / 1000) * 1000);
    expect(agent.serialNumber.toLowerCase()).toBe(issued.serial);
  });

  it('refuses keys that are not EC P-256, and an operator CA given by half', async () => {
    const ca = await loadAgentCa({ dir: join(dir, 'ca') });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string;
    await expect(ca.issueAgentCert('a-1', rsa, DAY)).rejects.toThrow(/ECDSA P-256/);
    await expect(ca.issueAgentCert('a-1', 'not a key', DAY)).rejects.toThrow(/not a PEM SPKI/);
    await expect(loadAgentCa({ dir, certPath: join(dir, 'x.crt') })).rejects.toBeInstanceOf(CaError);
  });

  it('uses an operator-supplied CA from paths', async () => {
    const made = await loadAgentCa({ dir: join(dir, 'made') });
    const ca = await loadAgentCa({
      dir: join(dir, 'unused'),
      certPath: join(dir, 'made', 'ca.crt'),
      keyPath: join(dir, 'made', 'ca.key'),
    });
    expect(ca.fingerprint).toBe(made.fingerprint);
    await expect(stat(join(dir, 'unused'))).rejects.toThrow();
  });
});
