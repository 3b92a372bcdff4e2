'use client';

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { PortalView } from '../api-types';
import { formatMs, portalProblem, probeRows, PORTAL_STATUS, type PortalProblem } from '../portal-model';
import { createConsoleClient } from '../trpc-client';
import { formatTime, runTone } from '../view-model';

const POLL_MS = 2000;
const TEST_TONE: Record<string, string> = {
  succeeded: 'ok',
  skipped: 'idle',
  failed: 'bad',
  running: 'active',
  pending: 'idle',
};

/**
 * The customer's portal of one run. Its only credential is the link's token, sent in each
 * procedure's input; the browser's cookies are not sent (a console session in the same browser
 * plays no part), and the console's proxy attaches no session to the portal's procedures.
 */
export function PortalPage({ token }: { token: string }) {
  const client = useMemo(() => createConsoleClient('/api/trpc', { credentials: 'omit' }), []);
  const [view, setView] = useState<PortalView | null>(null);
  const [problem, setProblem] = useState<PortalProblem | null>(null);
  const [tick, setTick] = useState(0);
  const stopped = useRef(false);

  // The live view: read every 2 s (chained, never overlapping); an invalid link stops the polling.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let live = true;
    const read = async () => {
      try {
        const v = await client.portal.view.query({ token });
        if (!live) return;
        setView(v);
        setProblem(null);
      } catch (err) {
        if (!live) return;
        const p = portalProblem(err);
        setProblem(p);
        if (p.kind === 'invalid') {
          stopped.current = true;
          setView(null);
          return;
        }
      }
      if (live) timer = setTimeout(() => void read(), POLL_MS);
    };
    void read();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, token, tick]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);

  if (problem?.kind === 'invalid') {
    return (
      <section className="card portal-invalid" data-portal="invalid">
        <h1>This link does not work</h1>
        <div className="alert alert-bad" role="alert">
          {problem.message}
        </div>
        <p className="muted">
          Portal links are personal and expire. If you were sent this link recently, check that it was copied
          whole.
        </p>
      </section>
    );
  }
  if (!view) {
    return (
      <section className="card" data-portal="loading">
        {problem ? (
          <div className="alert alert-warn" role="alert">
            {problem.message}
          </div>
        ) : (
          <p className="empty">Loading the upgrade…</p>
        )}
      </section>
    );
  }
  return (
    <div
      className="portal-grid"
      data-portal="ready"
      data-run-status={view.status}
      data-asks={view.asks ?? ''}
    >
      {problem ? (
        <div className="alert alert-warn" role="alert">
          {problem.message}
        </div>
      ) : null}
      <Overview view={view} />
      {view.asks === 'sign-off' ? <SignOff token={token} onView={setView} client={client} /> : null}
      {view.asks === 'rollback' ? (
        <RollbackDecision token={token} view={view} onView={setView} client={client} />
      ) : null}
      <Decided view={view} />
      <WindowCard view={view} />
      <TestsCard view={view} />
      <VersionsCard view={view} />
      <p className="small muted portal-foot">
        This page updates by itself every {POLL_MS / 1000} s.{' '}
        <button type="button" className="btn btn-quiet btn-small" onClick={refresh}>
          Refresh now
        </button>
      </p>
    </div>
  );
}

type Client = ReturnType<typeof createConsoleClient>;

function Overview({ view }: { view: PortalView }) {
  const pct = view.progress.total > 0 ? Math.round((view.progress.done / view.progress.total) * 100) : 0;
  return (
    <section className="card portal-overview" aria-labelledby="overview-h">
      <p className="muted small">For {view.recipient}</p>
      <h1 id="overview-h">
        Upgrade of {view.service}
        {view.fromEdition ? ` from ${view.fromEdition}` : ''} to {view.toEdition}
      </h1>
      <p className="muted">
        {view.procedure === 'major' ? 'Major upgrade (with a short downtime)' : `${view.procedure} upgrade`} ·
        cluster {view.cluster}
      </p>
      <div className="portal-phase">
        <span className="label">Now:</span>{' '}
        <strong className="phase-label" data-phase={view.phase}>
          {view.phaseLabel}
        </strong>{' '}
        <span className={`badge tone-${runTone(view.status)}`} data-status={view.status}>
          {PORTAL_STATUS[view.status] ?? view.status}
        </span>
      </div>
      <div className="progress-row">
        <div
          className={`progress tone-${runTone(view.status)}`}
          role="progressbar"
          aria-label="upgrade progress"
          aria-valuemin={0}
          aria-valuemax={view.progress.total}
          aria-valuenow={view.progress.done}
        >
          <div className="progress-fill" style={{ width: `${pct}%` }} />
        </div>
        <span className="progress-text">
          {view.progress.done}/{view.progress.total} steps
        </span>
      </div>
      {view.failure ? (
        <div className="alert alert-bad" role="alert" data-failure-reason={view.failure.reason}>
          <strong>{view.status === 'paused' ? 'Paused: ' : 'Problem: '}</strong>
          {view.failure.summary} Your contact at the service provider has the details.
        </div>
      ) : null}
      {view.status === 'succeeded' ? (
        <div className="alert alert-ok" role="status">
          The upgrade is complete: full service is restored.
        </div>
      ) : null}
    </section>
  );
}

