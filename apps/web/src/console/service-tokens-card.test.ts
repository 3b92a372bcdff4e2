import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ServiceTokensTable, tokenStateText, type TokenRow } from './service-tokens-card';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const row = (over: Partial<TokenRow>): TokenRow => ({
  name: 'ci',
  role: 'operator',
  cluster: 'prod',
  createdBy: 'alice',
  createdAt: NOW - 86_400_000,
  expiresAt: NOW + 30 * 86_400_000,
  revokedAt: null,
  lastUsedAt: NOW - 60_000,
  lastUsedFrom: '10.0.0.7',
  state: 'active',
  ...over,
});

describe('issue 16 item 5: the console lists service tokens', () => {
  it('issue 16 item 5: each row shows name, role, scope, created, expires, last use and state', () => {
    const html = renderToStaticMarkup(
      createElement(ServiceTokensTable, {
        rows: [
          row({}),
          row({ name: 'nightly', cluster: null, lastUsedAt: null, lastUsedFrom: null }),
          row({ name: 'old', state: 'revoked', revokedAt: NOW - 3600_000 }),
        ],
        now: NOW,
      }),
    );
    const text = html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    expect(text).toContain(
      'ci operator prod 2026-12-06 12:00:00Z by alice 2027-01-06 12:00:00Z 2026-12-07 11:59:00Z from 10.0.0.7 active',
    );
    expect(text).toContain('nightly operator all clusters');
    expect(text).toMatch(/nightly .* never active/);
    expect(text).toContain('revoked 2026-12-07 11:00:00Z');
  });

  it('issue 16 item 5: a token close to its expiry says so', () => {
    expect(tokenStateText({ state: 'active', revokedAt: null, expiresAt: NOW + 86_400_000 }, NOW)).toBe(
      'active, expires within 7 days',
    );
    expect(tokenStateText({ state: 'expired', revokedAt: null, expiresAt: NOW - 1 }, NOW)).toBe('expired');
  });
});
