import { describe, expect, it } from 'vitest';
import { renderTokens, type TokenRow } from './tokens';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const row = (over: Partial<TokenRow>): TokenRow => ({
  name: 'ci',
  role: 'operator',
  cluster: 'demo',
  createdBy: 'admin',
  createdAt: NOW - 86_400_000,
  expiresAt: NOW + 30 * 86_400_000,
  revokedAt: null,
  lastUsedAt: null,
  lastUsedFrom: null,
  state: 'active',
  ...over,
});

describe('issue 16 item 5: token list', () => {
  it('issue 16 item 5: shows name, role, scope, created, expires, last use and state, never a token', () => {
    const text = renderTokens(
      [
        row({}),
        row({ name: 'deploy', cluster: null, lastUsedAt: NOW - 60_000, lastUsedFrom: '10.0.0.7' }),
        row({ name: 'old', state: 'revoked', revokedAt: NOW - 3600_000 }),
        row({ name: 'soon', expiresAt: NOW + 86_400_000 }),
      ],
      NOW,
      { utc: true },
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ROLE\s+SCOPE\s+CREATED\s+EXPIRES\s+LAST USED\s+STATE$/);
    expect(lines[1]).toMatch(
      /^ci\s+operator\s+demo\s+2026-12-06 12:00:00 by admin\s+2027-01-06 12:00:00\s+never\s+active$/,
    );
    expect(lines[2]).toMatch(
      /^deploy\s+operator\s+\(all clusters\).*2026-12-07 11:59:00 from 10\.0\.0\.7\s+active$/,
    );
    expect(lines[3]).toMatch(/^old\s+.*revoked 2026-12-07 11:00:00$/);
    expect(lines[4]).toMatch(/active \(expires within 7 days\)$/);
    expect(text).not.toMatch(/rgt_/);
  });
});
