'use client';

import { consoleClient } from '../trpc-client';
import { formatTime } from '../view-model';
import { usePolled } from './hooks';

/**
 * The notification subscriptions (never their secrets) and the delivery log: every event sent to
 * a webhook or by email, its attempts, status and last error (docs/adr/0032).
 */
export function NotificationsPage() {
  const subs = usePolled(() => consoleClient().notify.list.query({}), 10_000);
  const deliveries = usePolled(() => consoleClient().notify.deliveries.query({ limit: 200 }), 5000);
  const target = new Map(
    (subs.data ?? []).map((s) => [s.id, s.kind === 'webhook' ? s.url : 'email: contacts']),
  );
  return (
    <>
      <section className="card" aria-labelledby="subs-h">
        <div className="card-head">
          <h2 id="subs-h">Notification subscriptions</h2>
        </div>
        {subs.error ? (
          <div className="alert alert-bad" role="alert">
            {subs.error}
          </div>
        ) : null}
        {subs.data === null ? (
          <p className="empty">Loading…</p>
        ) : subs.data.length === 0 ? (
          <p className="empty">
            None yet:{' '}
            <code>
              rollgate notify add --cluster &lt;name&gt; --webhook &lt;url&gt; --secret-file &lt;file&gt;
            </code>
          </p>
        ) : (
          <div className="table-wrap">
            <table className="grid notify-subs">
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Cluster</th>
                  <th scope="col">Target</th>
                  <th scope="col">Events</th>
                  <th scope="col">By</th>
                </tr>
              </thead>
              <tbody>
                {subs.data.map((s) => (
                  <tr key={s.id}>
                    <td className="mono small">{s.id}</td>
                    <td className="mono">{s.cluster}</td>
                    <td className="mono small">{s.kind === 'webhook' ? s.url : 'email: the run contacts'}</td>
                    <td className="small">{s.events.join(', ')}</td>
                    <td className="mono small">{s.createdBy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="card" aria-labelledby="deliveries-h">
        <div className="card-head">
          <h2 id="deliveries-h">Delivery log</h2>
        </div>
        {deliveries.error ? (
          <div className="alert alert-bad" role="alert">
            {deliveries.error}
          </div>
        ) : null}
        {deliveries.data === null ? (
          <p className="empty">Loading…</p>
        ) : deliveries.data.length === 0 ? (
          <p className="empty">Nothing sent yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="grid notify-deliveries">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Run</th>
                  <th scope="col">Event</th>
                  <th scope="col">Target</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last answer</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.data.map((d) => (
                  <tr key={d.id} data-status={d.status}>
                    <td className="small nowrap">{formatTime(d.finishedAt ?? d.createdAt)}</td>
                    <td className="mono small">{d.runId ?? ''}</td>
                    <td className="mono">{d.event}</td>
                    <td className="mono small">{target.get(d.subscriptionId) ?? d.subscriptionId}</td>
                    <td className="small">
                      {d.status === 'pending' ? `pending, next at ${formatTime(d.nextAt)}` : d.status}
                    </td>
                    <td className="small">{d.attempts}</td>
                    <td className="small details">
                      {d.lastError ?? (d.lastStatus !== null ? String(d.lastStatus) : '')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
