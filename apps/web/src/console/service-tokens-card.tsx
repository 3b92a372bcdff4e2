'use client';

// Service tokens for CI (docs/adr/0031), read-only: an administrator sees which pipelines hold a
// token, with what role and scope, until when, and when each was last used. Creating and revoking
// stay on the CLI, where the token is printed once for the CI's secret store.
import type { ConsoleClient } from '../api-types';
import { consoleClient } from '../trpc-client';
import { formatTime } from '../view-model';
import { usePolled } from './hooks';

export type TokenRow = Awaited<ReturnType<ConsoleClient['tokens']['list']['query']>>[number];

/** The state as the table says it: revoked and expired tokens open nothing. */
export function tokenStateText(t: Pick<TokenRow, 'state' | 'revokedAt' | 'expiresAt'>, now: number): string {
  if (t.state === 'revoked') return `revoked ${formatTime(t.revokedAt)}`;
  if (t.state === 'expired') return 'expired';
  return t.expiresAt - now < 7 * 86_400_000 ? 'active, expires within 7 days' : 'active';
}

export function ServiceTokensCard() {
  const tokens = usePolled(() => consoleClient().tokens.list.query(), 15_000);
  const now = Date.now();
  return (
    <section className="card" aria-labelledby="tokens-h">
      <div className="card-head">
        <h2 id="tokens-h">Service tokens</h2>
        <span className="muted">
          Tokens for CI: a role, optionally one cluster, an expiry. Create and revoke them with{' '}
          <code>rollgate token create</code> and <code>rollgate token revoke</code>; a token is shown once.
        </span>
      </div>
      {tokens.error ? (
        <div className="alert alert-bad" role="alert">
          {tokens.error}
        </div>
      ) : null}
      {tokens.data === null ? (
        <p className="empty">Loading…</p>
      ) : tokens.data.length === 0 ? (
        <p className="empty">No service tokens.</p>
      ) : (
        <ServiceTokensTable rows={tokens.data} now={now} />
      )}
    </section>
  );
}

/** The tokens' table: name, role, scope, created, expires, last use and state (never a token). */
export function ServiceTokensTable({ rows, now }: { rows: TokenRow[]; now: number }) {
  return (
    <div className="table-wrap">
      <table className="grid" data-service-tokens>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Scope</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr key={`${t.name}-${t.createdAt}`}>
              <td>{t.name}</td>
              <td>{t.role}</td>
              <td>{t.cluster ?? 'all clusters'}</td>
              <td>
                {formatTime(t.createdAt)} by {t.createdBy}
              </td>
              <td>{formatTime(t.expiresAt)}</td>
              <td>
                {t.lastUsedAt === null
                  ? 'never'
                  : `${formatTime(t.lastUsedAt)} from ${t.lastUsedFrom ?? '?'}`}
              </td>
              <td>{tokenStateText(t, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