interface Choice<D extends string> {
  value: D;
  label: string;
  busyLabel: string;
  /** Extra button class (btn-primary, btn-danger). */
  tone?: string;
  /** A comment is required for this choice; the message says why. */
  needsComment?: string;
}

/**
 * The customer's decision: a comment and one button per choice. Sends it, shows the answer's
 * view, keeps the buttons disabled while it is on its way, and shows a refusal in words.
 */
function Decision<D extends string>(props: {
  choices: Choice<D>[];
  rows: number;
  placeholder: string;
  send: (decision: D, comment: string) => Promise<PortalView>;
  onView: (v: PortalView) => void;
}) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<D | null>(null);
  const [error, setError] = useState<string | null>(null);
  const decide = async (c: Choice<D>) => {
    if (c.needsComment && !comment.trim()) {
      setError(c.needsComment);
      return;
    }
    setBusy(c.value);
    setError(null);
    try {
      props.onView(await props.send(c.value, comment.trim()));
    } catch (err) {
      setError(portalProblem(err).message);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      <textarea
        name="portal-comment"
        rows={props.rows}
        placeholder={props.placeholder}
        value={comment}
        onChange={(e) => setComment(e.target.value)}
      />
      <div className="actions">
        {props.choices.map((c) => (
          <button
            key={c.value}
            type="button"
            className={`btn${c.tone ? ` ${c.tone}` : ''}`}
            name={`portal-${c.value}`}
            disabled={busy !== null}
            onClick={() => void decide(c)}
          >
            {busy === c.value ? c.busyLabel : c.label}
          </button>
        ))}
      </div>
      {error ? (
        <div className="alert alert-bad" role="alert">
          {error}
        </div>
      ) : null}
    </>
  );
}

function SignOff(props: { token: string; onView: (v: PortalView) => void; client: Client }) {
  const { token, onView, client } = props;
  return (
    <section className="card portal-ask" aria-labelledby="signoff-h" data-portal-ask="sign-off">
      <h2 id="signoff-h">Your verification</h2>
      <p>
        The new version is in service. Please check that your service works as you expect (the automatic tests
        are below), then sign off to complete the upgrade, or reject it and say what is wrong.
      </p>
      <Decision<'approve' | 'reject'>
        rows={3}
        placeholder="comment (required to reject; recorded with your decision)"
        choices={[
          { value: 'approve', label: 'Sign off', busyLabel: 'Signing off…', tone: 'btn-primary' },
          {
            value: 'reject',
            label: 'Reject',
            busyLabel: 'Rejecting…',
            tone: 'btn-danger',
            needsComment: 'Say what is wrong in the comment, so the team can act on it.',
          },
        ]}
        send={(decision, comment) => client.portal.signOff.mutate({ token, decision, comment })}
        onView={onView}
      />
    </section>
  );
}

function RollbackDecision(props: {
  token: string;
  view: PortalView;
  onView: (v: PortalView) => void;
  client: Client;
}) {
  const { token, view, onView, client } = props;
  const p = view.proposal;
  if (!p) return null;
  return (
    <section className="card portal-ask" aria-labelledby="rollback-h" data-portal-ask="rollback">
      <h2 id="rollback-h">A rollback is proposed</h2>
      <div className="alert alert-warn">
        <strong>Why:</strong> {p.reason}
      </div>
      <dl className="portal-facts">
        <dt>Method</dt>
        <dd className="mono" data-proposal-method={p.method}>
          {p.method}
        </dd>
        <dt>Takes about</dt>
        <dd>{p.estimateMinutes} min</dd>
        <dt>Proposed at</dt>
        <dd>{formatTime(p.proposedAt)}</dd>
      </dl>
      <p>Authorise it to return to the previous version, or decline to let the team continue.</p>
      <Decision<'authorise' | 'decline'>
        rows={2}
        placeholder="comment (recorded with your decision)"
        choices={[
          { value: 'authorise', label: 'Authorise rollback', busyLabel: 'Authorising…', tone: 'btn-danger' },
          { value: 'decline', label: 'Decline', busyLabel: 'Declining…' },
        ]}
        send={(decision, comment) => client.portal.decideRollback.mutate({ token, decision, comment })}
        onView={onView}
      />
    </section>
  );
}

