'use client';

import { useState, type FormEvent } from 'react';
import { errorIssues, type Issue } from '../planner-model';
import { consoleClient } from '../trpc-client';
import { formatTime } from '../view-model';
import { usePolled } from './hooks';
import { IssueList } from './issue-list';

const VALIDITY = [
  { hours: 24, label: '1 day' },
  { hours: 72, label: '3 days' },
  { hours: 168, label: '7 days' },
  { hours: 720, label: '30 days' },
] as const;

/** The link the customer opens: this console's origin + the path the coordinator gave. */
export function portalUrl(origin: string, path: string): string {
  return `${origin.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
}

/** What the list of a run's links says of each. */
export const LINK_STATE: Record<'active' | 'expired' | 'revoked', string> = {
  active: 'works',
  expired: 'expired',
  revoked: 'revoked',
};

/**
 * An operator creates a link to the customer's portal of this run (sign-off, rollback
 * authorisation) for a named recipient, valid for a chosen time, and copies it to send; the run's
 * links are listed with their state, and a link still working can be revoked at once.
 */
export function PortalLinkCard({ runId }: { runId: string }) {
  const [recipient, setRecipient] = useState('');
  const [hours, setHours] = useState<number>(72);
  const [busy, setBusy] = useState(false);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [link, setLink] = useState<{ url: string; recipient: string; expiresAt: number; id: string } | null>(
    null,
  );
  const [copied, setCopied] = useState<'copied' | 'select' | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const links = usePolled(() => consoleClient().upgrade.portalLinks.query({ runId }), 10_000, runId);

  const revoke = async (linkId: string) => {
    setIssues([]);
    setRevoking(linkId);
    try {
      await consoleClient().upgrade.revokePortalLink.mutate({ runId, linkId });
      if (link?.id === linkId) setLink(null);
      links.refresh();
    } catch (err) {
      setIssues(errorIssues(err));
    } finally {
      setRevoking(null);
    }
  };

  const create = async (ev: FormEvent) => {
    ev.preventDefault();
    setIssues([]);
    setCopied(null);
    const who = recipient.trim();
    if (!who) {
      setIssues([{ code: 'FORM', message: 'Name the customer contact the link is for.', hint: '' }]);
      return;
    }
    setBusy(true);
    try {
      const res = await consoleClient().upgrade.portalLink.mutate({ runId, recipient: who, ttlHours: hours });
      setLink({
        url: portalUrl(window.location.origin, res.path),
        recipient: who,
        expiresAt: res.expiresAt,
        id: res.id,
      });
      links.refresh();
    } catch (err) {
      setIssues(errorIssues(err));
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    if (!link) return;
    try {
      await navigator.clipboard.writeText(link.url);
      setCopied('copied');
    } catch {
      // No clipboard (plain http, or denied): select the text for a manual copy.
      const el = document.querySelector<HTMLInputElement>('input[name="portal-url"]');
      el?.focus();
      el?.select();
      setCopied('select');
    }
  };

  return (
    <section className="card portal-link" aria-labelledby="portal-h">
      <h2 id="portal-h">Customer portal link</h2>
      <p className="muted small">
        The customer follows the run, sees the functionality tests and signs off (or authorises a proposed
        rollback) through this link. It opens this run&apos;s portal and nothing else; anyone holding it can
        decide, so send it to the named contact only, and revoke it below if it went astray.
      </p>
      <form className="actions portal-form" onSubmit={(ev) => void create(ev)}>
        <label>
          Recipient{' '}
          <input
            name="portal-recipient"
            placeholder="e.g. Ann Lead"
            value={recipient}
            onChange={(e) => setRecipient(e.target.value)}
          />
        </label>
        <label>
          Valid for{' '}
          <select name="portal-ttl" value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {VALIDITY.map((v) => (
              <option key={v.hours} value={v.hours}>
                {v.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn" name="portal-create" disabled={busy}>
          {busy ? 'Creating…' : 'Create link'}
        </button>
      </form>
      {link ? (
        <div className="portal-created" data-portal-link={link.url}>
          <div className="actions">
            <input
              name="portal-url"
              className="mono grow"
              readOnly
              value={link.url}
              onFocus={(e) => e.currentTarget.select()}
              aria-label="portal link"
            />
            <button type="button" className="btn btn-primary" name="portal-copy" onClick={() => void copy()}>
              Copy
            </button>
          </div>
          <p className="small muted" role="status">
            For {link.recipient}, valid until {formatTime(link.expiresAt)}.
            {copied === 'copied' ? ' Copied to the clipboard.' : null}
            {copied === 'select' ? ' Press Ctrl+C (⌘C) to copy the selected link.' : null}
          </p>
        </div>
      ) : null}
      {links.data && links.data.length > 0 ? (
        <div className="table-wrap">
          <table className="grid portal-links" aria-label="portal links of this run">
            <thead>
              <tr>
                <th>Link</th>
                <th>For</th>
                <th>Created</th>
                <th>Until</th>
                <th>State</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {links.data.map((l) => (
                <tr key={l.id} data-portal-link-id={l.id} data-portal-link-state={l.state}>
                  <td className="mono">{l.id}</td>
                  <td>{l.recipient}</td>
                  <td className="small muted">
                    {formatTime(l.createdAt)} by {l.createdBy}
                  </td>
                  <td className="small muted">{formatTime(l.expiresAt)}</td>
                  <td>
                    {LINK_STATE[l.state]}
                    {l.revokedAt !== null ? ` ${formatTime(l.revokedAt)}` : ''}
                  </td>
                  <td>
                    {l.state === 'active' ? (
                      <button
                        type="button"
                        className="btn btn-danger"
                        name={`portal-revoke-${l.id}`}
                        disabled={revoking !== null}
                        onClick={() => void revoke(l.id)}
                      >
                        {revoking === l.id ? 'Revoking…' : 'Revoke'}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <IssueList issues={issues} title="The portal link was not changed" />
    </section>
  );
}
