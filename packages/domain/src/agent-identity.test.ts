import { describe, expect, it } from 'vitest';
import { enrolRequestSchema, formatJoinToken, parseJoinToken, renewalDue } from './agent-identity';

const token = { id: '0123456789abcdef', secret: 'A'.repeat(42) + '_', caFingerprint: 'f'.repeat(64) };

describe('join tokens', () => {
  it('round-trip through their text form, surrounding blanks ignored', () => {
    const text = formatJoinToken(token);
    expect(text).toBe(`rgjoin.0123456789abcdef.${'A'.repeat(42)}_.${'f'.repeat(64)}`);
    expect(parseJoinToken(` ${text}\n`)).toEqual(token);
  });
  it('refuse anything else', () => {
    const text = formatJoinToken(token);
    for (const bad of [
      '',
      'rgjoin',
      text.replace('rgjoin', 'rgjoim'),
      text.slice(0, -1),
      `${text}0`,
      text.replace('0123', 'XYZ1'),
      text.toUpperCase(),
    ]) {
      expect(parseJoinToken(bad)).toBeNull();
    }
  });
});

describe('renewalDue', () => {
  it('is at 2/3 of the lifetime by default, or the given share', () => {
    expect(renewalDue(0, 24 * 3600_000)).toBe(16 * 3600_000);
    expect(renewalDue(1000, 2000, 0.5)).toBe(1500);
    expect(renewalDue(5000, 4000)).toBe(5000); // a backwards certificate: due at once
  });
});

describe('enrolRequestSchema', () => {
  it('names the field and the rule', () => {
    const r = enrolRequestSchema.safeParse({
      serverId: '../x',
      tokenId: 'nothex',
      secret: 's',
      publicKeyPem: 'x',
      nonce: 'n',
      signature: 's',
    });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^serverId: serverId must be the agent id/),
        'tokenId: tokenId must be 16 hex characters',
        'secret: secret must be 43 base64url characters',
        'publicKeyPem: publicKeyPem must be a PEM SPKI public key',
      ]),
    );
    expect(enrolRequestSchema.safeParse({ extra: 1 }).success).toBe(false);
  });
});
