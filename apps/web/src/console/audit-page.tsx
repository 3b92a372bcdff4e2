'use client';

import { useState } from 'react';
import { consoleClient } from '../trpc-client';
import { auditDetails, auditFrom, formatTime } from '../view-model';
import { usePolled } from './hooks';

/** Who did what, to what, when: the coordinator's audit log, newest first. */
export function AuditPage() {
  const audit = usePolled(() => consoleClient().audit.list.query(), 5000);
  const [q, setQ] = useState('');
  const needle = q.trim().toLowerCase();
  const rows = (audit.data ?? []).filter(
    (e) =>
      !needle ||
      e.actor.toLowerCase().includes(needle) ||
      e.action.toLowerCase().includes(needle) ||
      e.target.toLowerCase().includes(needle),
  );
  return (
    <section className="card" aria-labelledby="audit-h">
      <div className="card-head">
        <h2 id="audit-h">Audit log</h2>
        <input
          type="search"
          name="audit-q"
          placeholder="filter: who, what or target"
          value={q}
          onChange={(e) => setQ(e.target.value)}
        />
      </div>
      {audit.error ? (
        <div className="alert alert-bad" role="alert">
          {audit.error}
        </div>
      ) : null}
      {audit.data === null ? (
        <p className="empty">Loading…</p>
      ) : rows.length === 0 ? (
        <p className="empty">{needle ? 'Nothing matches.' : 'Nothing recorded yet.'}</p>
      ) : (
        <div className="table-wrap">
          <table className="grid audit">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Target</th>
                <th scope="col">From</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e, i) => (
                <tr key={`${e.at}-${i}`} data-action={e.action}>
                  <td className="small nowrap">{formatTime(e.at)}</td>
                  <td className="mono small">{e.actor}</td>
                  <td className="mono">{e.action}</td>
                  <td className="mono small">{e.target}</td>
                  <td className="mono small nowrap">{auditFrom(e.details)}</td>
                  <td className="small details">{auditDetails(e.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
