'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { LogLine, RollbackMethod, RollbackOption, RunView, WatchEvent } from '../api-types';
import { errorInfo } from '../errors';
import {
  applyWatchEvent,
  clockTime,
  logTone,
  NO_LOG_FILTERS,
  watchInput,
  type LogFilters,
} from '../logs-model';
import { errorIssues, type Issue } from '../planner-model';
import { runControls } from '../run-controls';
import { consoleClient } from '../trpc-client';
import { currentStep, formatTime, stepEvidence } from '../view-model';
import { useNow, usePolled } from './hooks';
import { IssueList } from './issue-list';
import { RunChart } from './run-chart';
import { RunPanel } from './run-panel';
import { StepTimeline } from './step-timeline';
import { TrafficCard } from './traffic-chart';
import { PortalLinkCard } from './portal-link-card';
import { NeedsRole, useCan } from './session-context';

const RECORD_TONE = { met: 'ok', waived: 'warn', failed: 'bad', unmet: 'idle' } as const;

type Live = 'connecting' | 'live' | 'ended' | 'error';

export function LiveRunPage({ runId }: { runId: string }) {
  const client = consoleClient();
  const now = useNow();
  const canOperate = useCan('operator');
  const [state, setState] = useState<{ view: RunView | null; logs: LogLine[] }>({ view: null, logs: [] });
  const [filters, setFilters] = useState<LogFilters>(NO_LOG_FILTERS);
  const [live, setLive] = useState<Live>('connecting');
  const [subError, setSubError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const input = watchInput(runId, filters);
  const inputKey = JSON.stringify(input);

  // The live view: one SSE subscription; new filters (or a retry) open a new one from the start.
  useEffect(() => {
    setState((s) => ({ view: s.view, logs: [] }));
    setLive('connecting');
    const sub = client.upgrade.watch.subscribe(JSON.parse(inputKey) as typeof input, {
      onStarted: () => {
        setLive('live');
        setSubError(null);
      },
      onData: (event) => {
        setLive('live');
        setState((s) => applyWatchEvent(s, event as unknown as WatchEvent));
      },
      onError: (err) => {
        setLive('error');
        setSubError(errorInfo(err).message);
      },
      onComplete: () => setLive('ended'),
    });
    return () => sub.unsubscribe();
  }, [client, inputKey, attempt]);

  // A failed subscription is retried after a pause (the coordinator may be restarting).
  useEffect(() => {
    if (live !== 'error') return;
    const t = setTimeout(() => setAttempt((a) => a + 1), 3000);
    return () => clearTimeout(t);
  }, [live]);

  const view = state.view;
  const evidence = usePolled(
    () => client.upgrade.evidence.query({ runId }),
    5000,
    `${runId}:${view?.run.version ?? 0}`,
  );
  const onView = (v: RunView) => setState((s) => (v.run.id === runId ? { ...s, view: v } : s));

  if (!view) {
    return (
      <section className="card">
        <h2>Run {runId}</h2>
        {subError ? (
          <div className="alert alert-bad" role="alert">
            {subError}
          </div>
        ) : (
          <p className="empty">Connecting to the live view…</p>
        )}
      </section>
    );
  }
  const cur = view.run.status === 'succeeded' ? null : currentStep(view);
  return (
    <>
      <section className="card" aria-labelledby="run-h" data-live={live}>
        <div className="card-head">
          <h2 id="run-h">Live run</h2>
          <span className={`live live-${live}`} title={subError ?? undefined}>
            <span className="pulse" aria-hidden="true" />
            {live === 'live'
              ? 'live'
              : live === 'ended'
                ? 'run ended · final'
                : live === 'error'
                  ? 'reconnecting…'
                  : 'connecting…'}
          </span>
        </div>
        <RunPanel view={view} now={now} />
        <ProposalBanner view={view} onView={onView} canDecide={canOperate} />
        {canOperate ? (
          <Controls view={view} onView={onView} />
        ) : (
          <NeedsRole role="operator" what="Pausing, resuming, signing off or rolling back" />
        )}
        <h3>Timeline</h3>
        <RunChart steps={view.steps} currentIndex={cur ? cur.index : null} />
      </section>

      <TrafficCard cluster={view.run.plan.cluster} />

      {canOperate ? <PortalLinkCard runId={view.run.id} /> : null}

      <div className="two-col">
        <LogsPanel view={view} logs={state.logs} filters={filters} onFilters={setFilters} />
        <section className="card" aria-labelledby="evidence-h">
          <h2 id="evidence-h">Readiness and evidence</h2>
          {evidence.error ? <div className="alert alert-warn">{evidence.error}</div> : null}
          {evidence.data ? (
            <>
              <table className="grid readiness">
                <thead>
                  <tr>
                    <th scope="col">Gate</th>
                    <th scope="col">Status</th>
                    <th scope="col">By / when</th>
                  </tr>
                </thead>
                <tbody>
                  {evidence.data.readiness.map((g) => (
                    <tr key={g.gate} data-gate={g.gate}>
                      <td className="mono">
                        {g.gate}
                        {g.required ? '' : <span className="muted"> (optional)</span>}
                      </td>
                      <td>
                        <span className={`badge tone-${RECORD_TONE[g.status]}`}>{g.status}</span>
                        {g.reason ? <div className="small muted">{g.reason}</div> : null}
                      </td>
                      <td className="small">
                        {g.by ?? <span className="muted">automatic</span>}
                        {g.at ? <div className="muted">{formatTime(g.at)}</div> : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <h3>Recorded results</h3>
              {evidence.data.steps.every((s) => s.results.length === 0) ? (
                <p className="empty small">
                  No recorded results yet: functionality tests, backups and snapshots record theirs here.
                </p>
              ) : null}
              <ul className="evidence-steps">
                {evidence.data.steps
                  .filter((s) => s.results.length > 0)
                  .map((s) => {
                    const { ok, actions, rows } = stepEvidence(s);
                    return (
                      <li key={s.index} data-evidence-step={s.key}>
                        <span className="step-no">{s.index + 1}</span> {s.title}{' '}
                        <span className={`badge tone-${ok === actions ? 'ok' : 'warn'}`}>
                          {ok}/{actions} ok
                        </span>
                        <ul className="evidence-results">
                          {rows.map((r, i) => (
                            <li key={`${r.actionId}.${i}`} data-action={r.actionId} data-result-kind={r.kind}>
                              <span className="mono">{r.serverId}</span> {r.text}
                            </li>
                          ))}
                        </ul>
                      </li>
                    );
                  })}
              </ul>
            </>
          ) : (
            <p className="empty">Loading…</p>
          )}
        </section>
      </div>

      <section className="card" aria-labelledby="steps-h">
        <details>
          <summary>
            <h2 id="steps-h" className="inline">
              Steps in detail
            </h2>
          </summary>
          <StepTimeline steps={view.steps} now={now} />
        </details>
      </section>
    </>
  );
}

function useAction(onView: (v: RunView) => void) {
  const [busy, setBusy] = useState<string | null>(null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const run = async (name: string, fn: () => Promise<RunView | void>) => {
    setBusy(name);
    setIssues([]);
    try {
      const v = await fn();
      if (v) onView(v);
    } catch (err) {
      setIssues(errorIssues(err));
    } finally {
      setBusy(null);
    }
  };
  return { busy, issues, run };
}

function ProposalBanner({
  view,
  onView,
  canDecide,
}: {
  view: RunView;
  onView: (v: RunView) => void;
  canDecide: boolean;
}) {
  const p = view.run.proposal;
  const { busy, issues, run } = useAction(onView);
  const [comment, setComment] = useState('');
  if (!p || p.status !== 'awaiting') return null;
  const decide = (decision: 'authorise' | 'decline') =>
    run(decision, () =>
      consoleClient().upgrade.decideRollback.mutate({ runId: view.run.id, decision, comment }),
    );
  return (
    <div className="alert alert-warn proposal" role="alert" data-proposal={p.method}>
      <strong>Rollback proposed:</strong> {p.method}, about {p.estimateMinutes} min. {p.reason}
      {canDecide ? null : <NeedsRole role="operator" what="Authorising or declining it" />}
      <div className="actions" hidden={!canDecide}>
        <input
          placeholder="comment (optional)"
          value={comment}
          onChange={(e) => setComment(e.target.value)}
        />
        <button className="btn btn-danger" disabled={busy !== null} onClick={() => void decide('authorise')}>
          Authorise rollback
        </button>
        <button className="btn" disabled={busy !== null} onClick={() => void decide('decline')}>
          Decline
        </button>
      </div>
      <IssueList issues={issues} title="Refused" />
    </div>
  );
}

function Controls({ view, onView }: { view: RunView; onView: (v: RunView) => void }) {
  const router = useRouter();
  const client = consoleClient();
  const c = runControls(view);
  const runId = view.run.id;
  const { busy, issues, run } = useAction(onView);
  const [comment, setComment] = useState('');
  const [confirmAbort, setConfirmAbort] = useState(false);
  const [reason, setReason] = useState('');
  const [options, setOptions] = useState<RollbackOption[] | null>(null);
  const [method, setMethod] = useState<RollbackMethod | ''>('');

  const loadOptions = () =>
    run('options', async () => {
      const opts = await client.upgrade.rollbackOptions.query({ runId });
      setOptions(opts);
      setMethod(
        opts.find((o) => o.recommended && o.applicable)?.method ??
          opts.find((o) => o.applicable)?.method ??
          '',
      );
    });
  const rollback = () =>
    run('rollback', async () => {
      const v = await client.upgrade.rollback.mutate({
        runId,
        ...(method ? { method } : {}),
        ...(reason.trim() ? { reason: reason.trim() } : {}),
      });
      setOptions(null);
      if (v.run.id !== runId) router.push(`/runs/${encodeURIComponent(v.run.id)}`);
      else return v;
    });

  const nothing =
    !c.pause && !c.resume && !c.abort && !c.signOff && !c.rollback && c.drainingServers.length === 0;
  if (nothing) return null;
  return (
    <div className="controls" aria-label="run controls">
      {c.signOff ? (
        <div className="signoff" data-signoff="waiting">
          <h3>Customer verification and sign-off</h3>
          <p className="muted">
            The customer verified the service? Approve to complete the run (full service restored), or reject
            it to leave it for a rollback.
          </p>
          <textarea
            name="signoff-comment"
            placeholder="comment (recorded in the audit log)"
            value={comment}
            onChange={(e) => setComment(e.target.value)}
            rows={2}
          />
          <div className="actions">
            <button
              className="btn btn-primary"
              name="approve"
              disabled={busy !== null}
              onClick={() =>
                void run('approve', () =>
                  client.upgrade.signOff.mutate({ runId, decision: 'approve', comment }),
                )
              }
            >
              Approve sign-off
            </button>
            <button
              className="btn btn-danger"
              name="reject"
              disabled={busy !== null}
              onClick={() =>
                void run('reject', () =>
                  client.upgrade.signOff.mutate({ runId, decision: 'reject', comment }),
                )
              }
            >
              Reject
            </button>
          </div>
        </div>
      ) : null}

      {c.failedStep ? (
        <div className="guided" data-guided-failure={c.failedStep.index}>
          <h3>
            Step {c.failedStep.index + 1} failed: {c.failedStep.title}
          </h3>
          {c.failedStep.error ? <p className="bad-text">{c.failedStep.error}</p> : null}
          <div className="actions">
            <button
              className="btn btn-primary"
              disabled={busy !== null}
              onClick={() => void run('resume', () => client.upgrade.resume.mutate({ runId }))}
            >
              Retry step
            </button>
            {c.failedServers.map((s) => (
              <span key={s} className="btn-group">
                <button
                  className="btn"
                  disabled={busy !== null}
                  onClick={() =>
                    void run(`skip-${s}`, () => client.upgrade.skipServer.mutate({ runId, serverId: s }))
                  }
                >
                  Skip {s} on this step
                </button>
                <button
                  className="btn"
                  disabled={busy !== null}
                  onClick={() =>
                    void run(`exclude-${s}`, () => client.upgrade.exclude.mutate({ runId, serverId: s }))
                  }
                >
                  Exclude {s} from the run
                </button>
              </span>
            ))}
          </div>
        </div>
      ) : null}

      {c.drainingServers.length > 0 ? (
        <div className="actions">
          <span className="muted">Draining:</span>
          {c.drainingServers.map((s) => (
            <button
              key={s}
              className="btn btn-quiet"
              disabled={busy !== null}
              onClick={() =>
                void run(`drain-${s}`, () => client.upgrade.skipDrain.mutate({ runId, serverId: s }))
              }
            >
              End drain on {s}
            </button>
          ))}
        </div>
      ) : null}

      <div className="actions">
        {c.pause ? (
          <button
            className="btn"
            name="pause"
            disabled={busy !== null}
            onClick={() => void run('pause', () => client.upgrade.pause.mutate({ runId }))}
          >
            Pause
          </button>
        ) : null}
        {c.resume && !c.failedStep ? (
          <button
            className="btn btn-primary"
            name="resume"
            disabled={busy !== null}
            onClick={() => void run('resume', () => client.upgrade.resume.mutate({ runId }))}
          >
            Resume
          </button>
        ) : null}
        {c.rollback && options === null ? (
          <button
            className="btn btn-danger"
            name="rollback"
            disabled={busy !== null}
            onClick={() => void loadOptions()}
          >
            Roll back…
          </button>
        ) : null}
        {c.abort && !confirmAbort ? (
          <button
            className="btn btn-quiet"
            name="abort"
            disabled={busy !== null}
            onClick={() => setConfirmAbort(true)}
          >
            Abort…
          </button>
        ) : null}
        {confirmAbort && c.abort ? (
          <span className="confirm">
            <input placeholder="reason" value={reason} onChange={(e) => setReason(e.target.value)} />
            <button
              className="btn btn-danger"
              disabled={busy !== null}
              onClick={() =>
                void run('abort', async () => {
                  const v = await client.upgrade.abort.mutate({
                    runId,
                    ...(reason.trim() ? { reason: reason.trim() } : {}),
                  });
                  setConfirmAbort(false);
                  return v;
                })
              }
            >
              Abort the run
            </button>
            <button className="btn btn-quiet" onClick={() => setConfirmAbort(false)}>
              Keep running
            </button>
          </span>
        ) : null}
      </div>

      {options ? (
        <div className="rollback-options">
          <h3>Roll back: choose a method</h3>
          <ul>
            {options.map((o) => (
              <li key={o.method} className={o.applicable ? '' : 'muted'}>
                <label>
                  <input
                    type="radio"
                    name="rollback-method"
                    value={o.method}
                    disabled={!o.applicable}
                    checked={method === o.method}
                    onChange={() => setMethod(o.method)}
                  />{' '}
                  <strong>{o.method}</strong> · about {o.estimateMinutes} min
                  {o.recommended ? <span className="badge tone-ok">recommended</span> : null}
                  <div className="small muted">{o.why}</div>
                </label>
              </li>
            ))}
          </ul>
          <div className="actions">
            <input
              placeholder="reason (audited)"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
            <button
              className="btn btn-danger"
              disabled={busy !== null || !method}
              onClick={() => void rollback()}
            >
              Start rollback
            </button>
            <button className="btn btn-quiet" onClick={() => setOptions(null)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      <IssueList issues={issues} title="The coordinator refused" />
    </div>
  );
}

function LogsPanel(props: {
  view: RunView;
  logs: LogLine[];
  filters: LogFilters;
  onFilters: (f: LogFilters) => void;
}) {
  const { view, logs, filters, onFilters } = props;
  const [code, setCode] = useState(filters.code);
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const servers = useMemo(
    () => [...new Set(view.run.plan.groups.flatMap((g) => g.servers.map((s) => s.id)))].sort(),
    [view.run.plan.groups],
  );
  useEffect(() => {
    const t = setTimeout(() => {
      if (code !== filters.code) onFilters({ ...filters, code });
    }, 300);
    return () => clearTimeout(t);
  }, [code, filters, onFilters]);
  // Follow the tail unless the operator scrolled up to read.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [logs]);
  return (
    <section className="card" aria-labelledby="logs-h">
      <div className="card-head">
        <h2 id="logs-h">Logs</h2>
        <span className="muted" data-log-count={logs.length}>
          {logs.length} line{logs.length === 1 ? '' : 's'}
        </span>
      </div>
      <div className="filters">
        <label>
          Server
          <select
            name="log-server"
            value={filters.serverId}
            onChange={(e) => onFilters({ ...filters, serverId: e.target.value })}
          >
            <option value="">all</option>
            {servers.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Step
          <select
            name="log-step"
            value={filters.stepIndex}
            onChange={(e) => onFilters({ ...filters, stepIndex: e.target.value })}
          >
            <option value="">all</option>
            {view.steps.map((s) => (
              <option key={s.index} value={String(s.index)}>
                {s.index + 1}. {s.title}
              </option>
            ))}
          </select>
        </label>
        <label>
          Code
          <input
            name="log-code"
            placeholder="RG0111I"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            size={9}
          />
        </label>
      </div>
      <div
        className="logs"
        ref={box}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {logs.length === 0 ? (
          <p className="empty pad">
            No log lines
            {filters.serverId || filters.stepIndex || filters.code ? ' match these filters' : ' yet'}.
          </p>
        ) : null}
        <ol>
          {logs.map((l) => (
            <li key={l.id} className={`log tone-${logTone(l.level)}`} data-log-id={l.id} data-code={l.code}>
              <span className="log-time">{clockTime(l.at)}</span>
              <span className="log-code">{l.code}</span>
              <span className="log-where">
                {l.serverId ?? l.source}
                {l.stepIndex !== null ? ` #${l.stepIndex + 1}` : ''}
              </span>
              <span className="log-msg">{l.message}</span>
            </li>
          ))}
        </ol>
      </div>
      <p className="small muted">
        Times in UTC. <Link href="/runs">All runs</Link>
      </p>
    </section>
  );
}
