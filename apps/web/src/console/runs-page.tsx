'use client';

import Link from 'next/link';
import { consoleClient } from '../trpc-client';
import { formatTime, RUN_STATUS_LABEL, runDuration, runTone } from '../view-model';
import { useNow, usePolled } from './hooks';

/** Past and current runs, newest first. */
export function RunsPage() {
  const runs = usePolled(() => consoleClient().upgrade.list.query(), 5000);
  const now = useNow();
  return (
    <section className="card" aria-labelledby="runs-h">
      <div className="card-head">
        <h2 id="runs-h">Runs</h2>
        <Link className="btn btn-primary" href="/plan">
          Plan an upgrade
        </Link>
      </div>
      {runs.error ? (
        <div className="alert alert-bad" role="alert">
          {runs.error}
        </div>
      ) : null}
      {runs.data === null ? (
        <p className="empty">Loading…</p>
      ) : runs.data.length === 0 ? (
        <p className="empty">
          No run yet. <Link href="/plan">Plan one</Link>.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="grid runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Procedure</th>
                <th scope="col">Cluster</th>
                <th scope="col">Application</th>
                <th scope="col">Edition</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id} data-run={r.id} data-run-status={r.status}>
                  <td className="mono">
                    <Link href={`/runs/${encodeURIComponent(r.id)}`}>{r.id}</Link>
                  </td>
                  <td>
                    <span className={`badge tone-${runTone(r.status)}`}>{RUN_STATUS_LABEL[r.status]}</span>
                  </td>
                  <td>
                    {r.procedure}
                    {r.parentRunId ? <span className="muted small"> of {r.parentRunId}</span> : null}
                  </td>
                  <td>{r.cluster}</td>
                  <td>{r.app}</td>
                  <td className="mono">{r.edition}</td>
                  <td className="small">
                    {r.startedAt !== null
                      ? formatTime(r.startedAt)
                      : r.scheduledAt !== null
                        ? `scheduled ${formatTime(r.scheduledAt)}`
                        : '—'}
                  </td>
                  <td className="num">{runDuration(r, now)}</td>
                  <td className="small">{r.createdBy}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