/** What was decided on a proposed rollback, once it was. */
function Decided({ view }: { view: PortalView }) {
  const p = view.proposal;
  if (!p || p.status === 'awaiting') return null;
  return (
    <div className="alert alert-warn" role="status" data-proposal-status={p.status}>
      The proposed rollback ({p.method}) was {p.status}
      {p.decidedBy ? ` by ${p.decidedBy}` : ''}
      {p.decidedAt ? ` at ${formatTime(p.decidedAt)}` : ''}.
    </div>
  );
}

function WindowCard({ view }: { view: PortalView }) {
  const w = view.window;
  return (
    <section className="card" aria-labelledby="window-h">
      <h2 id="window-h">Announced window</h2>
      <dl className="portal-facts" data-window>
        <dt>Service at risk</dt>
        <dd>{w.atRiskMinutes} min</dd>
        <dt>Downtime</dt>
        <dd>{w.downtimeMinutes > 0 ? `${w.downtimeMinutes} min` : 'none'}</dd>
        {w.learned ? (
          <>
            <dt>From past upgrades</dt>
            <dd>
              {w.learned.atRiskMinutes} min at risk
              {w.learned.downtimeMinutes > 0 ? `, ${w.learned.downtimeMinutes} min down` : ''}
            </dd>
          </>
        ) : null}
      </dl>
      {view.notice ? (
        <>
          <h3>The notice to your users</h3>
          <pre className="portal-notice" data-notice>
            {view.notice}
          </pre>
        </>
      ) : null}
    </section>
  );
}

function TestsCard({ view }: { view: PortalView }) {
  return (
    <section className="card" aria-labelledby="tests-h">
      <h2 id="tests-h">Functionality tests</h2>
      {view.tests.length === 0 ? <p className="empty">This upgrade runs no functionality tests.</p> : null}
      <ul className="portal-tests">
        {view.tests.map((t, i) => {
          const rows = t.results.flatMap((r) => probeRows(r));
          return (
            <li key={`${t.title}-${i}`} data-test-status={t.status}>
              <div>
                <span className={`badge tone-${TEST_TONE[t.status] ?? 'idle'}`}>{t.status}</span>{' '}
                <strong>{t.title}</strong>
              </div>
              {rows.length > 0 ? (
                <table className="grid probes">
                  <thead>
                    <tr>
                      <th scope="col">Probe</th>
                      <th scope="col">Result</th>
                      <th scope="col">Time</th>
                      <th scope="col">Detail</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((p, j) => (
                      <tr key={j} data-probe={p.name} data-ok={p.ok}>
                        <td>
                          {p.name} <span className="muted small">{p.kind}</span>
                        </td>
                        <td>
                          <span className={`badge tone-${p.ok ? 'ok' : 'bad'}`}>
                            {p.ok ? 'ok' : 'failed'}
                          </span>
                        </td>
                        <td className="nowrap">{formatMs(p.ms)}</td>
                        <td className="small muted">{p.detail}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : t.status === 'succeeded' ? (
                <p className="small muted">Passed (no probe details were recorded).</p>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function VersionsCard({ view }: { view: PortalView }) {
  return (
    <section className="card" aria-labelledby="versions-h">
      <h2 id="versions-h">Versions per server</h2>
      <table className="grid versions">
        <thead>
          <tr>
            <th scope="col">Server</th>
            <th scope="col">{view.service} version</th>
          </tr>
        </thead>
        <tbody>
          {view.versions.map((v) => (
            <tr key={v.server} data-server={v.server} data-edition={v.edition}>
              <td className="mono">{v.server}</td>
              <td>
                {v.edition || <span className="muted">—</span>}
                {v.edition === view.toEdition ? <span className="badge tone-ok">new</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
